/** This environment's facts, used to fill exercise text, hints and solution scripts. */
import type { LabEnv } from '../env/env.js';
import { TRIGGER_FILE, WAL_ARCHIVE_DIR, profileFor } from '../pg/profile.js';

export function envFacts(env: LabEnv): Record<string, string> {
  const p = profileFor(env.pg);
  const ip = (role: string) => env.servers.find((s) => s.role === role)?.ip ?? '';
  return {
    env: env.name,
    lab: env.lab,
    pg: env.pg,
    subnet: env.subnet,
    // maestro_ip, esclavo_ip, esclavo2_ip…; esclavo_ip is always there (hints name it).
    esclavo_ip: ip('esclavo'),
    ...Object.fromEntries(env.servers.map((s) => [`${s.role}_ip`, s.ip])),
    confdir: p.confDir,
    datadir: p.dataDir,
    logfile: p.logFile,
    bindir: p.binDir,
    waldir: p.walDirName,
    archive: WAL_ARCHIVE_DIR,
    trigger: TRIGGER_FILE,
    switch_wal: p.switchWalFunction,
    // How this version promotes a standby, so a hint names only the env's own command.
    basebackup_wal: p.recoveryConfFile ? '-x' : '-X fetch',
    standby_file: `${p.dataDir}/${p.recoveryConfFile ? 'recovery.conf' : 'standby.signal'}`,
    // synchronous_standby_names naming esclavo and esclavo2, as this version reads it.
    sync_two: p.syncNamesFirstAny ? "'FIRST 1 (esclavo, esclavo2)'" : "'esclavo, esclavo2'",
    promote: p.triggerSetting ? `touch ${TRIGGER_FILE}` : `${p.binDir}/pg_ctl promote -D ${p.dataDir}`,
  };
}
