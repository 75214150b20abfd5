/**
 * The env's observer (src/observer/) and grades an instructor can trust (issue 16), on real
 * containers: the attacks of the issue on steps 2–6, each on a fresh env, earn only what was really
 * done; the tutorial done right and graded once at the end, after maestro kept being used, earns
 * 100 %; streaming broken before the promotion is ✗ live with when it last worked; the observer's
 * records survive restarts of the servers, of itself, and `lab down` / `lab up`.
 * PGLAB_E2E_VERSIONS=9.1,15 (default both).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkJson, envNameFor, exec, lab, ROOT, byId } from './helpers.js';

const VERSIONS = (process.env.PGLAB_E2E_VERSIONS ?? '9.1,15').split(',');

interface GradedCheck {
  id: string; status: string; points: number; maxPoints: number; source: string; reason?: string; evidence: Record<string, unknown>; hint?: string;
}
interface GradedStep { step: string; points: number; maxPoints: number; solvedAt?: string; checks: GradedCheck[] }
interface Graded { score: number; maxScore: number; percentage: number; error?: string; steps: GradedStep[]; observer?: { records: number; tampered: number } }

async function grade(env: string, ...extra: string[]): Promise<Graded> {
  const r = await lab(['grade', '--env', env, '--format', 'json', ...extra]);
  expect(r.code, r.stderr).toBeLessThan(2);
  return JSON.parse(r.stdout).envs[0] as Graded;
}
const earned = (g: Graded) => g.steps.flatMap((s) => s.checks.filter((c) => c.points > 0).map((c) => `${s.step}/${c.id}`)).sort();
const lost = (g: Graded) => g.steps.flatMap((s) => s.checks.filter((c) => c.points < c.maxPoints).map((c) => `${s.step}/${c.id}`)).sort();
const check = (g: Graded, key: string) => {
  const [step, id] = key.split('/');
  return g.steps.find((s) => s.step === step)!.checks.find((c) => c.id === id)!;
};
const docker = (args: string[], input?: string) => execFileSync('docker', args, { encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
const sh = (cmd: string) => execFileSync('bash', ['-c', cmd], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The observer looks every 4 s: let it see a state before the next action changes it. */
const observerTick = () => sleep(9000);

