/** Issue 18: hand-ins verify (truncated, edited, another lab or version are refused), and the replay answers as recorded. */
import { describe, expect, it } from 'vitest';
import { HANDIN_MEMBERS, labDigest, packHandin, pglabVersion, problemText, verifyHandin, type HandinManifest } from '../../src/handin/handin.js';
import { decodeValue, encodeValue, hostKey, questionKey, ReplayProbes, type ProbeLog } from '../../src/handin/replay.js';
import { signLine } from '../../src/observer/records.js';
import { writeTar } from '../../src/docker/tar.js';
import { readTar } from '../../src/handin/tar.js';
import { setLang } from '../../src/i18n/index.js';
import { fakeEnv } from './support/fake-env.js';

const env = fakeEnv('15');
const log: ProbeLog = { calls: {}, nonces: { 'rows-replicated': ['a1b2c3d4e5f60718'] } };
const base = (): Omit<HandinManifest, 'schema' | 'files' | 'digest'> => ({
  pglab: pglabVersion(), lab: 'wal-streaming', labDigest: labDigest('wal-streaming'), pg: '15',
  env: { name: env.name, lab: env.lab, pg: env.pg, subnet: env.subnet, created: '2026-12-04T10:00:00.000Z', image: '', servers: env.servers },
  envIdentity: 'abc', student: { legajo: '150001' }, submittedAt: '2026-12-04T19:00:00.000Z',
});
const members = () => [
  { name: HANDIN_MEMBERS.probes, data: Buffer.from(JSON.stringify(log)) },
  { name: HANDIN_MEMBERS.facts, data: Buffer.from(JSON.stringify({ servers: {}, archive: [] })) },
];
const reason = (b: Buffer) => { const r = verifyHandin(b); return r.ok ? 'ok' : r.problem.reason; };

describe('hand-in verification', () => {
  setLang('es');
  it('a hand-in as lab submit writes it verifies', () => {
    const r = verifyHandin(packHandin(base(), members()));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.log.nonces['rows-replicated']).toEqual(['a1b2c3d4e5f60718']);
  });

  it('truncated anywhere: refused as truncated, never graded', () => {
    const tar = packHandin(base(), members());
    for (const cut of [100, 512, 1024, tar.length - 1024, tar.length - 512, tar.length - 1]) expect(reason(tar.subarray(0, cut)), `cut at ${cut}`).toMatch(/truncated|damaged/);
    expect(reason(Buffer.from('hola'))).toBe('truncated');
    expect(reason(Buffer.alloc(2048, 7))).toBe('not-tar');
  });

  it('a member edited after lab submit (a byte of probes.json) is named', () => {
    const tar = Buffer.from(packHandin(base(), members()));
    const { members: m } = readTar(tar) as { members: Map<string, Buffer> };
    const probes = m.get('probes.json')!;
    probes[probes.indexOf('a1b2'.charCodeAt(0))] = 'f'.charCodeAt(0);
    const r = verifyHandin(tar);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problem).toEqual({ reason: 'edited', member: 'probes.json' });
      expect(problemText(r.problem)).toBe('probes.json fue modificado después de `lab submit` (su suma sha256 no coincide)');
    }
  });

  it('an edited manifest (another legajo), an extra member, a missing manifest are refused', () => {
    const tar = packHandin(base(), members());
    const { members: m } = readTar(tar) as { members: Map<string, Buffer> };
    const manifest = JSON.parse(m.get('pglab-handin.json')!.toString());
    manifest.student.legajo = '150002';
    const again = (man: unknown, extra: { name: string; data: Buffer }[] = []) => writeTar([{ name: 'pglab-handin.json', data: Buffer.from(JSON.stringify(man)) }, ...members(), ...extra]);
    expect(reason(again(manifest))).toBe('manifest-edited');
    manifest.student.legajo = '150001';
    expect(reason(again(manifest))).toBe('ok');
    expect(reason(again(manifest, [{ name: 'verdicts.json', data: Buffer.from('{"score":54}') }]))).toBe('extra');
    expect(reason(writeTar(members()))).toBe('no-manifest');
  });

  it('another pglab version or another definition of the lab is refused, saying which', () => {
    const r = verifyHandin(packHandin({ ...base(), pglab: '0.0.1' }, members()));
    expect(r.ok ? '' : problemText(r.problem)).toBe(`se hizo con pglab 0.0.1 y esta es la ${pglabVersion()}: corregila con la misma versión`);
    expect(reason(packHandin({ ...base(), labDigest: 'x' }, members()))).toBe('other-lab');
    expect(reason(packHandin({ ...base(), lab: 'no-such-lab' }, members()))).toBe('other-lab');
  });
});

