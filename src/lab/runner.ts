/**
 * Runs a step's checks concurrently, each with a timeout, turns outcomes into results with
 * expected / observed / hint text, and (for `lab check`) appends them to the env's progress log,
 * which is display only: no grade reads it.
 */
import { withTimeout } from '../docker/client.js';
import type { LabEnv } from '../env/env.js';
import { pidsExhausted } from '../env/readiness.js';
import { fallbackText } from '../i18n/fallbacks.js';
import { fill, localized, t } from '../i18n/index.js';
import { EnvProbes, FileTooLargeError, ProbeTimeoutError, ServerDownError, SqlError, type Probes } from '../pg/probes.js';
import { impostorDetail, type ServerIdentity } from '../pg/server-identity.js';
import type { CheckContext, CheckFn, CheckOutcome, VerdictSource } from '../checks/types.js';
import { TIMEOUTS } from '../timeouts.js';
import { envFacts } from './facts.js';
import { checksFor, labFacts, type CheckSpec, type Lab, type StepSpec } from './manifest.js';
import { appendProgress, type Progress, type ProgressRecord } from './progress.js';
import { hhmm } from '../checks/index.js';

export type CheckStatus = 'pass' | 'fail' | 'warn';

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  points: number;
  maxPoints: number;
  expected: string;
  /** What the grader really saw (values, file names, identifiers). */
  evidence: Record<string, string | number>;
  reason?: string;
  hint?: string;
  durationMs: number;
  /** Set when the check passed earlier and a later step legitimately consumed its state (manifest `supersededWhen`). */
  passedBefore?: string;
  /** A live failure of something the observer saw working until then (ISO time; not consumed, so not counted). */
  workedUntil?: string;
  /** Where the verdict came from (see CheckOutcome.source). */
  source: VerdictSource;
}

export interface StepResult {
  step: string;
  title: string;
  passed: boolean;
  points: number;
  maxPoints: number;
  checks: CheckResult[];
  durationMs: number;
}


export interface RunShared {
  probes?: Probes;
  /** Set by `lab grade`: nothing is written to the env (its progress log is display only). */
  noRecord?: boolean;
  /** The progress log as the caller read it (display only): the caller records the results itself. */
  progress?: () => Promise<Progress>;
}

/** Memoizes an async value so it is fetched at most once, and only when asked for. */
export function lazy<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

