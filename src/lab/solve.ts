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
import { LABS_DIR } from '../paths.js';
import { scaledSeconds, TIMEOUT_SCALE, TIMEOUTS } from '../timeouts.js';
import { profileFor, solutionCapabilities } from '../pg/profile.js';
import type { LabManifest, StepSpec } from './manifest.js';
import type { ProgressLine } from '../progress-line.js';

export async function applySolution(env: LabEnv, lab: LabManifest, step: StepSpec, progress: ProgressLine = () => {}): Promise<void> {
  const actions = step.solution.filter((a) => !a.versions || a.versions.includes(env.pg));
  if (!actions.length) throw new LabError('lab.noSolution', { step: step.id, pg: env.pg });
  // LF line ends whatever the checkout has (Git for Windows writes CRLF): bash in the container chokes on `\r`.
  const dir = path.join(LABS_DIR, lab.id);
  // Every lab's helpers (set -e, set_conf, wait_for), then the lab's own when it has any (solutions/lib.sh is optional).
  const lib = [path.join(LABS_DIR, 'lib.sh'), path.join(dir, 'solutions', 'lib.sh')].filter((f) => existsSync(f)).map((f) => lf(readFileSync(f, 'utf8'))).join('\n');
  // The env's facts (MAESTRO_IP, CONFDIR…) and what this version can do (CAP_RECOVERY_CONF=1…): scripts never test $PG.
  const vars: Record<string, string> = {
    ...Object.fromEntries(Object.entries(envFacts(env, lab.id)).map(([k, v]) => [k.toUpperCase(), v])),
    ...solutionCapabilities(profileFor(env.pg)),
    TIMEOUT_SCALE: String(Math.ceil(TIMEOUT_SCALE)),
  };
  for (const action of actions) {
    const server = requireServer(env, action.on);
    progress(`  ${action.on} (${action.user}): ${action.script}`);
    const script = lib + '\n' + lf(readFileSync(path.join(dir, action.script), 'utf8'));
    const r = await execInContainer(server.container, ['bash', '-s'], {
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
  }
}
