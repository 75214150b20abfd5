/** lab up / down / status / shell / psql / exec */
import chalk from 'chalk';
import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import { execInContainer } from '../docker/client.js';
import { down, incompleteError, keptStopped, loadEnv, pidsExhausted, requireServer, type LabEnv } from '../env/env.js';
import { canonicalRole, envName } from '../env/naming.js';
import { studentId, studentSubnet, className } from '../env/roster.js';
import { dockerCliFlags, swarmMode } from '../swarm/nodes.js';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import { localTime } from '../i18n/time.js';
import { labAsksArchiveOff, labPackages, readManifest } from '../lab/manifest.js';
import { upLab } from '../lab/prepare.js';
import { topology } from '../lab/topology.js';
import { topologyLines } from '../render/topology-text.js';
import { TIMEOUTS } from '../timeouts.js';
import { platformArch } from '../images/recipe.js';
import { EnvProbes } from '../pg/probes.js';
import { isPgMajor, profileFor, type PgMajor } from '../pg/profile.js';
import { confirm, progressLine } from './io.js';
import { parseIntOption, STANDBYS } from './options.js';

/** Kept for importers of the old place; the helper lives in i18n/time.ts. */
export { localTime };

export function parsePg(raw: string | undefined): PgMajor | undefined {
  if (raw === undefined) return undefined;
  if (!isPgMajor(raw)) throw new LabError('cli.badPg', { pg: raw });
  return raw;
}

