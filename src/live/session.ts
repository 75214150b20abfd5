/**
 * One env watched live (`lab watch`, `lab web`, a row of `lab class web`): every cycle reads the
 * topology and runs the current step's checks through the runner, in one batch of probes per
 * server primed with what the last cycle asked for, then says what changed since the last cycle.
 * Progress is recorded only when a result changes (a cycle every 2 s must not grow the log).
 */
import { loadEnv, type LabEnv } from '../env/env.js';
import { localized, t } from '../i18n/index.js';
import { findStep, loadLab, type Lab, type StepSpec } from '../lab/manifest.js';
import { appendProgress, readProgress, type Progress } from '../lab/progress.js';
import { progressRecords, runStep, type StepResult } from '../lab/runner.js';
import { topology, type Topology } from '../lab/topology.js';
import { EnvProbes, type PlannedFact, type Probes } from '../pg/probes.js';
import { chartFromRecords, type ChartPoint, type RecordLine } from '../pg/recorder.js';

/** Seconds between cycles (`lab watch`, the pages). */
export const CYCLE_S = 2;
/** While nothing changes, a cycle may take at most 1/BUSY_FACTOR of the time (its cost is mostly the servers'). */
export const BUSY_FACTOR = 9;
/** …but the page never waits longer than this between cycles. */
export const MAX_CYCLE_S = 8;
/** Cycles at the fast pace after a change (the student is working). */
const EAGER_CYCLES = 3;
/** The chart keeps this many minutes of samples. */
export const HISTORY_MIN = 10;

/** One point of the chart: one primary's lag (its worst standby's, received position) and archiving, at one cycle. */
export type Sample = ChartPoint;

/** Something that changed between two cycles, said in the reader's language. */
export interface Change { seq: number; at: number; text: string; kind: 'good' | 'bad' | 'info' }

export interface Snapshot {
  env: LabEnv;
  lab: Lab;
  step: StepSpec;
  result?: StepResult;
  topology?: Topology;
  /** Newest last, at most 20. */
  changes: Change[];
  history: Sample[];
  /** Set when the cycle could not run (Docker down, env removed). */
  error?: string;
  at: number;
  /** Docker execs this cycle made (a batch counts once). */
  execs: number;
}

export interface SessionOptions {
  /** A step to stay on; otherwise the first step not passed yet, moving on when it passes. */
  step?: string;
  /** Run the checks (off: topology only). */
  checks?: boolean;
  /** Read the topology (off: checks only, for the class board). */
  topology?: boolean;
  /** Who looks, when it is not the student: their records are not the student's activity. */
  recordAs?: 'board';
}

export class LiveSession {
  private plan: PlannedFact[] = [];
  private last?: Snapshot;
  private history: Sample[] = [];
  private changes: Change[] = [];
  private progress?: Progress;
  private cycles = 0;
  private stepId?: string;
  private seq = 0;
  private lastMs = 0;
  private quiet = 0;

  private constructor(private env: LabEnv, private lab: Lab, private opts: SessionOptions) {
    this.stepId = opts.step ? findStep(lab, opts.step).id : undefined;
  }

  static async open(envName: string, opts: SessionOptions = {}): Promise<LiveSession> {
    const env = await loadEnv(envName);
    const lab = await loadLab(env.lab);
    return new LiveSession(env, lab, opts);
  }

  get name(): string {
    return this.env.name;
  }

  get current(): Snapshot | undefined {
    return this.last;
  }

  /** The recorded progress of the env's lab (read at the first cycle, then kept up to date here). */
  async progressNow(): Promise<Progress> {
    this.progress ??= await readProgress(this.env, this.lab.id).catch(() => ({ steps: {}, checks: {} }));
    return this.progress;
  }

  private async pickStep(): Promise<StepSpec> {
    if (this.stepId) return findStep(this.lab, this.stepId);
    const progress = await this.progressNow();
    return this.lab.steps.find((s) => progress.steps[s.id]?.lastStatus !== 'pass') ?? this.lab.steps[this.lab.steps.length - 1];
  }

  async cycle(): Promise<Snapshot> {
    const at = Date.now();
    try {
      // Container states change (a server stopped by the student): re-read the env now and then.
      // A server that does not answer may be a stopped container (`lab up` starts it): look at once.
      if (this.cycles % 10 === 9 || this.last?.topology?.servers.some((s) => !s.up)) this.env = await loadEnv(this.env.name);
      // Students also run `lab check` themselves: the log is read again every 15 cycles.
      if (this.cycles % 15 === 14) this.progress = undefined;
      this.cycles++;
      const step = await this.pickStep();
      const probes = new EnvProbes(this.env);
      probes.prefetch(this.plan);
      await this.progressNow(); // read (or re-read every 15 cycles) before the snapshot uses it below
      if (this.cycles === 1 && this.opts.topology !== false) await this.seedHistory(probes, at);
      const [topo, result] = await Promise.all([
        this.opts.topology === false ? undefined : topology({ probes, profile: probes.profile }),
        this.opts.checks === false ? undefined : runStep(this.env, this.lab, step, { probes, noRecord: true }),
      ]);
      this.plan = probes.plan();
      const snap: Snapshot = {
        env: this.env, lab: this.lab, step, result, topology: topo, changes: this.changes, history: this.history, at, execs: probes.execCount,
      };
      const seen = this.seq;
      this.noteChanges(this.last, snap);
      this.quiet = this.seq !== seen || this.last?.step.id !== step.id ? 0 : this.quiet + 1;
      this.lastMs = Date.now() - at;
      if (result) await this.record(result);
      if (topo) this.sample(topo, at);
      this.last = snap;
      return snap;
    } catch (err) {
      const snap: Snapshot = {
        env: this.env, lab: this.lab, step: this.last?.step ?? this.lab.steps[0], changes: this.changes, history: this.history, at, execs: 0,
        error: String((err as Error)?.message ?? err).slice(0, 300),
      };
      this.last = { ...snap, result: this.last?.result, topology: this.last?.topology };
      return this.last;
    }
  }