export async function runStep(env: LabEnv, lab: Lab, step: StepSpec, shared?: RunShared): Promise<StepResult> {
  const started = Date.now();
  const probes = shared?.probes ?? EnvProbes.forStep(env, `${lab.id}/${step.id}`);
  const facts = envFacts(env, lab.id);
  const ctx = checkContext(probes, labFacts(lab.id));
  const specs = checksFor(step, env.pg);
  // Started now, awaited after the checks: the identity probe (a container, ~0.5–1 s) overlaps them.
  const identities = probes.env.servers.filter((s) => s.state === 'running')
    .map(({ role }) => ({ role, identity: probes.serverIdentity(role).catch(() => undefined) }));
  // A check whose live state a later step legitimately consumed (the promotion consumes recovery.conf,
  // the next lab turns archiving off): what the observer saw before counts instead.
  const superseded = new Map<string, Promise<boolean>>();
  const consumed = (spec: CheckSpec) => {
    if (env.lab !== lab.id) return Promise.resolve(true);
    const key = spec.supersededWhen;
    if (!key) return Promise.resolve(false);
    if (!superseded.has(key)) superseded.set(key, runOne(lab.checks[key], key, ctx).then((o) => o.status === 'pass'));
    return superseded.get(key)!;
  };
  const checks = await Promise.all(specs.map(async (spec) => {
    const t0 = Date.now();
    let outcome = await runOne(lab.checks[spec.check], spec.id, ctx);
    // The live state is gone or broken: did the observer see it work?
    const tried: string[] = [];
    let workedAt: number | undefined;
    for (const fallback of outcome.status === 'fail' ? spec.fallbacks ?? [] : []) {
      const alt = await runOne(lab.checks[fallback], spec.id, ctx);
      if (alt.status === 'pass') {
        // Live first: an earlier observation counts only once a later step consumed the state.
        if (await consumed(spec)) outcome = { ...alt, source: alt.source ?? 'observer' };
        else workedAt = alt.seenAt;
        break;
      }
      tried.push(fallbackText(fallback, alt.reason));
      if (alt.evidence?.observer_tampered_lines) tried.push(`observer_tampered_lines=${alt.evidence.observer_tampered_lines}`);
    }
    if (outcome.status === 'fail' && tried.length) outcome = { ...outcome, evidence: { ...outcome.evidence, also_checked: tried.join('; ') } };
    // A server that does not answer: frozen (SIGSTOP), or stopped and why it will not start, when its files show it.
    if (/^([a-z0-9]+-)?down$|^timeout$/.test(outcome.reason ?? '') && outcome.evidence?.server) {
      const role = String(outcome.evidence.server);
      if ((await probes.readiness(role).catch(() => 'down')) === 'frozen') outcome.evidence.state = 'frozen';
      else if (outcome.reason !== 'timeout' && probes.containerRunning(role)
        && !(await probes.stat(role, `${probes.profile.dataDir}/PG_VERSION`).catch(() => true))) {
        // An empty or half-copied data directory (a base backup that failed): starting it is not the fix.
        outcome.evidence.data_dir = probes.profile.dataDir;
        outcome.evidence.pg_version = 'missing';
      } else if (outcome.reason !== 'timeout') {
        const problems = await probes.startupBlockers(role).catch(() => []);
        if (problems.length) outcome.evidence.problems = problems.join('; ');
      }
    }
    const result = toResult(spec, outcome, facts, Date.now() - t0);
    if (result.status !== 'pass' && workedAt !== undefined) {
      const at = hhmm(workedAt);
      result.workedUntil = new Date(workedAt * 1000).toISOString();
      result.evidence = { ...result.evidence, worked_until: at };
      result.hint = `${t('check.workedBefore', { at })}${result.hint ? ` ${result.hint}` : ''}`;
    }
    return result;
  }));

  await explainPidsLimit(probes.env, checks);
  await distrustReplacedServers(probes, checks, identities);

  const result: StepResult = {
    step: step.id,
    title: localized(step.title),
    passed: checks.every((c) => c.status !== 'fail'),
    points: checks.reduce((s, c) => s + c.points, 0),
    maxPoints: checks.reduce((s, c) => s + c.maxPoints, 0),
    checks,
    durationMs: Date.now() - started,
  };
  // Display only (lab status / progress): no grade ever reads it back.
  if (!shared?.noRecord && !shared?.progress) await appendProgress(env, progressRecords(lab.id, [result]));
  return result;
}

/**
 * A server at its pids limit (a fork bomb) fails checks in ways that say nothing of the cause
 * (probes that cannot fork, "PostgreSQL detenido"), and `/etc/init.d/postgresql` cannot help there:
 * every check that did not pass gets the one hint that does, with the counts as evidence. Asked of
 * Docker (the host's cgroup count) only when something did not pass.
 */
async function explainPidsLimit(
  env: { name: string; servers: readonly { role: string; container: string; state: string }[] }, checks: CheckResult[],
): Promise<void> {
  const open = checks.filter((c) => c.status !== 'pass');
  if (!open.length) return;
  const running = env.servers.filter((s) => s.state === 'running');
  const full = (await Promise.all(running.map(async (s) => ({ role: s.role, pids: await pidsExhausted(s.container).catch(() => undefined) }))))
    .find((s) => s.pids);
  if (!full?.pids) return;
  const hint = t('check.pidsFull', { role: full.role, env: env.name, current: full.pids.current, limit: full.pids.limit });
  for (const c of open) Object.assign(c, { hint, evidence: { ...c.evidence, server: full.role, pids: full.pids.current, pids_limit: full.pids.limit } });
}

/**
 * Live passes count only when what answered is the image's PostgreSQL on every running server: a
 * fake server, a patched binary or an injected library (the student is root) answers whatever
 * earns points. A probe container per server, started with the checks (see runStep).
 */
async function distrustReplacedServers(
  probes: Probes, checks: CheckResult[], asked: { role: string; identity: Promise<ServerIdentity | undefined> }[],
): Promise<void> {
  const live = checks.filter((c) => c.status === 'pass' && c.source === 'live');
  if (!live.length) return;
  const seen = await Promise.all(asked.map(async ({ role, identity }) => ({ role, identity: await identity })));
  const replaced = seen.find((s) => s.identity?.verdict === 'replaced');
  if (!replaced) return;
  const impostor = impostorDetail(replaced.identity!);
  const hint = t('check.serverReplaced', { role: replaced.role, impostor, pg: probes.env.pg });
  for (const c of live) Object.assign(c, { status: 'fail', points: 0, reason: 'server-replaced', hint, evidence: { ...c.evidence, server: replaced.role, impostor } });
}