export function registerEnvCommands(program: Command): void {
  program.command('up')
    .description('crea e inicia el entorno: maestro y esclavo / create and start the environment')
    .option('--pg <version>', '9.1 | 13 | 15 | 17 (por defecto/default 9.1)')
    .option('--env <name>', 'nombre del entorno / environment name')
    .option('--lab <id>', 'lab del entorno (mirá `lab labs`) / the env\'s lab (see `lab labs`)')
    .option('--standbys <n>', 'cantidad de esclavos (por defecto, los del lab) / number of standbys (default: the lab\'s)')
    .option('--image <tag>', 'imagen ya construida / prebuilt image (docker/README.md)')
    .option('--platform <platform>', 'linux/amd64 | linux/arm64: otra arquitectura, emulada (PGLAB_PLATFORM) / another architecture, emulated')
    .option('--student <legajo>', 'tu legajo: tu entorno tiene sus propias direcciones / your student ID: your env gets its own addresses')
    .option('--class <name>', 'docente: la clase del entorno / instructors: the env\'s class')
    .option('--node <names>', 'Swarm: nodo(s) del entorno, maestro primero (a,b) / Swarm: the env\'s node(s), maestro first (a,b)')
    .action(async (opts) => {
      if (opts.platform) platformArch(opts.platform); // malformed: exit 2 before any Docker call
      const nodes = opts.node === undefined ? undefined : parseNodeList(opts.node);
      if (opts.class !== undefined) className(opts.class);
      const env = envName(opts.env);
      const standbys = opts.standbys === undefined ? undefined : parseIntOption(opts.standbys, '--standbys', STANDBYS);
      if (opts.lab) readManifest(opts.lab); // an unknown lab: exit 2 before any Docker call
      const legajo = opts.student === undefined ? undefined : studentId(opts.student);
      const student = legajo ? { student: { legajo }, subnet: studentSubnet(legajo) } : {};
      const { env: lab, changed, notAccepting, resumed, continued } = await upLab(
        {
          env, lab: opts.lab, pg: parsePg(opts.pg), standbys, image: opts.image, platform: opts.platform, ...student,
          ...(nodes ? { nodes } : {}), ...(opts.class ? { className: opts.class } : {}),
        }, progressLine);
      if (resumed) console.log(t('up.resumed', { env }));
      if (continued) console.log(t('up.continued', { env, lab: continued }));
      // Stopped by the student before the last `lab down` and kept so: said, not an error.
      const kept = notAccepting.filter((s) => s.kept);
      const failing = notAccepting.filter((s) => !s.kept);
      if (failing.length) {
        for (const s of lab.servers) console.log(`  ${s.role.padEnd(9)} ${s.ip}`);
        for (const s of kept) console.log(t('up.keptStopped', { role: s.role }));
        const roles = failing.map((s) => s.role);
        console.error(t('up.notAccepting', { env, roles: roles.join(', '), role: roles[0] }));
        process.exitCode = 1;
        return;
      }
      if (!changed) console.log(t('up.already', { env }));
      else console.log(t('up.done', { env, pg: lab.pg, subnet: lab.subnet }));
      if (lab.student?.legajo) console.log(t('up.student', { legajo: lab.student.legajo }));
      // Labels are fixed when an env is made: an env made without --student keeps being nobody's.
      else if (legajo) console.log(t('up.studentNotApplied', { env, legajo }));
      for (const s of lab.servers) console.log(`  ${s.role.padEnd(9)} ${s.ip}`);
      for (const s of kept) console.log(t('up.keptStopped', { role: s.role }));
      if (changed || continued) console.log(t('up.next'));
    });

  program.command('down')
    .description('detiene el entorno (los datos se conservan) / stop the environment (data kept)')
    .option('--env <name>')
    .option('--purge', 'borra también los volúmenes / also delete volumes')
    .option('-y, --yes', 'no preguntar / do not ask')
    .action(async (opts) => {
      const env = envName(opts.env);
      if (opts.purge && !(await confirm(t('down.confirmPurge', { env }), opts.yes))) return;
      const existed = await down({ env, purge: opts.purge, progress: progressLine, packagesOf: labPackages });
      console.log(existed ? t(opts.purge ? 'down.purged' : 'down.done', { env }) : t('down.none', { env }));
    });

  program.command('status')
    .description('estado de los servidores y de la replicación / servers and replication status')
    .option('--env <name>')
    .action(async (opts) => {
      const env = await loadEnv(envName(opts.env));
      // Only the network is left: say exactly that, not a table of missing servers.
      if (env.incomplete) {
        const { key, params } = incompleteError(env);
        return console.log(t(key, params));
      }
      console.log(await statusText(env));
    });

  program.command('shell <server>')
    .description('terminal interactiva en un servidor / interactive shell on a server')
    .option('--env <name>')
    .option('--user <user>', 'root | postgres', 'root')
    .action(async (server, opts) => {
      const user = checkUser(opts.user);
      const env = await loadEnv(envName(opts.env));
      const s = requireServer(env, canonicalRole(server));
      // At its pids limit the shell still opens (joining a cgroup is not a fork) but no command in it
      // can run: say why, and what recovers it, before the student meets "fork: retry".
      const full = await explainPidsLimit(env.name, s.role, s.container);
      process.exitCode = dockerCliExec(s.container, user, ['bash', '-l']);
      if (process.exitCode !== 0 && !full) await explainPidsLimit(env.name, s.role, s.container);
    });

  program.command('psql <server>')
    .description('psql como postgres en un servidor / psql as postgres on a server')
    .option('--env <name>')
    .action(async (server, opts) => {
      const env = await loadEnv(envName(opts.env));
      const s = requireServer(env, canonicalRole(server));
      const full = await explainPidsLimit(env.name, s.role, s.container);
      process.exitCode = dockerCliExec(s.container, 'postgres', ['psql']);
      if (process.exitCode !== 0 && !full) await explainPidsLimit(env.name, s.role, s.container);
    });

  program.command('exec <server> <command...>')
    .description('ejecuta un comando en un servidor / run a command on a server (lab exec maestro -- ls -l)')
    .option('--env <name>')
    .option('--user <user>', 'root | postgres', 'root')
    .action(async (server, command: string[], opts) => {
      const user = checkUser(opts.user);
      const env = await loadEnv(envName(opts.env));
      const s = requireServer(env, canonicalRole(server));
      // Piped input (`echo "select 1;" | lab exec maestro -- psql`) reaches the command; a terminal does not (use `lab shell`).
      const stdin = process.stdin.isTTY ? undefined : await readStdin();
      const r = await execInContainer(s.container, command, { user, timeoutMs: TIMEOUTS.userExecMs, env: { LC_ALL: process.env.LC_ALL ?? 'C.UTF-8' }, stdin });
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      process.exitCode = r.exitCode;
      if (r.exitCode !== 0) await explainPidsLimit(env.name, s.role, s.container);
    });
}

