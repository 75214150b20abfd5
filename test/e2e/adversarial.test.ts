/**
 * The graders against a student who gets things wrong on purpose or by accident (PostgreSQL 15):
 * fake WAL files, a wrapped archive_command, commented-out standby settings, a pg_hba rule for
 * the wrong address, a server stopped in the middle of a check, a "promotion" by hand.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookNow, readObservation } from '../../src/observer/observer.js';
import { readArchive, type ArchiveLimits, type ArchiveRead } from '../../src/docker/container-files.js';
import { InspectorFiles } from '../../src/docker/inspector-files.js';
import { inspectContainer } from '../../src/docker/objects.js';
import { ensureInspector } from '../../src/docker/probe-container.js';
import { LabCluster } from './cluster.js';

const cluster = new LabCluster('adv', { pg: '15' });
const ARCHIVE = cluster.facts.archive;
const CONF = cluster.confDir;
const DATA = cluster.dataDir;
let maestroIp = '';
let esclavoIp = '';

async function check(step: string, id: string) {
  return (await cluster.checks(step))[id];
}
const solve = (step: string) => cluster.solve(step);

describe('graders are not fooled (PostgreSQL 15)', () => {
  beforeAll(async () => {
    const up = await cluster.up();
    maestroIp = /maestro\s+(\S+)/.exec(up.stdout)![1];
    esclavoIp = /esclavo\s+(\S+)/.exec(up.stdout)![1];
    await solve('step-1');
    expect((await cluster.exec('esclavo', 'postgres', ['mkdir', '-p', ARCHIVE])).code).toBe(0);
  });
  afterAll(() => cluster.down());

  it('rejects a file of zeros with a WAL segment name', async () => {
    await cluster.exec('esclavo', 'postgres', ['truncate', '-s', '16M', `${ARCHIVE}/000000010000000000000001`]);
    const c = await check('step-2', 'segments');
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('invalid');
    expect(String(c.evidence.rejected)).toMatch(/bad-magic/);
    await cluster.exec('esclavo', 'postgres', ['rm', `${ARCHIVE}/000000010000000000000001`]);
  });

  it('rejects a genuine segment of another cluster (esclavo\'s own WAL)', async () => {
    const own = (await cluster.exec('esclavo', 'postgres', ['ls', `${DATA}/pg_wal`])).stdout.split('\n').find((n) => /^[0-9A-F]{24}$/.test(n))!;
    await cluster.exec('esclavo', 'postgres', ['cp', `${DATA}/pg_wal/${own}`, `${ARCHIVE}/${own}`]);
    const c = await check('step-2', 'segments');
    // The premise: two clusters, two identifiers (initdb derives them from the time and the pid).
    const clone = (await cluster.checks('step-2')).clone;
    expect(clone.reason, JSON.stringify(clone.evidence)).toBe('not-clone');
    expect(c.status, JSON.stringify(c)).toBe('fail');
    expect(String(c.evidence.rejected)).toMatch(/sysid-mismatch/);
    await cluster.exec('esclavo', 'postgres', ['rm', `${ARCHIVE}/${own}`]);
  });

  it('recognises archive_command typed with the PDF line break as a space', async () => {
    const wrapped = `archive_command = 'rsync -av %p postgres@${esclavoIp}: ${ARCHIVE}/%f'`;
    await cluster.exec('maestro', 'root', ['sh', '-c', `printf '%s\\n' "$1" >> ${CONF}/postgresql.conf && printf 'archive_mode = on\\n' >> ${CONF}/postgresql.conf`, 'sh', wrapped]);
    await cluster.exec('maestro', 'root', ['/etc/init.d/postgresql', 'restart']);
    const c = await check('step-2', 'archive-settings');
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('space-after-colon');
    expect(c.hint).toMatch(/Unexpected remote arg/);
  });

  it('accepts the real thing after the reference solution', async () => {
    await solve('step-2');
    const c = await check('step-2', 'segments');
    expect(c.status).toBe('pass');
    expect(c.evidence.magic).toBe('0xd110');
  });

  it('does not count commented-out standby settings', async () => {
    const lines = [`#primary_conninfo = 'host=${maestroIp} port=5432 user=postgres'`, `# restore_command = 'cp ${ARCHIVE}/%f "%p"'`, 'hot_standby = on'];
    await cluster.exec('esclavo', 'postgres', ['sh', '-c', `printf '%s\\n' "$@" >> ${CONF}/postgresql.conf`, 'sh', ...lines]);
    await cluster.exec('esclavo', 'postgres', ['touch', `${DATA}/standby.signal`]);
    const c = await check('step-3', 'standby-config');
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('no-conninfo');
  });

  it('rejects a pg_hba.conf rule for the wrong address', async () => {
    await cluster.exec('maestro', 'root', ['sh', '-c', `printf 'host    replication   postgres       10.213.250.11/32       trust\\n' >> ${CONF}/pg_hba.conf`]);
    const c = await check('step-3', 'hba-rule');
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('wrong-address');
    await solve('step-3');
    expect((await check('step-3', 'hba-rule')).status).toBe('pass');
    expect((await check('step-3', 'standby-config')).status).toBe('pass');
  });

  it('finishes a check when a server is stopped in the middle of it', async () => {
    await solve('step-4');
    await solve('step-5');
    const running = cluster.check('step-5');
    await new Promise((r) => setTimeout(r, 300));
    await cluster.exec('esclavo', 'root', ['/etc/init.d/postgresql', 'stop']);
    const { code, report, ms } = await running;
    expect(ms).toBeLessThan(60_000);
    expect([0, 1]).toContain(code);
    // Afterwards the verdict is clear and names the stopped server.
    const after = await cluster.check('step-5');
    expect(after.code).toBe(1);
    expect(after.ms).toBeLessThan(15_000);
    expect(after.report.steps[0].checks.some((c) => c.reason === 'down' || c.reason === 'server-down' || c.reason === 'no-standby')).toBe(true);
    expect(report.steps[0].checks.length).toBeGreaterThan(0);
    await cluster.exec('esclavo', 'root', ['/etc/init.d/postgresql', 'start']);
  });

  it('a psql replaced inside both servers changes no verdict: the graders\' SQL runs from the observer', async () => {
    const verdicts = async () => (await cluster.check('step-5')).report.steps[0].checks.map((c) => `${c.id}:${c.status}:${c.reason ?? ''}`);
    const honest = await verdicts();
    expect(honest.filter((v) => v.includes(':pass:')).length).toBeGreaterThan(3);
    const psql = '/usr/lib/postgresql/15/bin/psql';
    for (const server of ['maestro', 'esclavo']) {
      // Any answer the forger likes ("t", "streaming", a row count): here one line that fits no query.
      const r = await cluster.exec(server, 'root', ['sh', '-c', 'mv "$1" "$1.real" && printf "#!/bin/sh\\necho streaming\\n" > "$1" && chmod 755 "$1"', 'sh', psql]);
      expect(r.code, r.stderr).toBe(0);
    }
    try {
      expect((await cluster.exec('esclavo', 'postgres', [psql, '-XAtc', 'SELECT 42'])).stdout.trim()).toBe('streaming');
      expect(await verdicts()).toEqual(honest);
    } finally {
      for (const server of ['maestro', 'esclavo']) await cluster.exec(server, 'root', ['mv', `${psql}.real`, psql]);
    }
  });

  it('counts nothing a replaced server answers (a patched postgres, LD_PRELOAD); the real ones count again', async () => {
    const livePasses = (r: Awaited<ReturnType<typeof cluster.check>>) => r.report.steps[0].checks.filter((c) => c.status === 'pass' && c.source === 'live').map((c) => c.id);
    const honest = await cluster.check('step-5');
    expect(livePasses(honest).length).toBeGreaterThan(0);
    // Answering, and streaming again (esclavo reconnects within wal_retrieve_retry_interval), so only the replacement can fail a check.
    const ready = async (server: string) => {
      for (let i = 0; i < 60; i++) {
        if ((await cluster.exec('maestro', 'postgres', ['psql', '-XAtc', "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"])).stdout.trim() === '1'
          && (await cluster.exec('esclavo', 'postgres', ['psql', '-XAtc', "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'"])).stdout.trim() === '1') return;
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new Error(`${server} did not answer`);
    };
    const startByHand = async (server: string, argv: string[], env: string[] = []) => {
      expect((await cluster.exec(server, 'root', ['pg_ctlcluster', '15', 'main', 'stop'])).code).toBe(0);
      await lookNow(cluster.env);
      const script = 'd="$1"; c="$2"; shift 2; env "$@" -D "$d" -c "config_file=$c" >/tmp/by-hand.log 2>&1 &';
      const r = await cluster.exec(server, 'postgres', ['sh', '-c', script, 'sh', DATA, `${CONF}/postgresql.conf`, ...env, ...argv]);
      expect(r.code, r.stderr).toBe(0);
      await ready(server);
      await lookNow(cluster.env);
    };
    const backToDebian = async (server: string) => {
      await cluster.exec(server, 'postgres', ['/usr/lib/postgresql/15/bin/pg_ctl', '-D', DATA, '-m', 'fast', 'stop']);
      expect((await cluster.exec(server, 'root', ['pg_ctlcluster', '15', 'main', 'start'])).code).toBe(0);
      await ready(server);
    };
    const replacedIn = (r: Awaited<ReturnType<typeof cluster.check>>, server: string, impostor: RegExp) => {
      const byId = new Map(r.report.steps[0].checks.map((c) => [c.id, c]));
      for (const id of livePasses(honest)) {
        const c = byId.get(id)!;
        expect(c, `${id}: ${JSON.stringify(c)}`).toMatchObject({ status: 'fail', points: 0, reason: 'server-replaced' });
        expect(c.evidence.server).toBe(server);
        expect(String(c.evidence.impostor)).toMatch(impostor);
        expect(c.hint).toMatch(/no es el PostgreSQL del laboratorio .*pg_ctlcluster 15 main start/);
      }
    };

    // maestro runs its own binary with one byte appended: it starts, streams and answers as before.
    await cluster.exec('maestro', 'root', ['sh', '-c', 'cp /usr/lib/postgresql/15/bin/postgres /tmp/postgres && printf x >> /tmp/postgres && chmod 755 /tmp/postgres']);
    await startByHand('maestro', ['/tmp/postgres']);
    replacedIn(await cluster.check('step-5'), 'maestro', /^\/tmp\/postgres \(pid \d+\)$/);
    // Between gradings too: what the observer saw the impostor answer is authentic but not believed.
    const obs = (await readObservation(cluster.env))!;
    expect(obs.impostor ?? 0).toBeGreaterThan(0);
    const lastMaestro = obs.records.filter((r) => r.t === 'server' && r.role === 'maestro').at(-1)!;
    expect(lastMaestro.up, JSON.stringify(lastMaestro)).toBe(0);
    await backToDebian('maestro');

    // esclavo runs the real binary with a library preloaded.
    const libm = (await cluster.exec('esclavo', 'root', ['sh', '-c', 'ldconfig -p | awk \'/libm\\.so\\.6 /{print $NF; exit}\''])).stdout.trim();
    expect(libm).toMatch(/libm\.so\.6$/);
    await startByHand('esclavo', ['/usr/lib/postgresql/15/bin/postgres'], [`LD_PRELOAD=${libm}`]);
    replacedIn(await cluster.check('step-5'), 'esclavo', /LD_PRELOAD/);
    await backToDebian('esclavo');

    // Debian's servers again: the same checks pass (the observer's look on demand sees the stream again).
    let again = await cluster.check('step-5');
    for (let i = 0; i < 15 && livePasses(again).length < livePasses(honest).length; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      again = await cluster.check('step-5');
    }
    expect(livePasses(again)).toEqual(livePasses(honest));
  }, 240_000);

  it('looks at the servers\' processes from out of their sight: the inspector is not in their pid namespace', async () => {
    await cluster.check('step-5');
    const docker = (args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();
    const image = docker(['inspect', '-f', '{{.Image}}', `pglab-${cluster.env}-maestro`]);
    const inspector = `pglab-inspector-${image.replace(/^sha256:/, '').slice(0, 12)}`;
    expect(docker(['inspect', '-f', '{{.HostConfig.PidMode}} {{.HostConfig.NetworkMode}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapAdd}}', inspector]))
      .toBe('host none true [SYS_PTRACE DAC_READ_SEARCH SYS_CHROOT]');
    // Root in a server sees only its own namespace: the inspector (and every look exec'd in it) cannot be seen, stopped or killed from there.
    const seen = (await cluster.exec('maestro', 'root', ['sh', '-c', 'cat /proc/[0-9]*/cmdline | tr "\\0" " "'])).stdout;
    expect(seen).not.toMatch(/sleep 3600|server-identity|pglab-probe/);
    const inspectorSleeps = docker(['top', inspector, '-o', 'pid,args']);
    expect(inspectorSleeps).toMatch(/sleep 3600/);
  });

  it('reads a server\'s files from inside its own root, as the archive API does, in one exec; a root that is not the container\'s is refused', async () => {
    const docker = (args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();
    const container = `pglab-${cluster.env}-maestro`;
    const image = docker(['inspect', '-f', '{{.Image}}', container]);
    // A file the inspector's image has too, changed in the server; links with absolute targets (they
    // must resolve in the server's tree, not the inspector's); a hard link, a fifo, a directory tree.
    const setup = 'echo "pglab-test:x:4242:4242::/nonexistent:/bin/false" >> /etc/passwd && ln -sfn /etc /tmp/etc-link && ln -sfn /etc/passwd /tmp/pw-link'
      + ' && mkfifo /tmp/pglab-fifo && mkdir -p /tmp/tree/sub && echo a > /tmp/tree/a && ln /tmp/tree/a /tmp/tree/sub/b';
    expect((await cluster.exec('maestro', 'root', ['sh', '-c', setup])).code).toBe(0);
    try {
      const info = (await inspectContainer(container))!;
      expect(info.upperDir, 'the overlay2 driver').toBeTruthy();
      const files = new InspectorFiles((near) => ensureInspector(image, 40_000, near), 10_000);
      const asked: [string, ArchiveLimits][] = [
        ['/etc/passwd', { maxDataPerFile: 1 << 20, stopAfter: 1 }], ['/tmp/etc-link/passwd', { maxDataPerFile: 1 << 20, stopAfter: 1 }],
        ['/tmp/pw-link', { stopAfter: 1 }], ['/tmp/tree', { maxDataPerFile: 100 }], ['/tmp/pglab-fifo', {}], ['/etc/ssh', { maxEntries: 100, maxDataPerFile: 65536 }],
        ['/nonexistent', {}], [`${DATA}/global/pg_control`, { maxDataPerFile: 8192, stopAfter: 1 }], ['/etc/postgresql', { maxEntries: 3 }],
      ];
      const reads = await Promise.all(asked.map(([p, l]) => files.read(container, { pid: info.pid, upperDir: info.upperDir! }, p, l)));
      expect(files.execs).toBe(1);
      const summary = (r: ArchiveRead | undefined | 'unread', stopAfter?: number) => (r === 'unread' || r === undefined ? r : {
        truncated: r.truncated, entries: r.entries.slice(0, stopAfter ?? r.entries.length).map((e) => ({ ...e, data: e.data.toString('base64') })),
      });
      for (const [i, [p, l]] of asked.entries()) {
        const api = await readArchive(container, p, l);
        expect(summary(reads[i]), p).toEqual(summary(api, l.stopAfter));
      }
      const passwd = reads[1] as ArchiveRead;
      expect(passwd.entries[0].data.toString()).toMatch(/^pglab-test:/m);
      expect((reads[2] as ArchiveRead).entries[0]).toMatchObject({ type: 'l', linkname: '/etc/passwd' });
      expect((reads[3] as ArchiveRead).entries.map((e) => `${e.name} ${e.type}`)).toEqual(['tree d', 'tree/a f', 'tree/sub d', 'tree/sub/b h']);
      expect((reads[8] as ArchiveRead).truncated).toBe(true);

      // Not the container's own root: another container's upper layer, or a process chrooted into a
      // tree of the student's (root in the server may chroot, or inject a chroot into its init).
      expect(await files.read(container, { pid: info.pid, upperDir: `${info.upperDir}x` }, '/etc/passwd', { stopAfter: 1 })).toBe('unread');
      const jail = 'set -e; mkdir -p /tmp/fr/bin /tmp/fr/etc; cp /bin/sleep /tmp/fr/bin/; for l in $(ldd /bin/sleep | grep -o "/[^ ]*"); do mkdir -p "/tmp/fr$(dirname "$l")"; cp "$l" "/tmp/fr$l"; done;'
        + ' echo "forged" > /tmp/fr/etc/passwd; setsid chroot /tmp/fr /bin/sleep 4242 >/dev/null 2>&1 < /dev/null &';
      expect((await cluster.exec('maestro', 'root', ['sh', '-c', jail])).code).toBe(0);
      let jailed = 0;
      for (let i = 0; i < 20 && !jailed; i++) {
        jailed = Number(/^\s*(\d+)\s+\/bin\/sleep 4242/m.exec(docker(['top', container, '-o', 'pid,args']))?.[1] ?? 0);
        if (!jailed) await new Promise((r) => setTimeout(r, 250));
      }
      expect(jailed).toBeGreaterThan(0);
      expect(await files.read(container, { pid: jailed, upperDir: info.upperDir! }, '/etc/passwd', { maxDataPerFile: 100, stopAfter: 1 })).toBe('unread');
    } finally {
      await cluster.exec('maestro', 'root', ['sh', '-c', 'pkill -f "sleep 4242"; sed -i "/^pglab-test:/d" /etc/passwd; rm -rf /tmp/etc-link /tmp/pw-link /tmp/pglab-fifo /tmp/tree /tmp/fr']);
    }
  });

  it('does not accept a "promotion" made by deleting standby.signal and restarting', async () => {
    await cluster.exec('esclavo', 'postgres', ['rm', `${DATA}/standby.signal`]);
    await cluster.exec('esclavo', 'root', ['/etc/init.d/postgresql', 'restart']);
    const six = (await cluster.checks('step-6'));
    expect(six['promoted-properly'].status).toBe('fail');
    expect(six['promoted-properly'].reason).toBe('hand-deleted');
    expect(six.timeline.reason).toBe('same-timeline');
    expect(six.promoted.reason).toBe('not-promoted');
  });
});