describe('replay', () => {
  it('answers as recorded: in order for a repeated question, then the last again; misses are counted', async () => {
    const argv = ['psql', '-c', 'SELECT 1'];
    const key = questionKey('maestro', argv, {});
    const answer = (out: string) => ({ exitCode: 0, stdout: Buffer.from(out).toString('base64'), stderr: '', ms: 1 });
    const probes = new ReplayProbes(env, { calls: { [key]: [answer('no'), answer('sí')] }, nonces: { x: ['n1'] } });
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await probes.exec('maestro', argv)).stdout.toString());
    expect(got).toEqual(['no', 'sí', 'sí']);
    expect(probes.nonce('x')).toBe('n1');
    await expect(probes.exec('esclavo', argv)).rejects.toThrow(/no recorded answer/);
    expect(probes.nonce('x')).toBe('pglab-no-recorded-nonce');
    expect(probes.misses).toHaveLength(2);
  });

  it('a recorded failure is the same failure again (a stopped server)', async () => {
    const key = questionKey('esclavo', ['ps'], { user: 'root' });
    const probes = new ReplayProbes(env, { calls: { [key]: [{ ms: 1, error: { kind: 'down', role: 'esclavo' } }] }, nonces: {} });
    await expect(probes.exec('esclavo', ['ps'], { user: 'root' })).rejects.toMatchObject({ role: 'esclavo' });
  });
});

describe('hand-ins carry the observer and the host-side facts', () => {
  const KEY = 'a'.repeat(64);
  const lines = [{ n: 1, at: 1, t: 'start' }, { n: 2, at: 2, t: 'server', role: 'maestro', up: 1, rec: 'f', tli: 1, sysid: '1' }].map((r) => signLine(KEY, r as Record<string, string | number>)).join('');
  const withObserver = (log: string, key = KEY) => packHandin(base(), [...members(), { name: 'observer/records.log', data: Buffer.from(log) }, { name: 'observer/key', data: Buffer.from(key) }]);

  it('the graders get the observation of the records themselves, verified line by line', () => {
    const r = verifyHandin(withObserver(lines));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const observation = decodeValue(r.log.host![hostKey('observation', [])][0].value) as { records: unknown[]; tampered: number };
    expect(observation.records).toHaveLength(2);
    expect(observation.tampered).toBe(0);
  });

  it('a record changed by hand (sums of the manifest recomputed) does not verify: refused, naming it', () => {
    const edited = lines.replace('"tli":1', '"tli":2');
    const r = verifyHandin(withObserver(edited));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toEqual({ reason: 'observer', member: 'observer/records.log' });
    expect(reason(withObserver(lines, 'not-a-key'))).toBe('observer');
  });

  it('host-side answers (archive reads with bytes, maps) replay as recorded; one not recorded is a miss', async () => {
    const archive = { entries: [{ name: 'pg_control', type: 'f', size: 8, mode: 0o600, uid: 101, mtime: 1, linkname: '', data: Buffer.from('01234567') }], truncated: false };
    const md5s = new Map([['openssh-server', new Map([['/usr/sbin/sshd', 'abc']])]]);
    const recorded: ProbeLog = {
      calls: {}, nonces: {},
      host: { [hostKey('archive', ['maestro', '/x', { stopAfter: 1 }])]: [{ value: encodeValue(archive) }], [hostKey('package-md5s', [['openssh-server']])]: [{ value: encodeValue(md5s) }] },
    };
    const replay = new ReplayProbes(env, JSON.parse(JSON.stringify(recorded)) as ProbeLog);
    const read = await (replay as unknown as { readArchiveOf: (r: string, p: string, l: object) => Promise<typeof archive> }).readArchiveOf('maestro', '/x', { stopAfter: 1 });
    expect(read.entries[0].data.toString()).toBe('01234567');
    expect(await replay.packageMd5s(['openssh-server'])).toEqual(md5s);
    await expect((replay as unknown as { topOf: (r: string) => Promise<unknown> }).topOf('maestro')).rejects.toThrow();
    expect(replay.misses).toHaveLength(1);
  });
});