async function solve(env: string, ...steps: string[]) {
  for (const step of steps) {
    const r = await lab(['solve', step, '--env', env, '--yes']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
  }
}
async function psql(env: string, server: string, sql: string) {
  const r = await exec(env, server, 'postgres', ['psql', '-qAtX', '-c', sql]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}
async function fresh(env: string, pg: string) {
  await lab(['down', '--env', env, '--purge', '--yes']);
  const up = await lab(['up', '--pg', pg, '--env', env]);
  expect(up.code, up.stderr).toBe(0);
}

const CHECK_KEYS: string[] = (JSON.parse(readFileSync(path.join(ROOT, 'labs/wal-streaming/lab.json'), 'utf8')).steps as { id: string; checks: { id: string }[] }[])
  .flatMap((s) => [s.id, ...s.checks.map((c) => `${s.id}/${c.id}`)]);

describe.each(VERSIONS)('observer and trusted grades on PostgreSQL %s', (pg) => {
  const v = pg.replace('.', '');
  const data = `/var/lib/postgresql/${pg}/main`;
  const conf = `/etc/postgresql/${pg}/main/postgresql.conf`;
  const walDir = pg === '9.1' ? 'pg_xlog' : 'pg_wal';
  const switchWal = pg === '9.1' ? 'pg_switch_xlog' : 'pg_switch_wal';
  const made: string[] = [];
  const envFor = (tag: string) => {
    const env = envNameFor(`${tag}${v}`);
    made.push(env);
    return env;
  };
  afterAll(async () => {
    for (const env of made) await lab(['down', '--env', env, '--purge', '--yes']);
  });

  async function sysid(env: string, server: string): Promise<string> {
    const r = await exec(env, server, 'postgres', [`/usr/lib/postgresql/${pg}/bin/pg_controldata`, data]);
    return /Database system identifier:\s+(\d+)/.exec(r.stdout)?.[1] ?? /identificador de sistema.*?:\s+(\d+)/i.exec(r.stdout)?.[1] ?? '';
  }
  async function restartPg(env: string, server: string, action = 'restart') {
    const r = await exec(env, server, 'root', ['pg_ctlcluster', pg, 'main', action]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
  }

  it('the attacks of the issue on steps 2–6, each on a fresh env, earn only what was really done', { timeout: 900_000 }, async () => {
    const env = envFor('atk');
    const ip = (last: number) => `${JSON.parse(docker(['network', 'inspect', `pglab-${env}`]))[0].IPAM.Config[0].Subnet.split('.').slice(0, 3).join('.')}.${last}`;

    // 1. Forged progress.jsonl lines: a pass for every check, dated in the future.
    await fresh(env, pg);
    const baseline = await grade(env);
    const lines = CHECK_KEYS.map((key) => JSON.stringify({ at: '2099-01-01T00:00:00Z', lab: 'wal-streaming', key, status: 'pass' })).join('\n') + '\n';
    await exec(env, 'maestro', 'root', ['sh', '-c', 'printf "%s" "$1" >> /var/lib/pglab/progress.jsonl', 'x', lines]);
    const afterProgress = await grade(env);
    expect(earned(afterProgress)).toEqual(earned(baseline));

    // 2. Forged flight-recorder lines on both servers: maestro's identifier, a streaming esclavo, segments archived.
    const ms = await sysid(env, 'maestro');
    const now = Math.floor(Date.now() / 1000);
    const rec = (role: string) => Array.from({ length: 30 }, (_, i) => role === 'maestro'
      ? `R1\t${now - 600 + i * 5}\tup=1\tsysid=${ms}\trec=f\twal=000000010000000000000003\trcv=\trpl=\tsnd=${ip(11)}/streaming/0/3000000\twr=\tdone=000000010000000000000002\tready=0`
      : `R1\t${now - 600 + i * 5}\tup=1\tsysid=${ms}\trec=t\twal=\trcv=0/3000000\trpl=0/3000000\tsnd=\twr=streaming\tdone=\tready=0`).join('\n');
    for (const role of ['maestro', 'esclavo']) {
      await exec(env, role, 'root', ['sh', '-c', `mkdir -p /var/lib/pglab/recorder && printf '%s\\n' "$1" >> /var/lib/pglab/recorder/current.tsv`, 'x', rec(role)]);
    }
    expect(earned(await grade(env))).toEqual(earned(baseline));

    // 3. A hand-written backup history file and touched .done marks, in maestro's WAL directory and esclavo's archive.
    const backup = `START WAL LOCATION: 0/2000020 (file 000000010000000000000002)\nSTOP WAL LOCATION: 0/20000D8 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000058\nSTART TIME: 2026-12-01 10:00:00 UTC\nLABEL: base\nSTOP TIME: 2026-12-01 10:00:01 UTC\n`;
    const hist = '000000010000000000000002.00000020.backup';
    await exec(env, 'maestro', 'postgres', ['sh', '-c', `printf '%s' "$1" > ${data}/${walDir}/${hist} && mkdir -p ${data}/${walDir}/archive_status && touch ${data}/${walDir}/archive_status/${hist}.done ${data}/${walDir}/archive_status/000000010000000000000001.done`, 'x', backup]);
    await exec(env, 'esclavo', 'postgres', ['sh', '-c', `mkdir -p /var/lib/postgresql/wal_archive && printf '%s' "$1" > /var/lib/postgresql/wal_archive/${hist}`, 'x', backup]);
    const afterBackup = await grade(env);
    expect(check(afterBackup, 'step-2/base-backup').points).toBe(0);
    expect(check(afterBackup, 'step-2/segments').points).toBe(0);
    // mkdir of the archive is the one thing really done.
    expect(earned(afterBackup)).toEqual([...earned(baseline), 'step-2/archive-dir'].sort());

    // 7. Laundering through lab grade: what a grading appends to the log (display only) is never believed;
    // the forgeries deleted, the next grade is the baseline again.
    await grade(env);
    await exec(env, 'maestro', 'root', ['sh', '-c', `rm -f /var/lib/pglab/progress.jsonl /var/lib/pglab/recorder/*.tsv ${data}/${walDir}/${hist} ${data}/${walDir}/archive_status/*.done`]);
    await exec(env, 'esclavo', 'root', ['sh', '-c', 'rm -rf /var/lib/pglab/recorder/*.tsv /var/lib/postgresql/wal_archive']);
    expect(earned(await grade(env))).toEqual(earned(baseline));

    // 5. esclavo's pg_controldata replaced by a wrapper that prints maestro's identifier: not a clone.
    const bin = `/usr/lib/postgresql/${pg}/bin/pg_controldata`;
    await exec(env, 'esclavo', 'root', ['sh', '-c', 'mv "$1" "$1.real" && printf "%s\\n" "#!/bin/sh" "echo \\"Database system identifier:           $2\\"" > "$1" && chmod 755 "$1"', 'x', bin, ms]);
    expect((await exec(env, 'esclavo', 'postgres', [bin, data])).stdout).toContain(ms);
    const wrapped = await grade(env);
    expect(check(wrapped, 'step-2/clone')).toMatchObject({ status: 'fail', points: 0 });
    expect(earned(wrapped)).toEqual(earned(baseline));
    await exec(env, 'esclavo', 'root', ['mv', `${bin}.real`, bin]);

    // 6. A WAL segment copied by hand into esclavo's archive, archiving typed but failing (no rsync on maestro).
    await fresh(env, pg);
    const base6 = await grade(env);
    await exec(env, 'esclavo', 'postgres', ['mkdir', '-p', '/var/lib/postgresql/wal_archive']);
    await exec(env, 'maestro', 'root', ['sh', '-c', `printf "%s\\n" "wal_level = hot_standby" "archive_mode = on" "archive_command = 'rsync -a %p postgres@${ip(11)}:/var/lib/postgresql/wal_archive/%f'" "archive_timeout = 60" >> ${conf}`]);
    await restartPg(env, 'maestro');
    await psql(env, 'maestro', `CREATE TABLE t AS SELECT 1 AS x; SELECT ${switchWal}();`);
    const seg = (await exec(env, 'maestro', 'postgres', ['sh', '-c', `ls ${data}/${walDir} | grep -E '^[0-9A-F]{24}$' | sort | head -1`])).stdout.trim();
    sh(`docker exec pglab-${env}-maestro cat ${data}/${walDir}/${seg} | docker exec -i -u postgres pglab-${env}-esclavo sh -c 'cat > /var/lib/postgresql/wal_archive/${seg}'`);
    await observerTick();
    const copied = await grade(env);
    expect(check(copied, 'step-2/segments')).toMatchObject({ points: 0, reason: 'not-shipped' });
    expect(check(copied, 'step-2/base-backup').points).toBe(0);
    expect(lost(copied).filter((k) => k.startsWith('step-5') || k.startsWith('step-6'))).toHaveLength(lost(base6).filter((k) => k.startsWith('step-5') || k.startsWith('step-6')).length);

    // 4. A cold tar copy of maestro's stopped data directory, "promoted" by an archive recovery that finds nothing.
    await fresh(env, pg);
    const base4 = await grade(env);
    await restartPg(env, 'maestro', 'stop');
    await restartPg(env, 'esclavo', 'stop');
    sh(`docker exec pglab-${env}-esclavo rm -rf ${data} && docker exec pglab-${env}-maestro tar -C /var/lib/postgresql/${pg} -cf - main | docker exec -i pglab-${env}-esclavo tar -C /var/lib/postgresql/${pg} -xpf -`);
    if (pg === '9.1') await exec(env, 'esclavo', 'postgres', ['sh', '-c', `echo "restore_command = 'false'" > ${data}/recovery.conf`]);
    else await exec(env, 'esclavo', 'postgres', ['sh', '-c', `touch ${data}/recovery.signal && echo "restore_command = 'false'" >> ${conf}`]);
    await restartPg(env, 'maestro', 'start');
    await restartPg(env, 'esclavo', 'start');
    await observerTick();
    const cold = await grade(env);
    // The copy is a clone (same identity, really copied); nothing streamed, nothing was promoted.
    for (const key of ['step-6/promoted', 'step-6/promoted-properly', 'step-6/rows-kept', 'step-5/wal-sender', 'step-5/wal-receiver', 'step-4/esclavo-recovery', 'step-3/standby-config', 'step-2/base-backup', 'step-2/segments']) {
      expect(check(cold, key).points, key).toBe(0);
    }
    expect(earned(cold).filter((k) => !earned(base4).includes(k))).toEqual(expect.arrayContaining(['step-2/clone']));
    expect(earned(cold).filter((k) => !earned(base4).includes(k)).every((k) => ['step-2/clone', 'step-2/tarball-cleaned', 'step-6/timeline'].includes(k)), earned(cold).join(' ')).toBe(true);
  });

  it('the tutorial done right, graded once at the end after maestro kept being used: 100 %; solved steps count only with --count-solved; streaming broken before the promotion is ✗ with when it worked', { timeout: 900_000 }, async () => {
    const env = envFor('hon');
    await fresh(env, pg);
    await solve(env, 'step-1', 'step-2', 'step-3', 'step-4', 'step-5');
    await observerTick();
    // Streaming broken now, before any promotion: step 5 is ✗ live and says when it last worked.
    await restartPg(env, 'esclavo', 'stop');
    await observerTick();
    const broken = byId((await checkJson(env, 'step-5')).report.steps[0]);
    expect(broken['wal-sender']).toMatchObject({ status: 'fail', points: 0 });
    expect(String(broken['wal-sender'].evidence.worked_until)).toMatch(/^\d\d:\d\d/);
    expect(broken['wal-sender'].hint).toMatch(/^Funcionaba a las \d\d:\d\d, ahora no\./);
    await restartPg(env, 'esclavo', 'start');
    await expect.poll(async () => byId((await checkJson(env, 'step-5')).report.steps[0])['wal-sender'].status, { timeout: 60_000, interval: 2000 }).toBe('pass');
    await observerTick();
    await solve(env, 'step-6');
    // Step 6 §3: a row written on the promoted esclavo.
    await psql(env, 'esclavo', "INSERT INTO prueba_replicacion (texto) VALUES ('después de la promoción')");
    // maestro keeps being used: writes, segment switches (old segments recycle, .done files go), a checkpoint.
    for (let i = 0; i < 4; i++) await psql(env, 'maestro', `CREATE TABLE IF NOT EXISTS uso (i int); INSERT INTO uso SELECT generate_series(1, 20000); SELECT ${switchWal}();`);
    await psql(env, 'maestro', 'CHECKPOINT');
    await observerTick();
    const counted = await grade(env, '--count-solved');
    expect(lost(counted)).toEqual([]);
    expect(counted.percentage).toBe(100);
    expect(counted.observer).toMatchObject({ tampered: 0 });
    expect(counted.steps.every((s) => s.solvedAt)).toBe(true);
    // By default a step done with `lab solve` earns nothing, and the report says so.
    const plain = await grade(env);
    expect(plain.score).toBe(0);
    const text = await lab(['grade', '--env', env]);
    expect(text.stdout.match(/resuelto con `lab solve`/g)?.length).toBe(6);

    // The observer keeps its records across restarts of both servers, of itself, and lab down / lab up.
    const before = counted.observer!.records;
    docker(['restart', `pglab-${env}-maestro`, `pglab-${env}-esclavo`, `pglab-${env}-observer`]);
    const downR = await lab(['down', '--env', env]);
    expect(downR.code, downR.stderr + downR.stdout).toBe(0);
    expect(docker(['ps', '-a', '--filter', `name=pglab-${env}-observer`, '--format', '{{.Names}}']).trim()).toBe('');
    const upR = await lab(['up', '--env', env]);
    expect(upR.code, upR.stderr + upR.stdout).toBe(0);
    await observerTick();
    const again = await grade(env, '--count-solved');
    expect(again.observer!.records).toBeGreaterThan(before);
    expect(again.observer!.tampered).toBe(0);
    expect(again.percentage).toBe(100);
    // The observer: no network, its own volume, read-only views of the servers, restarted by Docker.
    const hc = JSON.parse(docker(['inspect', `pglab-${env}-observer`]))[0].HostConfig;
    expect(hc.NetworkMode).toBe('none');
    expect(hc.RestartPolicy.Name).toBe('unless-stopped');
    expect(hc.Binds.filter((b: string) => b.includes('-home:')).every((b: string) => b.endsWith(':ro'))).toBe(true);
    for (const server of ['maestro', 'esclavo']) {
      const mounts = JSON.parse(docker(['inspect', `pglab-${env}-${server}`]))[0].Mounts.map((m: { Name: string }) => m.Name);
      expect(mounts).not.toContain(`pglab-${env}-observer`);
    }
  });
});