  /** A result that differs from the last one recorded goes into the env's progress log. */
  private async record(result: StepResult): Promise<void> {
    const progress = this.progress!;
    const changed = progress.steps[result.step]?.lastStatus !== (result.passed ? 'pass' : 'fail')
      || result.checks.some((c) => progress.checks[`${result.step}/${c.id}`]?.lastStatus !== c.status);
    if (!changed) return;
    const records = progressRecords(this.lab.id, [result], this.opts.recordAs);
    await appendProgress(this.env, records);
    for (const r of records) {
      const map = r.key.includes('/') ? progress.checks : progress.steps;
      const prev = map[r.key];
      map[r.key] = { firstPassed: prev?.firstPassed ?? (r.status === 'pass' ? r.at : undefined), lastStatus: r.status, lastAt: r.at };
    }
  }

  /** A page opened now shows the last minutes at once: the chart starts from the env's flight record. */
  private async seedHistory(probes: Probes, at: number): Promise<void> {
    const byRole = new Map<string, RecordLine[]>();
    await Promise.all(this.env.servers.filter((s) => s.state === 'running').map(async (s) => {
      const rec = await probes.recording(s.role).catch(() => undefined);
      if (rec) byRole.set(s.role, rec.records);
    }));
    const since = at / 1000 - HISTORY_MIN * 60;
    this.history = chartFromRecords(byRole, since);
  }

  private sample(topo: Topology, at: number): void {
    this.history.push(...samplesOf(topo, at));
    const cutoff = at - HISTORY_MIN * 60_000;
    while (this.history.length && this.history[0].at < cutoff) this.history.shift();
  }

  private say(text: string, kind: Change['kind'], at: number): void {
    this.changes.push({ seq: ++this.seq, at, text, kind });
    if (this.changes.length > 20) this.changes.shift();
  }

  /** What is different from the last cycle: checks that turned, segments archived, edges, servers, primaries. */
  private noteChanges(before: Snapshot | undefined, now: Snapshot): void {
    if (!before?.topology) return;
    const at = now.at;
    const a = before.topology;
    const b = now.topology!;
    for (const s of b.servers) {
      const old = a.servers.find((x) => x.role === s.role);
      if (old && old.up !== s.up) this.say(t(s.up ? 'watch.serverUp' : 'watch.serverDown', { role: s.role }), s.up ? 'good' : 'bad', at);
      if (old?.up && s.up && !old.primary && s.primary) this.say(t('watch.nowPrimary', { role: s.role, tli: s.timeline ?? '?' }), 'info', at);
    }
    for (const arch of b.archives) {
      const old = a.archives.find((x) => x.from === arch.from);
      if (arch.lastArchived && arch.lastArchived !== old?.lastArchived) this.say(t('watch.segment', { segment: arch.lastArchived, role: arch.to ?? arch.from }), 'good', at);
    }
    const key = (e: { from: string; to: string }) => `${e.from}>${e.to}`;
    const streaming = (topo: Topology) => new Set(topo.streams.filter((e) => e.state === 'streaming').map(key));
    const [was, is] = [streaming(a), streaming(b)];
    for (const k of is) if (!was.has(k)) this.say(t('watch.streamingUp', { from: k.split('>')[0], to: k.split('>')[1] }), 'good', at);
    for (const k of was) if (!is.has(k)) this.say(t('watch.streamingDown', { from: k.split('>')[0], to: k.split('>')[1] }), 'bad', at);
    if (before.result && now.result && before.step.id === now.step.id) {
      for (const c of now.result.checks) {
        const old = before.result.checks.find((x) => x.id === c.id);
        if (!old || (old.status === 'pass') === (c.status === 'pass')) continue;
        this.say(t(c.status === 'pass' ? 'watch.passed' : 'watch.failed', { title: c.title }), c.status === 'pass' ? 'good' : 'bad', at);
      }
    }
  }

  /**
   * How long to wait before the next cycle: CYCLE_S right after a change; once things are quiet,
   * long enough that cycles stay a small share of the time (BUSY_FACTOR), up to MAX_CYCLE_S.
   */
  nextDelayMs(): number {
    if (this.quiet < EAGER_CYCLES) return CYCLE_S * 1000;
    return Math.min(MAX_CYCLE_S * 1000, Math.max(CYCLE_S * 1000, this.lastMs * BUSY_FACTOR));
  }

  /** The line said once a step is complete. */
  doneText(step: StepSpec): string {
    const i = this.lab.steps.findIndex((s) => s.id === step.id);
    const next = this.lab.steps[i + 1];
    return next ? t('watch.stepDone', { next: next.id }) : t('watch.lastStepDone');
  }

  stepTitle(step: StepSpec): string {
    return localized(step.title);
  }
}

/** One chart point per primary of this cycle: its standbys' worst received-position lag, its own archiving. */
export function samplesOf(topo: Topology, at: number): Sample[] {
  return topo.primaries.map((role) => {
    const lags = topo.streams.filter((e) => e.from === role && e.state === 'streaming' && e.receiveLagBytes !== undefined).map((e) => e.receiveLagBytes!);
    const archive = topo.archives.find((a) => a.from === role && a.state !== 'off');
    return { at, role, lagBytes: lags.length ? Math.max(...lags) : undefined, waiting: archive?.waiting ?? 0, lastArchived: archive?.lastArchived };
  });
}