/** The log lines that record these results (see progress.ts). */
export function progressRecords(lab: string, results: StepResult[], by?: ProgressRecord['by']): ProgressRecord[] {
  const at = new Date().toISOString();
  const src = by ? { by } : {};
  return results.flatMap((r) => [
    { at, lab, key: r.step, status: r.passed ? 'pass' : 'fail', ...src },
    ...r.checks.map((c) => ({ at, lab, key: `${r.step}/${c.id}`, status: c.status, ...src })),
  ]);
}

/** What every check gets: the probes, the version's profile, the IP of every server by role and the lab's facts. */
export function checkContext(probes: Probes, facts: Record<string, string> = {}): CheckContext {
  const ip = Object.fromEntries(probes.env.servers.map((s) => [s.role, s.ip]));
  return { probes, profile: probes.profile, ip: ip as CheckContext['ip'], facts };
}

/** A crashing or hanging check becomes a failed check with a reason, never a crashed command. */
async function runOne(check: CheckFn, id: string, ctx: CheckContext): Promise<CheckOutcome> {
  try {
    return await withTimeout(check(ctx), TIMEOUTS.checkMs, id);
  } catch (err) {
    if (err instanceof ServerDownError) return { status: 'fail', reason: 'server-down', evidence: { server: err.role } };
    if (err instanceof ProbeTimeoutError) return { status: 'fail', reason: 'timeout', evidence: { server: err.role, command: err.command } };
    if (/^timeout after/.test((err as Error).message)) return { status: 'fail', reason: 'timeout', evidence: { command: id } };
    if (err instanceof FileTooLargeError) return { status: 'fail', reason: 'too-large', evidence: { file: `${err.role}:${err.path}`, limit_mb: err.limit / (1 << 20) } };
    if (err instanceof SqlError) return { status: 'fail', reason: 'sql-error', evidence: { error: err.message.slice(0, 200) } };
    return { status: 'fail', reason: 'error', evidence: { error: String((err as Error)?.message ?? err).slice(0, 200) } };
  }
}

/** A hint never shows a raw `{placeholder}`: a value the check could not observe reads as "—". */
export function fillHint(template: string, params: Record<string, string | number>): string {
  return fill(template, params).replace(/\{(\w+)\}/g, '—');
}

export function toResult(spec: CheckSpec, outcome: CheckOutcome, facts: Record<string, string>, durationMs: number): CheckResult {
  const evidence = outcome.evidence ?? {};
  // The env's facts (IPs, paths, the trigger file) win over evidence keys of the same name.
  const params = { ...evidence, ...facts };
  const status: CheckStatus = outcome.status === 'pass' ? 'pass' : spec.severity === 'warn' ? 'warn' : 'fail';
  let hint: string | undefined;
  if (outcome.status === 'fail') {
    if (evidence.state === 'frozen') hint = t('check.serverFrozen', { role: String(evidence.server) });
    else if (evidence.pg_version === 'missing') hint = t('check.serverNoDatadir', { role: String(evidence.server), datadir: String(evidence.data_dir) });
    else if (evidence.problems) hint = t('check.serverDownConf', { role: String(evidence.server), problems: String(evidence.problems) });
    else if (outcome.reason === 'server-down') hint = t('check.serverDown', { role: String(evidence.server) });
    else if (outcome.reason === 'timeout') hint = t('check.probeTimeout', { role: String(evidence.server ?? '—'), command: String(evidence.command ?? '—') });
    else if (outcome.reason === 'too-large') hint = t('check.fileTooLarge', { file: String(evidence.file), limit: String(evidence.limit_mb) });
    else if (outcome.reason === 'conf-unreadable') hint = t('check.confUnreadable', { file: String(evidence.file) });
    else hint = fillHint(localized(spec.hints[outcome.reason ?? 'default'] ?? spec.hints.default), params);
  }
  return {
    id: spec.id,
    title: fillHint(localized(spec.title), facts),
    status,
    points: outcome.status === 'pass' ? spec.points : 0,
    maxPoints: spec.points,
    expected: fillHint(localized(spec.expected), facts),
    evidence,
    reason: outcome.reason,
    hint,
    durationMs,
    source: outcome.source ?? 'live',
  };
}
