import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hasStartupRecovering, parsePsList, walReceivers, walSenders } from '../../src/pg/ps.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/fixtures/pg91');
const fx = (name: string) => readFileSync(path.join(FIX, name), 'utf8');
const procs = (name: string) => parsePsList(fx(name));

// The English and Spanish runs differ only in PIDs and client ports.
const RUNS = [
  { dir: '', senderPid: 600, port: 54398, receiverPid: 916 },
  { dir: 'es/', senderPid: 620, port: 58764, receiverPid: 912 },
];

describe.each(RUNS)('9.1 captures in "$dir"', ({ dir, senderPid, port, receiverPid }) => {
  it('ps -ef | grep sender (no header): one streaming wal sender, grep dropped', () => {
    const list = procs(`${dir}ps-wal-sender.txt`);
    expect(list).toHaveLength(1);
    expect(walSenders(list)).toEqual([{ pid: senderPid, user: 'postgres', clientAddr: '10.91.1.11', clientPort: port, state: 'streaming', lsn: '0/4000078' }]);
  });

  it('ps -ef | grep receiver: one streaming wal receiver', () => {
    expect(walReceivers(procs(`${dir}ps-wal-receiver.txt`))).toEqual([{ pid: receiverPid, state: 'streaming', lsn: '0/4000078' }]);
  });

  it('ps -ef on the streaming maestro', () => {
    const list = procs(`${dir}ps-ef-maestro-streaming.txt`);
    expect(list).toHaveLength(13);
    expect(list[0]).toEqual({ pid: 1, args: '/usr/bin/tini -- /usr/local/sbin/pglab-init' });
    expect(list.find((p) => p.args.startsWith('postgres: writer'))?.args).toBe('postgres: writer process'); // trailing spaces trimmed
    expect(walSenders(list).map((s) => s.pid)).toEqual([senderPid]);
    expect(walReceivers(list)).toEqual([]);
    expect(hasStartupRecovering(list)).toBe(false);
  });

  it('ps -ef on the standby esclavo', () => {
    const list = procs(`${dir}ps-ef-esclavo-standby.txt`);
    expect(walReceivers(list)).toEqual([{ pid: receiverPid, state: 'streaming', lsn: '0/4000078' }]);
    expect(walSenders(list)).toEqual([]);
    expect(hasStartupRecovering(list)).toBe(true);
  });

  it('ps -ef on the promoted esclavo: no startup, no receiver', () => {
    const list = procs(`${dir}ps-ef-esclavo-promoted.txt`);
    expect(walReceivers(list)).toEqual([]);
    expect(hasStartupRecovering(list)).toBe(false);
    // "wal writer process" is not a wal sender/receiver.
    expect(list.some((p) => p.args === 'postgres: wal writer process')).toBe(true);
    expect(walSenders(list)).toEqual([]);
  });

  it('maestro after promotion: only the grep line, so no wal sender', () => {
    expect(procs(`${dir}ps-wal-sender-after-promotion.txt`)).toEqual([]);
  });
});

describe('modern titles (13/15/17) and ps -eo pid=,args=', () => {
  const text = [
    '    1 /usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main -c config_file=/etc/postgresql/15/main/postgresql.conf',
    '   25 postgres: 15/main: checkpointer ',
    '   31 postgres: 15/main: archiver last was 000000010000000000000003',
    '   40 postgres: 15/main: walsender postgres 10.0.0.2(43578) streaming 0/4000000',
    '   41 postgres: 15/main: walsender replicator 10.0.0.3(50000) START_REPLICATION',
    '   42 postgres: walsender postgres [local] catchup 0/3000000',
    '   43 postgres: 17/main: walsender postgres 10.0.0.4(1234) startup',
    '   50 postgres: 15/main: walreceiver streaming 0/4000000',
    '   51 postgres:   15/standby:   walreceiver   ',
    '   60 postgres: 15/standby: startup recovering 000000010000000000000003',
    '   77 grep walsender',
  ].join('\n');
  const list = parsePsList(text);

  it('parses pid and args, dropping grep', () => {
    expect(list).toHaveLength(10);
    expect(list[1]).toEqual({ pid: 25, args: 'postgres: 15/main: checkpointer' });
  });

  it('walSenders', () => {
    expect(walSenders(list)).toEqual([
      { pid: 40, user: 'postgres', clientAddr: '10.0.0.2', clientPort: 43578, state: 'streaming', lsn: '0/4000000' },
      { pid: 41, user: 'replicator', clientAddr: '10.0.0.3', clientPort: 50000, state: 'START_REPLICATION' },
      { pid: 42, user: 'postgres', clientAddr: '[local]', state: 'catchup', lsn: '0/3000000' },
      { pid: 43, user: 'postgres', clientAddr: '10.0.0.4', clientPort: 1234, state: 'startup' },
    ]);
  });

  it('walReceivers and startup', () => {
    expect(walReceivers(list)).toEqual([{ pid: 50, state: 'streaming', lsn: '0/4000000' }, { pid: 51, state: '' }]);
    expect(hasStartupRecovering(list)).toBe(true);
    expect(hasStartupRecovering(parsePsList('9 postgres: startup process   waiting for 000000010000000000000005'))).toBe(true);
    expect(hasStartupRecovering(parsePsList('9 postgres: startup process   '))).toBe(false);
  });

  it('accepts a "PID COMMAND" header, ps -ef with a header and day-long TIME', () => {
    expect(parsePsList('    PID COMMAND\n  600 postgres: wal sender process postgres 10.91.1.11(1) streaming 0/1')).toHaveLength(1);
    const ef = 'UID PID PPID C STIME TTY TIME CMD\npostgres 600 583 0 Nov26 ? 1-02:03:04 postgres: wal receiver process   streaming 0/28000000\n';
    expect(walReceivers(parsePsList(ef))).toEqual([{ pid: 600, state: 'streaming', lsn: '0/28000000' }]);
    expect(parsePsList('')).toEqual([]);
  });
});
