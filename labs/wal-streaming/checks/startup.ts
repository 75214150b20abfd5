/** Step 4 — maestro restarted with its new configuration; esclavo started as a read-only hot standby. */
import { matchHba, parseHba } from '../../../src/pg/hba.js';
import { fail, listensOn, pass, type CheckFn } from '../../../src/checks/index.js';

/**
 * Step 4's restart put step 3's access settings in force: the running maestro listens on its own
 * address as the file says (no change waiting for a restart), and pg_hba.conf, with a replication
 * rule for esclavo, was loaded after its last change. A restart right after step 2 does not count:
 * step 3's settings were not there yet.
 */
export const maestroRestarted: CheckFn = async ({ probes, profile, ip }) => {
  if (!(await probes.serverUp('maestro'))) return fail('down', { server: 'maestro' });
  const hba = `${profile.confDir}/pg_hba.conf`;
  const [running, inFile, hbaStat, hbaText, times] = await Promise.all([
    probes.settings('maestro'), probes.fileSetting('maestro', 'listen_addresses'), probes.stat('maestro', hba),
    probes.readText('maestro', hba), probes.serverTimes('maestro'),
  ]);
  const listening = running.get('listen_addresses') ?? '';
  const evidence = { listen_addresses: listening, in_file: inFile ?? '—', started: iso(times.start), hba_loaded: iso(times.load) };
  const rule = hbaText === undefined ? undefined
    : matchHba(parseHba(hbaText).rules, { database: 'replication', user: 'postgres', ip: ip.esclavo, ssl: false });
  // Step 3 accepts '*' as listening on maestro's address; so does this.
  const ownIp = (v: string | undefined) => !!v && listensOn(v, ip.maestro);
  if (!ownIp(inFile) || !rule || rule.method === 'reject') return fail('unchanged', evidence);
  if (normalizeList(listening) !== normalizeList(inFile!)) return fail('not-restarted', evidence);
  if (hbaStat && times.load < hbaStat.mtime) return fail('hba-not-loaded', { ...evidence, hba_changed: iso(hbaStat.mtime) });
  return pass(evidence);
};

const normalizeList = (v: string) => v.split(',').map((p) => p.trim()).filter(Boolean).join(',');

const iso = (epoch: number) => new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');

/**
 * esclavo started *as a standby*, which is what step 4 asks: a fresh env's esclavo runs too, as a
 * primary of its own cluster, and that does not count. "rejecting" is a standby without
 * hot_standby: up, in recovery, refusing queries.
 */
export const esclavoUp: CheckFn = async ({ probes }) => {
  const state = await probes.readiness('esclavo');
  if (state === 'down' || state === 'frozen') return fail('down', { server: 'esclavo', state });
  if (state === 'rejecting') return pass({ state });
  if (!(await probes.inRecovery('esclavo'))) return fail('not-standby', { state, pg_is_in_recovery: 'f' });
  return pass({ state, pg_is_in_recovery: 't' });
};

export const esclavoInRecovery: CheckFn = async ({ probes, profile }) => {
  const state = await probes.readiness('esclavo');
  if (state === 'down' || state === 'frozen') return fail('down', { server: 'esclavo', state });
  if (state === 'rejecting') return fail('hot-standby-off', { state });
  if (!(await probes.inRecovery('esclavo'))) {
    const signal = profile.recoveryConfFile ? 'recovery.conf' : 'standby.signal';
    return fail('not-in-recovery', { pg_is_in_recovery: 'f', expected_file: `${profile.dataDir}/${signal}` });
  }
  return pass({ pg_is_in_recovery: 't' });
};

export const esclavoAnswersReads: CheckFn = async ({ probes }) => {
  const state = await probes.readiness('esclavo');
  if (state === 'down' || state === 'frozen') return fail('down', { server: 'esclavo', state });
  if (state === 'rejecting') return fail('hot-standby-off', { state });
  // Read-only answers from a *standby*: a plain server answering queries does not count.
  if (!(await probes.inRecovery('esclavo'))) return fail('not-standby', { pg_is_in_recovery: 'f' });
  const [[count]] = await probes.sql('esclavo', 'SELECT count(*) FROM pg_database');
  return pass({ query: 'SELECT count(*) FROM pg_database', result: count, pg_is_in_recovery: 't' });
};
