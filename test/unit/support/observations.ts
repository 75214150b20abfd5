/** The env observer's records for grader unit tests, signed and verified as the real ones are (src/observer/records.ts). */
import { signLine, verifyRecords, type Observation } from '../../../src/observer/records.js';

export function observed(records: Record<string, string | number>[]): Observation {
  const key = 'f'.repeat(64);
  return verifyRecords(records.map((r, i) => signLine(key, { n: i + 1, ...r })).join(''), key);
}

/** One server's state as the observer writes it (a primary on timeline 1 unless `f` says otherwise). */
export const serverSeen = (at: number, role: string, sysid: string, f: Record<string, string | number> = {}) => ({
  at, t: 'server', role, up: 1, rec: 'f', tli: 1, sysid, snd: '', wr: '', arch: 1, lsn: '0/3000000', rcv: '', ...f,
});

/** esclavo (at esclavoIp) seen streaming from maestro, then out of recovery on timeline 2. */
export function promotionSeen(sysid: string, esclavoIp: string): Observation {
  return observed([
    serverSeen(1, 'maestro', sysid, { snd: `${esclavoIp}/streaming/async` }), serverSeen(1, 'esclavo', sysid, { rec: 't' }),
    serverSeen(2, 'esclavo', sysid, { tli: 2 }),
  ]);
}