/** All of a piped or redirected stdin; undefined when there is none to read (closed). */
function readStdin(): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
    process.stdin.on('error', () => resolve(chunks.length ? Buffer.concat(chunks) : undefined));
  });
}

/** Says so when the container is at its pids limit (a fork bomb); true when it is. */
async function explainPidsLimit(env: string, role: string, container: string): Promise<boolean> {
  const full = await pidsExhausted(container);
  if (full) console.error(t('check.pidsFull', { role, env, ...full }));
  return Boolean(full);
}

function checkUser(user: string): 'root' | 'postgres' {
  if (user !== 'root' && user !== 'postgres') throw new LabError('cli.badUser', { user }, 2);
  return user;
}

/** Interactive sessions need a real TTY: hand the terminal to `docker exec -it`. */
function dockerCliExec(container: string, user: 'root' | 'postgres', argv: string[]): number {
  const home = user === 'postgres' ? '/var/lib/postgresql' : '/root';
  const tty = process.stdin.isTTY ? ['-it'] : ['-i'];
  const r = spawnSync('docker', [...dockerCliFlags(container), 'exec', ...tty, '-u', user, '-w', home, '-e', `HOME=${home}`, container, ...argv], { stdio: 'inherit' });
  if (r.error) throw new LabError('docker.missing', {}, 2, { cause: r.error });
  return r.status ?? 1;
}

export async function statusText(env: LabEnv): Promise<string> {
  const probes = new EnvProbes(env);
  const created = env.created ? localTime(env.created) : '—';
  const lines = [chalk.bold(t('status.header', { env: env.name, pg: env.pg, subnet: env.subnet, created }))];
  const topo = await topology({ probes, profile: probes.profile });
  for (const s of env.servers) {
    const view = topo.servers.find((v) => v.role === s.role);
    let pgstate = t(view?.frozen ? 'status.pgFrozen' : 'status.pgDown');
    const full = s.state === 'running' ? await pidsExhausted(s.container) : undefined;
    if (full) pgstate = t('status.pidsFull', { ...full, env: env.name });
    else if (!view?.up && !view?.frozen && s.state === 'running' && (await keptStopped(s.container))) pgstate = t('status.pgKept');
    else if (view?.up) {
      const version = await probes.sql(s.role, 'SHOW server_version').then((r) => r[0][0]).catch(() => profileFor(env.pg).major);
      const mode = view.primary === undefined ? '' : t(view.primary ? 'status.primary' : 'status.recovery');
      pgstate = t('status.pgUp', { version, mode }) + (view.timeline ? ` ${t('status.timeline', { tli: view.timeline })}` : '');
    }
    const arch = s.arch ? `, ${s.emulated ? t('status.archEmulated', { arch: s.arch }) : s.arch}` : '';
    lines.push('  ' + t('status.server', { role: s.role.padEnd(8), state: s.state, ip: s.ip, pgstate }) + arch);
  }
  // Whichever server is primary and the standbys streaming from it (src/render/topology-text.ts).
  lines.push('', ...topologyLines(topo, { archiveOffExpected: labAsksArchiveOff(env.lab) }).map((l) => `  ${l}`));
  return lines.join('\n');
}


/** `--node a,b`: node names (maestro's first); checked before any Docker call. */
export function parseNodeList(raw: string): string[] {
  const names = raw.split(',').map((n) => n.trim());
  if (!names.length || names.some((n) => !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(n))) throw new LabError('swarm.badSpread', {}, 2);
  if (!swarmMode()) throw new LabError('swarm.noNodes', {}, 2);
  return names;
}
