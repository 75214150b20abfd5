/**
 * Is PostgreSQL accepting connections? Judged the same way on every version: 9.1 has no
 * pg_isready (it first shipped in 9.3), so the version's own psql (never Debian's pg_wrapper,
 * which dies on a broken postgresql.conf before connecting) tries `SELECT 1` on the local socket,
 * and when it cannot, the postmaster's pid file tells a server that refuses connections (starting
 * up, or a standby without hot_standby) from one that is not running.
 */
import { TIMEOUTS } from '../timeouts.js';
import type { PgProfile } from './profile.js';

/** frozen: the postmaster exists but is stopped (SIGSTOP, `kill -STOP`): it cannot answer anything. */
export type Readiness = 'accepting' | 'rejecting' | 'frozen' | 'down';

/** Fixed script; every value arrives as an argument ($1 bin dir, $2 data dir, $3 connect timeout, $4 ready-file or ""). */
const SCRIPT = [
  '[ -z "$4" ] || [ -f "$4" ] || { echo down; exit 0; }',
  'PGCONNECT_TIMEOUT="$3" "$1/psql" -X -A -t -q -d postgres -c "SELECT 1" >/dev/null 2>&1 && { echo accepting; exit 0; }',
  'pid=$(head -n 1 "$2/postmaster.pid" 2>/dev/null)',
  'case "$pid" in ""|*[!0-9]*) echo down; exit 0;; esac',
  'grep -q postgres "/proc/$pid/cmdline" 2>/dev/null || { echo down; exit 0; }',
  // Field 3 of /proc/PID/stat is the state; T = stopped by a signal.
  'state=$(sed "s/.*) //" "/proc/$pid/stat" 2>/dev/null | cut -d" " -f1)',
  '[ "$state" = T ] && echo frozen || echo rejecting',
].join('\n');

/** argv for one readiness probe, run as postgres; prints accepting | rejecting | down. */
export function readinessArgv(profile: PgProfile, readyFile = ''): string[] {
  return ['sh', '-c', SCRIPT, 'readiness', profile.binDir, profile.dataDir, String(TIMEOUTS.readinessConnectS), readyFile];
}

export function parseReadiness(stdout: string): Readiness {
  const word = stdout.trim();
  return word === 'accepting' || word === 'rejecting' || word === 'frozen' ? word : 'down';
}
