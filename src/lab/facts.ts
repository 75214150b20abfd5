/** This environment's facts, used to fill exercise text, hints and solution scripts. */
import type { LabEnv } from '../env/env.js';
import { STANDBY_ROLE } from '../env/naming.js';
import { profileFor } from '../pg/profile.js';
import { labFacts } from './manifest.js';

/** The env's addresses and paths, its version's names, and the facts of `lab` (the env's own by default). */
export function envFacts(env: LabEnv, lab: string = env.lab): Record<string, string> {
  const p = profileFor(env.pg);
  const ip = (role: string) => env.servers.find((s) => s.role === role)?.ip ?? '';
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
    ...labFacts(lab),
  };
}
