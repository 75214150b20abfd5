/** Step 1 — Preparación: same major and architecture, config backups, ssh + rsync, passwordless ssh. */
import { createHash } from 'node:crypto';
import { clientError, fail, pass, type CheckContext, type CheckFn } from '../../../src/checks/index.js';

const SERVERS = ['maestro', 'esclavo'] as const;

/** Docker's architecture names as `uname -m` says them (what the exercise has the student run). */
const UNAME_ARCH: Record<string, string> = { amd64: 'x86_64', arm64: 'aarch64', arm: 'armv7l', '386': 'i686', ppc64le: 'ppc64le', s390x: 's390x' };

/**
 * Read by the engine: PG_VERSION from the files, the architecture from each server's image (Docker's
 * own fact; a `uname` inside the server is the student's to replace, and its answer was once lost to a
 * loaded engine). True by construction
 * in a lab env, so it is shown but worth 0 points in the manifest (a fresh env earns nothing).
 */
export const sameMajorAndArch: CheckFn = async ({ probes }) => {
  const facts = await Promise.all(SERVERS.map(async (role) => {
    // Every cluster Debian knows of (/etc/postgresql/<major>/main), its PG_VERSION read by the engine.
    const etc = await probes.archive(role, '/etc/postgresql', { maxEntries: 200, maxStreamBytes: 8 << 20 }).catch(() => undefined);
    const majors = [...new Set((etc?.entries ?? []).map((e) => /^postgresql\/([^/]+)\/main$/.exec(e.name)?.[1]).filter((m): m is string => !!m))].sort();
    const versions = await Promise.all(majors.map(async (m) => (await probes.readText(role, `/var/lib/postgresql/${m}/main/PG_VERSION`).catch(() => undefined))?.trim()));
    const image = probes.env.servers.find((s) => s.role === role)?.arch;
    const arch = image ? UNAME_ARCH[image] ?? image : '?';
    return { major: versions.filter(Boolean).join('+') || '—', arch };
  }));
  const evidence = { maestro: `${facts[0].major} ${facts[0].arch}`, esclavo: `${facts[1].major} ${facts[1].arch}` };
  if (facts[0].major === '—' || facts[0].major !== facts[1].major) return fail('major-differs', evidence);
  if (facts[0].arch !== facts[1].arch) return fail('arch-differs', evidence);
  return pass(evidence);
};

/**
 * What the step asks: in each server's config dir, a copy of postgresql.conf and pg_hba.conf
 * identical to the files as the cluster was created. The reference is read from the image
 * (pg_createcluster's output for the env's locale, kept at build time); the config dir is read by
 * the engine and hashed here. Copies elsewhere (/root, the init's /var/lib/pglab/pristine) are not
 * what the step asks and earn nothing.
 */
export const configBackups: CheckFn = async ({ probes, profile }) => {
  const missing: string[] = [];
  const found: string[] = [];
  let truncated = false;
  const reference = await probes.pristineSums().catch(() => undefined);
  for (const role of SERVERS) {
    const dir = await probes.archive(role, profile.confDir, { maxEntries: 500, maxDataPerFile: 1 << 20, maxStreamBytes: 32 << 20 });
    truncated ||= !!dir?.truncated;
    const base = profile.confDir.split('/').pop()!;
    const sums = (dir?.entries ?? []).filter((e) => e.type === 'f' && e.size <= 1 << 20)
      .map((e) => ({ path: `${profile.confDir}${e.name.slice(base.length)}`, sum: createHash('sha256').update(e.data).digest('hex') }));
    // Images without the pristine files: the init's copies, read by the engine too.
    const fallback = reference ? undefined : await probes.archive(role, '/var/lib/pglab/pristine', { maxEntries: 10, maxDataPerFile: 1 << 20 }).catch(() => undefined);
    for (const file of ['postgresql.conf', 'pg_hba.conf']) {
      const own = fallback?.entries.find((e) => e.name.endsWith(`/${file}`));
      const pristine = reference?.get(file) ?? (own ? createHash('sha256').update(own.data).digest('hex') : undefined);
      const copy = sums.find((l) => pristine && l.sum === pristine && l.path !== `${profile.confDir}/${file}`);
      if (copy) found.push(`${role}:${copy.path}`);
      else missing.push(`${role}:${file}`);
    }
  }
  const cut: Record<string, string> = truncated ? { salida: 'salida truncada / output truncated' } : {};
  return missing.length ? fail('missing', { missing: missing.join(', '), found: found.join(', ') || '—', dir: profile.confDir, ...cut }) : pass({ found: found.join(', '), ...cut });
};

/** The lab's packages and the files that prove each is really there (not just a stanza in /var/lib/dpkg/status). */
const PACKAGE_FILES: Record<string, string[]> = {
  'openssh-server': ['usr/sbin/sshd'],
  'openssh-client': ['usr/bin/ssh', 'usr/bin/ssh-keygen', 'usr/bin/ssh-keyscan'],
  rsync: ['usr/bin/rsync'],
};

