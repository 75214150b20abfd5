/**
 * The lab-author API: what a lab's own graders (labs/<id>/checks/) build on. Verdicts (pass, fail,
 * the check's signature), the facts a check may ask for (Probes), settings judged in effect and in
 * the files, and the shared replication probes with the scaled waits. A lab's checks import only
 * from here and from the PostgreSQL parsers in src/pg/; the engine never imports a lab's checks
 * except through its manifest (src/lab/manifest.ts).
 */
export { clientError, fail, pass, pollUntil, type CheckContext, type CheckFn, type CheckOutcome, type VerdictSource } from './types.js';
export { errorLines, gradeSettings, isOn, listensOn, sizeInMb, type SettingRule } from './settings.js';
export { nonceReplicated, sameTables, type NonceOptions } from './replication.js';
export { PROBE_SCHEMA, type DirEntry, type Probes } from '../pg/probes.js';
export type { PgProfile } from '../pg/profile.js';
export { TIMEOUTS } from '../timeouts.js';
