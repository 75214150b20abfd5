import { describe, expect, it } from 'vitest';
import { observerGroups } from '../../src/observer/observer.js';
import { archivedSegments, mergeObservations, periods, promotions, signLine, solvedSteps, streaming, verifyRecords } from '../../src/observer/records.js';
import { profileFor } from '../../src/pg/profile.js';

const KEY = 'a'.repeat(64);
const SYS = '7715527192756609019';
const OTHER = '7715527192756567995';
const IP = '10.213.1.11';

function log(records: Record<string, string | number | undefined>[]): string {
  return records.map((r, i) => signLine(KEY, { n: i + 1, ...r })).join('');
}

const server = (at: number, role: string, f: Record<string, string | number>) => ({
  at, t: 'server', role, up: 1, rec: 'f', tli: 1, sysid: SYS, snd: '', wr: '', arch: 0, lsn: '0/3000000', rcv: '', cstate: 'in production', ...f,
});

/** maestro, esclavo a streaming standby of it, then promoted on timeline 2. */
const HONEST = [
  { at: 100, t: 'start' },
  server(100, 'maestro', {}),
  server(100, 'esclavo', { sysid: OTHER }),
  server(200, 'esclavo', { rec: 't', lsn: '0/3000000', cstate: 'in archive recovery' }),
  server(205, 'maestro', { snd: `${IP}/streaming/async` }),
  { at: 215, t: 'pos', role: 'esclavo', lsn: '0/3000200' },
  server(300, 'maestro', { snd: '' }),
  server(300, 'esclavo', { rec: 'f', tli: 2, lsn: '0/3000300' }),
];

