/**
 * A lab env for an e2e test, as PostgreSQL's own PostgreSQL::Test::Cluster is for its TAP tests:
 * one object that makes the env (`lab down --purge` of any leftover, then `lab up`), knows its
 * version's paths and its lab's facts, and drives it through the real CLI (solve, check, exec,
 * psql), asserting that each step it is asked to do really happened. Instead of each test file
 * writing its own set-up, solve() and paths.
 *
 *   const c = LabCluster.forSuite('tut91', { pg: '9.1' });   // beforeAll up, afterAll down --purge
 *   it('…', async () => { await c.solve('step-1'); expect((await c.checks('step-1'))['ssh-batch'].status).toBe('pass'); });
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { labFacts } from '../../src/lab/manifest.js';
import { profileFor, type PgMajor, type PgProfile } from '../../src/pg/profile.js';
import { byId, checkJson, envNameFor, lab, type CliResult, type JsonCheck, type JsonReport } from './helpers.js';

export interface ClusterOptions {
  pg: string;
  /** The lab the env is made for (default: `lab up`'s own, wal-streaming). */
  lab?: string;
  /** More `lab up` arguments (--standbys 2, --image …). */
  upArgs?: string[];
  /** The env's name when a suite needs its own (default: envNameFor(tag), unique to this run). */
  name?: string;
}

export class LabCluster {
  readonly env: string;
  readonly pg: PgMajor;
  readonly lab: string;
  readonly profile: PgProfile;
  /** Sections solved so far, in order. */
  readonly solved: string[] = [];

  constructor(tag: string, readonly opts: ClusterOptions) {
    this.env = opts.name ?? envNameFor(tag);
    this.pg = opts.pg as PgMajor;
    this.lab = opts.lab ?? 'wal-streaming';
    this.profile = profileFor(this.pg);
  }

  /** A cluster made before the suite's tests and removed after them (volumes included). */
  static forSuite(tag: string, opts: ClusterOptions): LabCluster {
    const cluster = new LabCluster(tag, opts);
    beforeAll(async () => void (await cluster.up()));
    afterAll(() => cluster.down());
    return cluster;
  }

  /** The version's directories and the lab's own constants (lab.json `facts`). */
  get dataDir(): string { return this.profile.dataDir; }
  get confDir(): string { return this.profile.confDir; }
  get facts(): Record<string, string> { return labFacts(this.lab); }

  /** `lab <args> --env <this env>` (before a `--`: what follows it is the command's own). */
  run(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    const cut = args.includes('--') ? args.indexOf('--') : args.length;
    return lab([...args.slice(0, cut), '--env', this.env, ...args.slice(cut)], env);
  }

  /** A fresh env: any leftover of an interrupted run goes first. */
  async up(): Promise<CliResult> {
    await this.down();
    const r = await this.run(['up', ...(this.opts.lab ? ['--lab', this.opts.lab] : []), '--pg', this.opts.pg, ...(this.opts.upArgs ?? [])]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    return r;
  }

  async down(): Promise<void> {
    await this.run(['down', '--purge', '--yes']);
  }

  /** Applies a section's reference solution, as `lab solve` does for a student who is stuck. */
  async solve(step: string): Promise<CliResult> {
    const r = await this.run(['solve', step, '--yes']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    this.solved.push(step);
    return r;
  }

  /** `lab check <step> --json`. */
  check(step: string): Promise<{ code: number; report: JsonReport; ms: number }> {
    return checkJson(this.env, step);
  }

  /** The checks of `step`, by id. */
  async checks(step: string): Promise<Record<string, JsonCheck>> {
    return byId((await this.check(step)).report.steps[0]);
  }

  /** Every section solved so far passes, not only the last one. */
  async expectSolvedPass(): Promise<void> {
    for (const step of this.solved) {
      const failing = Object.values(await this.checks(step)).filter((c) => c.status !== 'pass');
      expect(failing.map((c) => `${step}/${c.id}: ${c.reason} ${JSON.stringify(c.evidence)}`)).toEqual([]);
    }
  }

  /** `lab exec` as root or postgres (argv, never a shell string). */
  exec(server: string, user: 'root' | 'postgres', argv: string[]): Promise<CliResult> {
    return this.run(['exec', server, '--user', user, '--', ...argv]);
  }

  /** One SQL statement through psql on a server's socket; its unaligned output, trimmed. Fails the test if psql fails. */
  async psql(server: string, sql: string, opts: { db?: string } = {}): Promise<string> {
    const r = await this.exec(server, 'postgres', ['psql', '-XAtq', '-d', opts.db ?? 'postgres', '-c', sql]);
    expect(r.code, `${server}: ${sql}\n${r.stderr}`).toBe(0);
    return r.stdout.trim();
  }

  /** Appends lines to a file in a container (the lines travel as arguments, never inside the script). */
  async append(server: string, user: 'root' | 'postgres', file: string, lines: string[]): Promise<void> {
    const r = await this.exec(server, user, ['sh', '-c', 'f="$1"; shift; printf "%s\\n" "$@" >> "$f"', 'sh', file, ...lines]);
    expect(r.code, r.stderr).toBe(0);
  }
}
