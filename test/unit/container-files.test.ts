/** The host-side readers of issue 16: the tar of Docker's archive API, docker top's processes, bounded batch output. */
import { describe, expect, it } from 'vitest';
import { TarReader } from '../../src/docker/container-files.js';
import { tarOf } from '../../src/docker/probe-container.js';
import { parseBatch } from '../../src/pg/probe-transport.js';
import { postmasterChildren, walSenders, type ProcessLine } from '../../src/pg/ps.js';

/** A PAX extended header (type x) carrying a long path, as Go's archive/tar writes for Docker. */
function paxHeader(pathName: string): Buffer {
  const rec = (k: string, v: string) => {
    const body = ` ${k}=${v}\n`;
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    return `${len}${body}`;
  };
  const data = Buffer.from(rec('path', pathName));
  const tar = tarOf([{ name: 'PaxHeaders/x', content: data }]);
  tar.write('x', 156, 'latin1');
  // Fix the checksum after changing the type flag.
  tar.write('        ', 148, 'latin1');
  let sum = 0;
  for (const b of tar.subarray(0, 512)) sum += b;
  tar.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return tar.subarray(0, tar.length - 1024); // without the end-of-archive blocks
}

describe('TarReader', () => {
  it('reads names, sizes, directories and keeps only the first bytes of each file, in chunks of any size', () => {
    const big = Buffer.alloc(100_000, 7);
    const tar = tarOf([{ name: 'main/', content: Buffer.alloc(0), dir: true }, { name: 'main/pg_control', content: big }, { name: 'main/PG_VERSION', content: Buffer.from('9.1\n') }]);
    const reader = new TarReader(8192);
    for (let at = 0; at < tar.length; at += 333) reader.push(tar.subarray(at, at + 333));
    expect(reader.ended).toBe(true);
    expect(reader.entries.map((e) => [e.name, e.type, e.size, e.data.length])).toEqual([
      ['main', 'd', 0, 0], ['main/pg_control', 'f', 100_000, 8192], ['main/PG_VERSION', 'f', 4, 4],
    ]);
    expect(reader.entries[2].data.toString()).toBe('9.1\n');
  });

  it('takes the path of a PAX header (long names)', () => {
    const long = `wal_archive/${'0'.repeat(150)}`;
    const tar = Buffer.concat([paxHeader(long), tarOf([{ name: 'short', content: Buffer.from('x') }])]);
    const reader = new TarReader(10);
    reader.push(tar);
    expect(reader.entries.map((e) => e.name)).toEqual([long]);
  });

  it('lists an entry as soon as its header arrives, so a reader can stop before a big file streams', () => {
    const tar = tarOf([{ name: 'seg', content: Buffer.alloc(16 * 1024 * 1024) }]);
    const reader = new TarReader(8192);
    reader.push(tar.subarray(0, 512 + 8192));
    expect(reader.entries).toHaveLength(1);
    expect(reader.lastComplete()).toBe(true);
    expect(reader.entries[0].size).toBe(16 * 1024 * 1024);
  });
});

describe('postmasterChildren (docker top: pid, ppid, executable name)', () => {
  const procs: ProcessLine[] = [
    { pid: 10, ppid: 1, comm: 'tini', args: '/usr/bin/tini -- /usr/local/sbin/pglab-init' },
    { pid: 20, ppid: 10, comm: 'postgres', args: '/usr/lib/postgresql/9.1/bin/postgres -D /var/lib/postgresql/9.1/main' },
    { pid: 21, ppid: 20, comm: 'postgres', args: 'postgres: wal sender process postgres 10.0.0.11(40000) streaming 0/3000000' },
    // `exec -a` gives any title, not the postmaster as parent nor the executable's name.
    { pid: 30, ppid: 10, comm: 'sleep', args: 'postgres: wal sender process postgres 10.0.0.11(40001) streaming 0/9000000' },
    { pid: 31, ppid: 10, comm: 'bash', args: 'bash' },
    { pid: 32, ppid: 31, comm: 'sleep', args: 'postgres: wal sender process postgres 10.0.0.11(40002) streaming 0/9000000' },
  ];

  it('keeps only what a postmaster forked', () => {
    expect(postmasterChildren(procs).map((p) => p.pid)).toEqual([21]);
    expect(walSenders(postmasterChildren(procs)).map((s) => s.clientPort)).toEqual([40000]);
  });

  it('leaves ps listings without ppid as they are (fixtures)', () => {
    const plain = procs.map(({ pid, args }) => ({ pid, args }));
    expect(postmasterChildren(plain)).toHaveLength(plain.length);
  });
});

describe('parseBatch with bounded output', () => {
  it('reads the truncation flag of each probe', () => {
    const out = Buffer.concat([Buffer.from('\x1e0 0 3 0 1\nabc'), Buffer.from('\x1e1 0 2 0 0\nok')]);
    const parts = parseBatch(out);
    expect(parts.get(0)).toMatchObject({ exitCode: 0, truncated: true });
    expect(parts.get(0)!.stdout.toString()).toBe('abc');
    expect(parts.get(1)!.truncated).toBeUndefined();
  });
});
