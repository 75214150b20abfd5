/** Step 1 — Preparación: same major and architecture, config backups, ssh + rsync, passwordless ssh. */
import { TIMEOUTS } from '../../../src/timeouts.js';
import { clientError, fail, pass, type CheckFn } from '../../../src/checks/index.js';

const SERVERS = ['maestro', 'esclavo'] as const;

/** Read from the files (PG_VERSION of each cluster, uname): true whether the servers run or not. */
export const sameMajorAndArch: CheckFn = async ({ probes }) => {
  const facts = await Promise.all(SERVERS.map(async (role) => {
    const versions = (await probes.exec(role, ['sh', '-c', 'cat /var/lib/postgresql/*/main/PG_VERSION 2>/dev/null'], { user: 'root' })).stdout.toString().trim().split('\n');
    const arch = (await probes.exec(role, ['uname', '-m'])).stdout.toString().trim();
    return { major: versions.filter(Boolean).join('+') || '—', arch };
  }));
  const evidence = { maestro: `${facts[0].major} ${facts[0].arch}`, esclavo: `${facts[1].major} ${facts[1].arch}` };
  if (facts[0].major === '—' || facts[0].major !== facts[1].major) return fail('major-differs', evidence);
  if (facts[0].arch !== facts[1].arch) return fail('arch-differs', evidence);
  return pass(evidence);
};

/**
 * A copy of postgresql.conf and pg_hba.conf, identical to the files as the cluster was created,
 * somewhere in the config dir, postgres' home or /root. The reference is read from the image
 * (pg_createcluster's output for the env's locale, kept at build time), never from the container,
 * where the student is root; images without it fall back to the init's copies in /var/lib/pglab.
 */
export const configBackups: CheckFn = async ({ probes, profile }) => {
  const missing: string[] = [];
  const found: string[] = [];
  const reference = await probes.pristineSums().catch(() => undefined);
  for (const role of SERVERS) {
    const sums = await probes.exec(role, ['sh', '-c', 'find "$1" /var/lib/postgresql /root -maxdepth 3 -type f -size -1024k -not -path "*/pglab/*" -exec sha256sum {} + 2>/dev/null; sha256sum /var/lib/pglab/pristine/* 2>/dev/null; true', 'sh', profile.confDir], { user: 'root', timeoutMs: TIMEOUTS.configBackupsMs });
    const lines = sums.stdout.toString().split('\n').filter(Boolean).map((l) => {
      const m = /^([0-9a-f]{64})\s+(.*)$/.exec(l);
      return m ? { sum: m[1], path: m[2] } : undefined;
    }).filter((x): x is { sum: string; path: string } => !!x);
    for (const file of ['postgresql.conf', 'pg_hba.conf']) {
      const pristine = reference?.get(file) ?? lines.find((l) => l.path === `/var/lib/pglab/pristine/${file}`)?.sum;
      const copy = lines.find((l) => pristine && l.sum === pristine && !l.path.startsWith('/var/lib/pglab/') && l.path !== `${profile.confDir}/${file}`);
      if (copy) found.push(`${role}:${copy.path}`);
      else missing.push(`${role}:${file}`);
    }
  }
  return missing.length ? fail('missing', { missing: missing.join(', '), found: found.join(', ') || '—' }) : pass({ found: found.join(', ') });
};

export const sshRsyncInstalled: CheckFn = async ({ probes }) => {
  const missing: string[] = [];
  for (const role of SERVERS) {
    const r = await probes.exec(role, ['dpkg-query', '-W', '-f=${Package} ${db:Status-Status}\\n', 'openssh-server', 'openssh-client', 'rsync'], { user: 'root' });
    const installed = new Set(r.stdout.toString().split('\n').filter((l) => l.endsWith(' installed')).map((l) => l.split(' ')[0]));
    for (const p of ['openssh-server', 'openssh-client', 'rsync']) if (!installed.has(p)) missing.push(`${role}:${p}`);
  }
  return missing.length ? fail('missing', { missing: missing.join(', ') }) : pass({ installed: 'openssh-server, openssh-client, rsync' });
};

export const sshdRunning: CheckFn = async ({ probes }) => {
  const down: string[] = [];
  for (const role of SERVERS) {
    const procs = await probes.processes(role);
    if (!procs.some((p) => /^sshd:|\/usr\/sbin\/sshd/.test(p.args))) down.push(role);
  }
  // The key says what the list is: the servers where no sshd runs.
  return down.length ? fail('not-running', { without_sshd: down.join(', ') }) : pass({ sshd: 'maestro, esclavo' });
};

/** The archive_command runs non-interactively: postgres@maestro must reach esclavo without a password or a prompt. */
export const passwordlessSsh: CheckFn = async ({ probes, ip }) => {
  const r = await probes.exec('maestro', ['ssh', '-o', 'BatchMode=yes', '-o', `ConnectTimeout=${TIMEOUTS.connectS}`, `postgres@${ip.esclavo}`, 'true'], { user: 'postgres', timeoutMs: TIMEOUTS.connectProbeMs });
  if (r.exitCode === 0) return pass({ command: `ssh -o BatchMode=yes postgres@${ip.esclavo}`, exit: 0 });
  // The client's message only picks the hint; the verdict is the exit status.
  const err = r.stderr.toString();
  const reason = /not found|No such file/i.test(err) && r.exitCode === 127 ? 'no-client'
    : /Host key verification failed/i.test(err) ? 'known-hosts'
    : /Connection refused|timed out|No route/i.test(err) ? 'no-sshd'
    : /Permission denied/i.test(err) ? 'no-key' : 'other';
  return fail(reason, { exit: r.exitCode, stderr: clientError(err) });
};
