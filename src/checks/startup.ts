/** Step 4 — maestro restarted with its new configuration; esclavo started as a read-only hot standby. */
import { fail, pass, type CheckFn } from './types.js';

/**
 * The configuration was changed (differs from the cluster's original) and the running server
 * started after the last change of postgresql.conf and loaded pg_hba.conf after its last change.
 */
export const maestroRestarted: CheckFn = async ({ probes, profile }) => {
  if (!(await probes.serverUp('maestro'))) return fail('down', {});
  const conf = `${profile.confDir}/postgresql.conf`;
  const hba = `${profile.confDir}/pg_hba.conf`;
  const [confStat, hbaStat, times, pristine, current] = await Promise.all([
    probes.stat('maestro', conf), probes.stat('maestro', hba), probes.serverTimes('maestro'),
    probes.readText('maestro', '/var/lib/pglab/pristine/postgresql.conf'), probes.readText('maestro', conf),
  ]);
  if (!confStat || !hbaStat) return fail('missing', { conf });
  const evidence = { started: iso(times.start), conf_changed: iso(confStat.mtime), hba_changed: iso(hbaStat.mtime), conf_loaded: iso(times.load) };
  if (pristine !== undefined && pristine === current) return fail('unchanged', evidence);
  if (times.start < confStat.mtime) return fail('not-restarted', evidence);
  if (times.load < hbaStat.mtime) return fail('hba-not-loaded', evidence);
  return pass(evidence);
};

const iso = (epoch: number) => new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');

export const esclavoUp: CheckFn = async ({ probes }) => {
  const state = await probes.readiness('esclavo');
  // "rejecting" still means the server process is up (a standby without hot_standby answers that way).
  return state === 'down' ? fail('down', { pg_isready: state }) : pass({ pg_isready: state });
};

export const esclavoInRecovery: CheckFn = async ({ probes, profile }) => {
  const state = await probes.readiness('esclavo');
  if (state === 'down') return fail('down', {});
  if (state === 'rejecting') return fail('hot-standby-off', { pg_isready: state });
  if (!(await probes.inRecovery('esclavo'))) {
    const signal = profile.recoveryConfFile ? 'recovery.conf' : 'standby.signal';
    return fail('not-in-recovery', { pg_is_in_recovery: 'f', expected_file: `${profile.dataDir}/${signal}` });
  }
  return pass({ pg_is_in_recovery: 't' });
};

export const esclavoAnswersReads: CheckFn = async ({ probes }) => {
  const state = await probes.readiness('esclavo');
  if (state === 'down') return fail('down', {});
  if (state === 'rejecting') return fail('hot-standby-off', { pg_isready: state });
  // Read-only answers from a *standby*: a plain server answering queries does not count.
  if (!(await probes.inRecovery('esclavo'))) return fail('not-standby', { pg_is_in_recovery: 'f' });
  const [[count]] = await probes.sql('esclavo', 'SELECT count(*) FROM pg_database');
  return pass({ query: 'SELECT count(*) FROM pg_database', result: count, pg_is_in_recovery: 't' });
};
