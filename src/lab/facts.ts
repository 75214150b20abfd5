/** This environment's facts, used to fill exercise text, hints and solution scripts. */
import type { LabEnv } from '../env/env.js';
import { STANDBY_ROLE } from '../env/naming.js';
import { profileFor } from '../pg/profile.js';
import { labFacts } from './manifest.js';

/** The env's addresses and paths, its version's names, and the facts of `lab` (the env's own by default). */
export function envFacts(env: LabEnv, lab: string = env.lab): Record<string, string> {
  const p = profileFor(env.pg);
  const ip = (role: string) => env.servers.find((s) => s.role === role)?.ip ?? '';
  const lab_ = labFacts(lab);
  return {
    env: env.name,
    lab: env.lab,
    pg: env.pg,
    subnet: env.subnet,
    // maestro_ip, esclavo_ip, esclavo2_ip…; esclavo_ip is always there (hints name it).
    [`${STANDBY_ROLE}_ip`]: ip(STANDBY_ROLE),
    ...Object.fromEntries(env.servers.map((s) => [`${s.role}_ip`, s.ip])),
    confdir: p.confDir,
    datadir: p.dataDir,
    logfile: p.logFile,
    bindir: p.binDir,
    waldir: p.walDirName,
    switch_wal: p.switchWalFunction,
    // How this version promotes a standby, so a hint names only the env's own command.
    basebackup_wal: p.recoveryConfFile ? '-x' : '-X fetch',
    standby_file: `${p.dataDir}/${p.recoveryConfFile ? 'recovery.conf' : 'standby.signal'}`,
    // synchronous_standby_names naming esclavo and esclavo2, as this version reads it.
    sync_two: p.syncNamesFirstAny ? `'FIRST 1 (${STANDBY_ROLE}, ${STANDBY_ROLE}2)'` : `'${STANDBY_ROLE}, ${STANDBY_ROLE}2'`,
    promote: p.triggerSetting && lab_.trigger ? `touch ${lab_.trigger}` : `${p.binDir}/pg_ctl promote -D ${p.dataDir}`,
    ...lab_,
  };
}
