/**
 * The env's own state, kept inside the env (the primary's state volume, /var/lib/pglab) so it
 * follows the env and not the laptop: the progress log, the markers of how a lab was started. One
 * place says which server and which folder; every file is named relative to it and reached by a
 * fixed command with the path as an argument.
 */
import { execInContainer } from '../docker/client.js';
import { requireServer, type LabEnv } from './discovery.js';
import { PERSISTENT_MOUNTS, PRIMARY_ROLE } from './naming.js';

/** The folder of the env's state (a persistent volume: survives `lab down` / `lab up`). */
export const STATE_DIR = PERSISTENT_MOUNTS.state;

export const statePath = (name: string) => `${STATE_DIR}/${name}`;

/** The container that keeps the state, when it is running (undefined otherwise: nothing to read or write). */
export function stateContainer(env: LabEnv): string | undefined {
  const server = env.servers.find((s) => s.role === PRIMARY_ROLE);
  return server?.state === 'running' ? server.container : undefined;
}

/**
 * A state file's text; undefined when it is absent or cannot be read. `strict`: an env without its
 * state server running is an error the person sees (requireServer's message), not "no state".
 */
export async function readState(env: LabEnv, name: string, opts: { timeoutMs: number; strict?: boolean }): Promise<string | undefined> {
  const container = opts.strict ? requireServer(env, PRIMARY_ROLE).container : stateContainer(env);
  if (!container) return undefined;
  const r = await execInContainer(container, ['cat', statePath(name)], { timeoutMs: opts.timeoutMs }).catch(() => undefined);
  return r?.exitCode === 0 ? r.stdout.toString() : undefined;
}

/** Replaces a state file (the server must be running: requireServer's message otherwise). */
export async function writeState(env: LabEnv, name: string, text: string, opts: { timeoutMs: number }): Promise<void> {
  await execInContainer(requireServer(env, PRIMARY_ROLE).container, ['sh', '-c', 'cat > "$1"', 'sh', statePath(name)], { stdin: text, timeoutMs: opts.timeoutMs });
}

/**
 * Fixed script, the path is its only argument: when the file does not end in a newline (a write
 * was torn), one is added first, so a torn line never swallows the lines appended after it.
 */
export const APPEND_SCRIPT = '[ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ] && echo >> "$1"; cat >> "$1"';

/** Appends lines to a state file; quiet when the state server is not running or the write fails (losing a line costs history only). */
export async function appendState(env: LabEnv, name: string, text: string, opts: { timeoutMs: number; label: string }): Promise<void> {
  const container = stateContainer(env);
  if (!container) return;
  await execInContainer(container, ['sh', '-c', APPEND_SCRIPT, opts.label, statePath(name)], { stdin: text, timeoutMs: opts.timeoutMs }).catch(() => {});
}