/**
 * Installed = dpkg says so (its status file, read by the engine) and the package's programs are on
 * disk with the md5 its .deb declares (the image's cached packages, read with the image's own
 * dpkg-deb). A stanza appended to /var/lib/dpkg/status, or a script in place of a binary, is not.
 */
export async function packagesInstalled(probes: CheckContext['probes'], role: string, packages: string[]): Promise<{ missing: string[]; tampered: string[] }> {
  const status = (await probes.readText(role, '/var/lib/dpkg/status').catch(() => undefined)) ?? '';
  const installed = new Set<string>();
  for (const stanza of status.split(/\n\s*\n/)) {
    const pkg = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
    if (pkg && /^Status:\s*install ok installed\s*$/m.test(stanza)) installed.add(pkg);
  }
  const sums = await probes.packageMd5s(Object.keys(PACKAGE_FILES)).catch(() => undefined);
  const missing: string[] = [];
  const tampered: string[] = [];
  // Every program asked for at once (each is a read by the engine, ~50 ms): not one after another.
  const files = new Map(packages.filter((p) => installed.has(p)).flatMap((p) => PACKAGE_FILES[p] ?? [])
    .map((file) => [file, probes.fileInfo(role, `/${file}`, 8 << 20).catch(() => undefined)]));
  await Promise.all(packages.map(async (p) => {
    if (!installed.has(p)) return void missing.push(`${role}:${p}`);
    for (const file of PACKAGE_FILES[p] ?? []) {
      const want = sums?.get(p)?.get(file);
      const got = await files.get(file);
      if (!got) return void missing.push(`${role}:/${file}`);
      // An image without the cached .deb cannot say what the file must be: present is all it can ask.
      if (want && createHash('md5').update(got.data).digest('hex') !== want) return void tampered.push(`${role}:/${file}`);
    }
  }));
  return { missing, tampered };
}

export const sshRsyncInstalled: CheckFn = async ({ probes }) => {
  const missing: string[] = [];
  const tampered: string[] = [];
  for (const r of await Promise.all(SERVERS.map((role) => packagesInstalled(probes, role, ['openssh-server', 'openssh-client', 'rsync'])))) {
    missing.push(...r.missing);
    tampered.push(...r.tampered);
  }
  if (tampered.length) return fail('tampered', { files: tampered.join(', '), missing: missing.join(', ') || '—' });
  return missing.length ? fail('missing', { missing: missing.join(', ') }) : pass({ installed: 'openssh-server, openssh-client, rsync' });
};

/**
 * A real SSH server on both: an sshd process (docker top: the executable's name, which `exec -a`
 * does not change) that answers a key exchange from the probe container with a host key of the
 * server's own /etc/ssh.
 */
export const sshdRunning: CheckFn = async ({ probes }) => {
  const noProcess: string[] = [];
  for (const role of SERVERS) {
    const procs = await probes.processes(role);
    if (!procs.some((p) => (p.comm ?? '') === 'sshd' || (p.comm === undefined && /^sshd:|\/usr\/sbin\/sshd/.test(p.args)))) noProcess.push(role);
  }
  if (noProcess.length) return fail('not-running', { without_sshd: noProcess.join(', ') });
  const ssh = await probes.sshFacts();
  const silent = SERVERS.filter((r) => !ssh.sshd[r].answered);
  if (silent.length) return fail('not-running', { without_sshd: silent.join(', '), keyscan: 'sin respuesta / no answer' });
  const foreign = SERVERS.filter((r) => !ssh.sshd[r].matches);
  if (foreign.length) return fail('not-running', { without_sshd: foreign.join(', '), host_key: 'no es la de /etc/ssh / not the one in /etc/ssh' });
  return pass({ sshd: 'maestro, esclavo', keyscan: 'ok' });
};

/**
 * The archive_command runs non-interactively: postgres@maestro must reach esclavo without a password
 * or a prompt. Proven from outside: the probe container logs in to postgres@esclavo with maestro's
 * postgres keys and known_hosts (read by the engine) and runs `true`; maestro's own ssh client must
 * be the packaged one.
 */
export const passwordlessSsh: CheckFn = async ({ probes, ip }) => {
  const client = await packagesInstalled(probes, 'maestro', ['openssh-client']);
  if (client.missing.length || client.tampered.length) return fail('no-client', { missing: [...client.missing, ...client.tampered].join(', ') });
  const { login } = await probes.sshFacts();
  if (login.exit === 0) return pass({ command: `ssh -o BatchMode=yes postgres@${ip.esclavo} true`, exit: 0, keys: login.keys });
  // The client's message only picks the hint; the verdict is the exit status.
  const err = login.stderr;
  const reason = login.exit === -2 ? 'no-key'
    : /Host key verification failed|No .* host key is known/i.test(err) ? 'known-hosts'
    : /Connection refused|timed out|No route/i.test(err) ? 'no-sshd'
    : /Permission denied/i.test(err) ? 'no-key' : 'other';
  return fail(reason, { exit: login.exit, stderr: clientError(err) || '—' });
};
