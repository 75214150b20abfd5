/**
 * Reference solutions: shell scripts from the lab's data, run inside the containers through the
 * same exec path a student uses (`lab exec`). Values come from this env as environment
 * variables, never spliced into the script text.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execInContainer } from '../docker/client.js';
import { lf } from '../images/recipe.js';
import { requireServer, type LabEnv } from '../env/env.js';
import { LabError } from '../errors.js';
import { envFacts } from './facts.js';
import { lookNow, markObservation } from '../observer/observer.js';
import { LABS_DIR } from '../paths.js';
import { scaledSeconds, timeoutScale, TIMEOUTS } from '../timeouts.js';
import { profileFor, solutionCapabilities } from '../pg/profile.js';
import type { LabManifest, StepSpec } from './manifest.js';
import type { ProgressLine } from '../progress-line.js';

/**
 * Each solution script runs as `pglab-solve <step> -s` (bash's argv0), so a rerun finds one still
 * running (a `lab solve` killed mid-way leaves its script going in the container) and an
 * interrupted one can be stopped: fixed scripts, no value from the env or the student in them.
 */
const SOLVE_ARGV = (stepId: string) => ['bash', '-c', 'exec -a "pglab-solve $0" bash -s', stepId];
const FIND_SOLVING = 'pgrep -f "^pglab-solve " >/dev/null && echo running; true';
// `timeout` (execInContainer's wrapper) leads the script's process group: TERM to the group ends the script and its children
// (bash: dash's kill takes no negative process group).
const STOP_SOLVING = 'for p in $(pgrep -f "^pglab-solve "); do g=$(ps -o pgid= -p "$p" | tr -d " "); [ -n "$g" ] && kill -TERM -- "-$g"; done; true';

/** Servers of the env where a solution script is still running. */
export async function serversSolving(env: LabEnv): Promise<string[]> {
  const running = env.servers.filter((s) => s.state === 'running');
  const found = await Promise.all(running.map(async (s) => {
    const r = await execInContainer(s.container, ['sh', '-c', FIND_SOLVING], { timeoutMs: TIMEOUTS.readinessMs }).catch(() => undefined);
    return r?.stdout.toString().trim() === 'running' ? s.role : undefined;
  }));
  return found.filter((r): r is string => !!r);
}

/** Ends every solution script still running in the env's servers (an interrupted `lab solve`). */
export async function stopSolving(env: LabEnv): Promise<void> {
  await Promise.all(env.servers.filter((s) => s.state === 'running').map((s) =>
    execInContainer(s.container, ['bash', '-c', STOP_SOLVING], { timeoutMs: TIMEOUTS.readinessMs }).catch(() => undefined)));
}

export async function applySolution(env: LabEnv, lab: LabManifest, step: StepSpec, progress: ProgressLine = () => {}): Promise<void> {
  const actions = step.solution.filter((a) => !a.versions || a.versions.includes(env.pg));
  if (!actions.length) throw new LabError('lab.noSolution', { step: step.id, pg: env.pg });
  // Two scripts at once would edit the same files and restart the same servers under each other.
  const busy = await serversSolving(env);
  if (busy.length) throw new LabError('solve.busy', { env: env.name, roles: busy.join(', ') });
  // An authenticated mark first (even a solution that fails half-way changed the env): grades say so and count it 0.
  if (!(await markObservation(env.name, { t: 'solved', lab: lab.id, step: step.id }))) throw new LabError('solve.noObserver', { env: env.name });
  // LF line ends whatever the checkout has (Git for Windows writes CRLF): bash in the container chokes on `\r`.
  const dir = path.join(LABS_DIR, lab.id);
  // Every lab's helpers (set -e, set_conf, wait_for), then the lab's own when it has any (solutions/lib.sh is optional).
  const lib = [path.join(LABS_DIR, 'lib.sh'), path.join(dir, 'solutions', 'lib.sh')].filter((f) => existsSync(f)).map((f) => lf(readFileSync(f, 'utf8'))).join('\n');
  // The env's facts (MAESTRO_IP, CONFDIR…) and what this version can do (CAP_RECOVERY_CONF=1…): scripts never test $PG.
  const vars: Record<string, string> = {
    ...Object.fromEntries(Object.entries(envFacts(env, lab.id)).map(([k, v]) => [k.toUpperCase(), v])),
    ...solutionCapabilities(profileFor(env.pg)),
    TIMEOUT_SCALE: String(Math.ceil(timeoutScale())),
  };
  for (const action of actions) {
    const server = requireServer(env, action.on);
    progress(`  ${action.on} (${action.user}): ${action.script}`);
    const script = lib + '\n' + lf(readFileSync(path.join(dir, action.script), 'utf8'));
    const r = await execInContainer(server.container, SOLVE_ARGV(step.id), {
      user: action.user,
      env: { ...vars, LC_ALL: 'C.UTF-8' },
      stdin: script,
      timeoutMs: action.timeoutSec ? scaledSeconds(action.timeoutSec) : TIMEOUTS.solutionActionMs,
    });
    if (r.exitCode !== 0) {
      const tail = (r.stdout.toString() + r.stderr.toString()).trim().split('\n').slice(-8).join('\n');
      throw new LabError('solve.failed', { step: step.id, role: action.on, code: r.exitCode, tail }, 1);
    }
    if (action.capture) vars[action.capture] = r.stdout.toString().trim();
    // A script goes through states in seconds (a standby started, then promoted): the observer looks at each.
    await lookNow(env.name, env.servers);
  }
}