describe('observer records', () => {
  it('verify: every line authenticated; an edited, unsigned or removed line is tampered, never believed', () => {
    const text = log(HONEST);
    expect(verifyRecords(text, KEY)).toMatchObject({ tampered: 0, full: false });
    expect(verifyRecords(text, KEY).records).toHaveLength(HONEST.length);
    const lines = text.trim().split('\n');
    const edited = [...lines];
    edited[4] = edited[4].replace(IP, '10.213.1.99');
    const v = verifyRecords(edited.join('\n'), KEY);
    expect(v.tampered).toBe(2); // the edited line, and the gap it leaves in the sequence
    expect(v.records.some((r) => String(r.snd).includes('10.213.1.99'))).toBe(false);
    const removed = verifyRecords([...lines.slice(0, 3), ...lines.slice(4)].join('\n'), KEY);
    expect(removed.tampered).toBe(1);
    const forged = verifyRecords(`${text}{"n":9,"at":400,"t":"solved"}\n{"n":10,"at":400,"t":"x"}\tnotamac\n`, KEY);
    expect(forged.tampered).toBe(2);
    expect(verifyRecords(text, 'b'.repeat(64)).records).toHaveLength(0); // another env's key
  });

  it('a standby of maestro that leaves recovery on a later timeline is a promotion; streaming periods are said with their end', () => {
    const obs = verifyRecords(log(HONEST), KEY);
    expect(promotions(obs, 'esclavo', IP)).toEqual([{ at: 300, fromTli: 1, toTli: 2, standbySince: 205 }]);
    expect(periods(obs, (m) => streaming(m, 'esclavo', IP))).toEqual([{ from: 205, to: 300 }]);
  });

  it('9.3+ leave recovery before the end-of-recovery checkpoint moves pg_control\'s timeline: still one promotion', () => {
    const fast = [...HONEST.slice(0, -1), server(300, 'esclavo', { rec: 'f', tli: 1 }), server(304, 'esclavo', { rec: 'f', tli: 2 })];
    expect(promotions(verifyRecords(log(fast), KEY), 'esclavo', IP)).toEqual([{ at: 304, fromTli: 1, toTli: 2, standbySince: 205 }]);
    // A standby file deleted by hand (out of recovery, same timeline), then an archive recovery of its own: not a promotion.
    const hand = [...HONEST.slice(0, -1), server(300, 'esclavo', { rec: 'f', tli: 1 }), server(400, 'esclavo', { rec: 't', tli: 1 }), server(404, 'esclavo', { rec: 'f', tli: 2 })];
    expect(promotions(verifyRecords(log(hand), KEY), 'esclavo', IP)).toEqual([]);
  });

  it('what a server that was not the image\'s PostgreSQL answered ("id":"bad") is authentic but not believed', () => {
    // A fake esclavo says "standby of maestro" between two gradings; the real one is then promoted.
    const faked = [
      ...HONEST.slice(0, 3),
      { ...server(200, 'esclavo', { rec: 't', lsn: '0/3000000', cstate: 'in archive recovery' }), id: 'bad' },
      { ...server(205, 'maestro', { snd: `${IP}/streaming/async` }), id: 'bad' },
      { ...server(300, 'esclavo', { rec: 'f', tli: 2, lsn: '0/3000300' }), id: 'ok' },
    ];
    const obs = verifyRecords(log(faked), KEY);
    expect(obs).toMatchObject({ tampered: 0, impostor: 2 });
    expect(promotions(obs, 'esclavo', IP)).toEqual([]);
    expect(periods(obs, (m) => streaming(m, 'esclavo', IP))).toEqual([]);
    // The same records said by the real servers: a promotion.
    expect(promotions(verifyRecords(log(faked.map((r) => ({ ...r, id: 'ok' }))), KEY), 'esclavo', IP)).toHaveLength(1);
  });

  it('a cold copy whose archive recovery just ends (restore_command = false) is not a promotion', () => {
    const cold = [
      { at: 100, t: 'start' },
      server(100, 'maestro', {}),
      server(150, 'esclavo', { rec: 't', lsn: '0/3000000' }), // seen in recovery for a moment, applying nothing
      server(154, 'esclavo', { rec: 'f', tli: 2, lsn: '0/3000100' }),
    ];
    expect(promotions(verifyRecords(log(cold), KEY), 'esclavo', IP)).toEqual([]);
    // pg_receivewal from esclavo's address while esclavo is no standby: not streaming replication.
    const receiver = [server(100, 'maestro', { snd: `${IP}/streaming/async` }), server(100, 'esclavo', {})];
    expect(periods(verifyRecords(log(receiver), KEY), (m) => streaming(m, 'esclavo', IP))).toEqual([]);
  });

  it('archived = shipped by the archiver and arrived as a real segment of maestro; either alone is not', () => {
    const profile = profileFor('15');
    const head = Buffer.alloc(40);
    head.writeUInt16LE(profile.walPageMagic, 0);
    head.writeUInt16LE(0x0002, 2);
    head.writeUInt32LE(1, 4);
    head.writeBigUInt64LE(0x2000000n, 8); // 000000010000000000000002
    head.writeBigUInt64LE(BigInt(SYS), 24);
    head.writeUInt32LE(16 * 1024 * 1024, 32);
    head.writeUInt32LE(8192, 36);
    const seg = '000000010000000000000002';
    const arrived = { at: 120, t: 'arrived', role: 'esclavo', seg, size: 16 * 1024 * 1024, head: head.toString('hex') };
    const shipped = { at: 119, t: 'shipped', role: 'maestro', seg, how: 'pg_stat_archiver' };
    const base = [server(100, 'maestro', {})];
    expect(archivedSegments(verifyRecords(log([...base, shipped, arrived]), KEY), 'esclavo', profile)).toEqual([{ seg, at: 120 }]);
    expect(archivedSegments(verifyRecords(log([...base, arrived]), KEY), 'esclavo', profile)).toEqual([]); // copied by hand
    expect(archivedSegments(verifyRecords(log([...base, shipped]), KEY), 'esclavo', profile)).toEqual([]); // never arrived
    const otherCluster = { ...arrived, head: Buffer.concat([head.subarray(0, 24), Buffer.from(BigInt.asUintN(64, BigInt(OTHER)).toString(16).padStart(16, '0'), 'hex').reverse(), head.subarray(32)]).toString('hex') };
    expect(archivedSegments(verifyRecords(log([...base, shipped, otherCluster]), KEY), 'esclavo', profile)).toEqual([]);
  });

  it('lab solve marks are authenticated like the rest', () => {
    const text = log(HONEST) + signLine(KEY, { at: 500, t: 'solved', lab: 'wal-streaming', step: 'step-3', src: 'lab' });
    expect([...solvedSteps(verifyRecords(text, KEY))]).toEqual([['wal-streaming/step-3', 500]]);
    const forged = log(HONEST) + `${JSON.stringify({ at: 500, t: 'solved', lab: 'wal-streaming', step: 'step-3', src: 'lab' })}\t${'0'.repeat(64)}\n`;
    expect(solvedSteps(verifyRecords(forged, KEY)).size).toBe(0);
  });

  it('an env split across Swarm nodes: an observer per node, their records read as one history', () => {
    expect(observerGroups('e', [{ role: 'maestro' }, { role: 'esclavo' }])).toEqual([{ name: 'pglab-e-observer', roles: ['maestro', 'esclavo'] }]);
    expect(observerGroups('e', [{ role: 'esclavo', node: 'n2' }, { role: 'maestro', node: 'n1' }, { role: 'esclavo2', node: 'n2' }])).toEqual([
      { name: 'pglab-e-observer', roles: ['maestro'], node: 'n1' }, { name: 'pglab-e-observer-esclavo', roles: ['esclavo', 'esclavo2'], node: 'n2' },
    ]);
    // Each observer signs with its own key: HONEST's records split by server, read back as one history.
    const KEY2 = 'c'.repeat(64);
    const signed = (key: string, recs: Record<string, string | number>[]) => verifyRecords(recs.map((r, i) => signLine(key, { n: i + 1, ...r })).join(''), key);
    const of = (role: string) => [{ at: 100, t: 'start', roles: role }, ...HONEST.filter((r) => (r as { role?: string }).role === role)] as Record<string, string | number>[];
    const merged = mergeObservations([signed(KEY, of('maestro')), signed(KEY2, of('esclavo'))]);
    expect(merged.tampered).toBe(0);
    const whole = verifyRecords(log(HONEST), KEY);
    expect(promotions(merged, 'esclavo', IP)).toEqual(promotions(whole, 'esclavo', IP));
    expect(periods(merged, (m) => streaming(m, 'esclavo', IP))).toEqual(periods(whole, (m) => streaming(m, 'esclavo', IP)));
    // esclavo's observer restarting forgets only its own server, not maestro's.
    const restarted = mergeObservations([signed(KEY, of('maestro')),
      signed(KEY2, [...of('esclavo').slice(0, 3), { at: 250, t: 'start', roles: 'esclavo' }, { ...of('esclavo')[2], at: 250 }, ...of('esclavo').slice(3)])]);
    expect(periods(restarted, (m) => streaming(m, 'esclavo', IP))).toEqual([{ from: 205, to: 250 }, { from: 250, to: 300 }]);
  });
});
