/**
 * Red team (issue 16): a student who is root in both containers attacks the graders. Each attack
 * runs on a fresh env and must earn nothing beyond what the student really did:
 * - a fresh, untouched env earns 0 points (same-version, true by construction, is worth 0);
 * - step 1: the init's pristine copies copied to /root, stanzas appended to /var/lib/dpkg/status,
 *   `exec -a /usr/sbin/sshd sleep infinity` (and a copy of sleep named sshd), /usr/bin/ssh replaced
 *   by `exit 0`: step 1 earns 0, and archive-settings typed without rsync fails;
 * - rsync and ssh really installed, archive settings right, but no key: every archive attempt fails
 *   and archive-settings says so;
 * - a flooded archive directory (200 000 files) does not take `lab grade` of two envs past a 1 GB
 *   heap: both reports are written, with "salida truncada" where a listing was cut.
 * PGLAB_E2E_VERSIONS picks the versions (default 9.1,15).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { byId, checkJson, envNameFor, exec, lab, ROOT } from './helpers.js';

const VERSIONS = (process.env.PGLAB_E2E_VERSIONS ?? '9.1,15').split(',');
const ARCHIVE = '/var/lib/postgresql/wal_archive';

interface GradedCheck { id: string; status: string; points: number; maxPoints: number; reason?: string; evidence: Record<string, unknown> }
interface Graded { env: string; score: number; maxScore: number; error?: string; steps: { step: string; checks: GradedCheck[] }[] }

async function grade(env: string): Promise<Graded> {
  const r = await lab(['grade', '--env', env, '--format', 'json']);
  expect(r.code, r.stderr).toBeLessThan(2);
  return JSON.parse(r.stdout).envs[0] as Graded;
}
const earned = (g: Graded) => g.steps.flatMap((s) => s.checks.filter((c) => c.points > 0).map((c) => `${s.step}/${c.id}`)).sort();

async function root(env: string, server: string, script: string, ...args: string[]) {
  const r = await exec(env, server, 'root', ['bash', '-c', script, 'attack', ...args]);
  expect(r.code, `${server}: ${script}\n${r.stderr}`).toBe(0);
  return r;
}

/** The archive settings of step 2, typed into maestro's postgresql.conf and restarted. */
async function typeArchiveSettings(env: string, pg: string, esclavoIp: string) {
  const conf = `/etc/postgresql/${pg}/main/postgresql.conf`;
  const lines = [
    "wal_level = 'hot_standby'", 'max_wal_senders = 3', "listen_addresses = '*'",
    'archive_mode = on', `archive_command = 'rsync -a %p postgres@${esclavoIp}:${ARCHIVE}/%f'`, 'archive_timeout = 60',
  ];
  await root(env, 'maestro', 'printf "%s\\n" "${@:2}" >> "$1"', conf, ...lines);
  await root(env, 'maestro', `/etc/init.d/postgresql restart ${pg} >/dev/null 2>&1 || pg_ctlcluster ${pg} main restart`);
  await exec(env, 'esclavo', 'postgres', ['mkdir', '-p', ARCHIVE]);
}

/** Two segment switches with something written in each, so the archiver has work (and fails it). */
async function switchSegments(env: string, pg: string) {
  const fn = pg === '9.1' ? 'pg_switch_xlog' : 'pg_switch_wal';
  for (let i = 0; i < 2; i++) {
    const r = await exec(env, 'maestro', 'postgres', ['psql', '-X', '-q', '-c', `CREATE TABLE IF NOT EXISTS red_team (x int); INSERT INTO red_team VALUES (${i}); SELECT ${fn}();`]);
    expect(r.code, r.stderr).toBe(0);
  }
}

function stepPoints(g: Graded, step: string): number {
  return g.steps.find((s) => s.step === step)!.checks.reduce((sum, c) => sum + c.points, 0);
}

describe.each(VERSIONS)('red team on PostgreSQL %s', (pg) => {
  const attacked = envNameFor(`rta${pg.replace('.', '')}`);
  const noKey = envNameFor(`rtk${pg.replace('.', '')}`);
  let esclavoIp = '';
  let esclavoIpNoKey = '';

  beforeAll(async () => {
    for (const env of [attacked, noKey]) {
      await lab(['down', '--env', env, '--purge', '--yes']);
      const up = await lab(['up', '--pg', pg, '--env', env]);
      expect(up.code, up.stderr).toBe(0);
      const ip = /esclavo\s+(\S+)/.exec(up.stdout)![1];
      if (env === attacked) esclavoIp = ip;
      else esclavoIpNoKey = ip;
    }
  });
  afterAll(async () => {
    for (const env of [attacked, noKey]) await lab(['down', '--env', env, '--purge', '--yes']);
  });

  it('a fresh, untouched env earns 0 points (same-version is shown, worth 0; esclavo-up needs a standby)', async () => {
    const g = await grade(attacked);
    expect(g.error).toBeUndefined();
    expect(earned(g)).toEqual([]);
    expect(g.score).toBe(0);
    const shown = g.steps.flatMap((s) => s.checks).filter((c) => c.id === 'same-version' || c.id === 'esclavo-up');
    expect(shown.map((c) => c.id).sort()).toEqual(['esclavo-up', 'same-version']);
  });

  it('step 1 attacks (pristine copies in /root, dpkg stanzas, fake sshd, ssh = exit 0) earn nothing; archive settings typed without rsync fail', async () => {
    for (const server of ['maestro', 'esclavo']) {
      await root(attacked, server, 'cp /var/lib/pglab/pristine/* /root/');
      await root(attacked, server, 'for p in openssh-server openssh-client rsync; do printf "\\nPackage: %s\\nStatus: install ok installed\\nPriority: optional\\nSection: net\\nMaintainer: x <x@x>\\nArchitecture: all\\nVersion: 1:9.2p1-2\\nDescription: x\\n" "$p" >> /var/lib/dpkg/status; done');
      await root(attacked, server, 'printf "#!/bin/sh\\nexit 0\\n" > /usr/bin/ssh && chmod 755 /usr/bin/ssh');
      await root(attacked, server, 'nohup bash -c "exec -a /usr/sbin/sshd sleep infinity" >/dev/null 2>&1 </dev/null &');
      await root(attacked, server, 'cp /bin/sleep /tmp/sshd && nohup /tmp/sshd infinity >/dev/null 2>&1 </dev/null &');
    }
    // The premises: the forgeries are there as a container-trusting grader would see them.
    expect((await exec(attacked, 'maestro', 'root', ['dpkg-query', '-W', '-f=${db:Status-Status}\\n', 'rsync'])).stdout.trim()).toBe('installed');
    expect((await exec(attacked, 'maestro', 'postgres', ['ssh', '-o', 'BatchMode=yes', `postgres@${esclavoIp}`, 'true'])).code).toBe(0);
    expect((await exec(attacked, 'maestro', 'root', ['ps', '-eo', 'args='])).stdout).toMatch(/^\/usr\/sbin\/sshd/m);

    const step1 = byId((await checkJson(attacked, 'step-1')).report.steps[0]);
    for (const id of ['config-backups', 'ssh-rsync', 'sshd', 'ssh-batch']) expect(step1[id].status, `${id}: ${JSON.stringify(step1[id].evidence)}`).toBe('fail');
    expect(step1['ssh-rsync'].reason).toMatch(/missing|tampered/);

    await typeArchiveSettings(attacked, pg, esclavoIp);
    await switchSegments(attacked, pg);
    const settings = byId((await checkJson(attacked, 'step-2')).report.steps[0])['archive-settings'];
    expect(settings.status, JSON.stringify(settings.evidence)).toBe('fail');
    expect(settings.reason).toBe('tool-missing');
    expect(String(settings.evidence.missing)).toMatch(/rsync/);

    // Typing the settings earns the settings checks, nothing else.
    const g = await grade(attacked);
    expect(stepPoints(g, 'step-1')).toBe(0);
    const allowed = new Set(['step-2/wal-settings', 'step-2/listen', 'step-2/archive-dir', 'step-3/maestro-listen', 'step-4/maestro-restarted']);
    expect(earned(g).filter((id) => !allowed.has(id)), JSON.stringify(earned(g))).toEqual([]);
  });

  it('rsync and ssh really installed, settings right, no key: every archive attempt fails and archive-settings says so', async () => {
    for (const server of ['maestro', 'esclavo']) {
      await root(noKey, server, 'DEBIAN_FRONTEND=noninteractive apt-get install -y openssh-server rsync >/dev/null 2>&1 && /etc/init.d/ssh start >/dev/null');
    }
    await typeArchiveSettings(noKey, pg, esclavoIpNoKey);
    await switchSegments(noKey, pg);
    let settings = byId((await checkJson(noKey, 'step-2')).report.steps[0])['archive-settings'];
    for (let i = 0; i < 20 && settings.reason !== 'archive-failing'; i++) {
      await new Promise((r) => setTimeout(r, 1500));
      settings = byId((await checkJson(noKey, 'step-2')).report.steps[0])['archive-settings'];
    }
    expect(settings.status, JSON.stringify(settings)).toBe('fail');
    expect(settings.reason).toBe('archive-failing');
    const step1 = byId((await checkJson(noKey, 'step-1')).report.steps[0]);
    // What the student really did in step 1 (ssh and rsync installed, sshd running) counts; the rest does not.
    expect(step1['ssh-rsync'].status, JSON.stringify(step1['ssh-rsync'].evidence)).toBe('pass');
    expect(step1.sshd.status, JSON.stringify(step1.sshd.evidence)).toBe('pass');
    expect(step1['ssh-batch'].status).toBe('fail');
    expect(step1['config-backups'].status).toBe('fail');
  });

  it('a flooded archive directory (200 000 files) does not take lab grade of two envs past a 1 GB heap: both reports written', async () => {
    for (const env of [attacked, noKey]) {
      // WAL-like names, so every listing and every grader that reads it sees them all.
      await root(env, 'esclavo', 'cd "$1" && seq 1 200000 | awk \'{ printf "%024X\\n", $1 + 4096 }\' | xargs touch && chown -R postgres: "$1"', ARCHIVE);
    }
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'pglab-red-')), 'grade.json');
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile('node', ['--max-old-space-size=1024', path.join(ROOT, 'bin', 'lab.js'), 'grade', '--env', attacked, noKey, '--format', 'json', '--out', out],
        { maxBuffer: 16 << 20, timeout: 600_000 },
        (err, _stdout, stderr) => resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, stderr }));
    });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8')) as { envs: Graded[] };
    expect(report.envs.map((e) => e.env).sort()).toEqual([attacked, noKey].sort());
    for (const e of report.envs) expect(e.error, e.env).toBeUndefined();
    const segments = report.envs.flatMap((e) => e.steps.flatMap((s) => s.checks.filter((c) => c.id === 'segments')));
    expect(segments.every((c) => c.status === 'fail')).toBe(true);
    // Bounded either way: the listing cut at 5000 entries and said so, or (a loaded host) the probe's own timeout.
    for (const c of segments) {
      expect(String(c.evidence.salida ?? '').includes('salida truncada') || c.evidence.command === 'find', JSON.stringify(c.evidence)).toBe(true);
    }
  });
});
