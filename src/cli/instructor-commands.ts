/** Instructors: lab grade, lab class up/status/grade/down, lab reset, lab progress. */
import chalk from 'chalk';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { classDown, classEnvs, classUp, DEFAULT_CLASS, readRosterFile, rosterStudents } from '../env/class.js';
import { className } from '../env/roster.js';
import { down, listEnvNames, loadEnv } from '../env/env.js';
import { envName } from '../env/naming.js';
import { ensureImage } from '../images/images.js';
import { DEFAULT_PG } from '../pg/profile.js';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import { localTime } from '../i18n/time.js';
import { applyRoster, flagCopies, gradeEnvs, type EnvGrade, type GradeReport } from '../lab/grade.js';
import { gradeHandin, handinFiles } from '../handin/handin.js';
import { findStep, labPackages, readManifest } from '../lab/manifest.js';
import { upLab } from '../lab/prepare.js';
import { readProgress } from '../lab/progress.js';
import { applySolution } from '../lab/solve.js';
import { DEFAULT_SCALE, FORMATS, studentLine, renderReport, type RenderOptions, type ReportFormat } from '../report/formats.js';
import { statusText, parsePg } from './env-commands.js';
import { confirm, progressLine } from './io.js';
import { CLASS_SIZE, PARALLEL, parseIntOption, SCALE } from './options.js';
import { NODE_DOWN, type LabEnv } from '../env/discovery.js';
import { LAB_LABEL } from '../env/naming.js';
import { listEverywhere, requireManager, serverLoad, swarmNodes } from '../swarm/cluster.js';
import { addNode, registeredNodes, removeNode, swarmMode } from '../swarm/nodes.js';

function checkFormat(format: string): ReportFormat {
  if (!(FORMATS as readonly string[]).includes(format)) throw new LabError('grade.badFormat', { format });
  return format as ReportFormat;
}

/** --scale, for the Moodle format only (elsewhere it would be silently ignored). */
function renderOptions(opts: { scale?: string; format: string }): RenderOptions {
  if (opts.scale === undefined) return {};
  if (opts.format !== 'moodle') throw new LabError('grade.scaleMoodleOnly', {}, 2);
  return { scale: parseIntOption(opts.scale, '--scale', SCALE) };
}

function emit(report: GradeReport, format: ReportFormat, out?: string, opts: RenderOptions = {}): void {
  const text = renderReport(report, format, opts);
  if (out) {
    writeFileSync(out, text);
    console.error(t('grade.written', { format, file: out }));
  } else {
    process.stdout.write(text);
  }
}

export function registerInstructorCommands(program: Command): void {
  program.command('grade')
    .description('corrige entornos completos (todas las verificaciones) / grade whole environments')
    .option('--env <names...>', 'entornos / environments')
    .option('--all', 'todos los entornos de esta máquina / every environment on this machine')
    .option('--lab <id>', 'corregir este lab en vez del de cada entorno / grade this lab instead of each env\'s')
    .option('--format <format>', FORMATS.join(' | '), 'text')
    .option('--out <file>', 'archivo de salida / output file')
    .option('--roster <file>', 'CSV de alumnos: nombre, email y legajo en el reporte / roster: names, e-mails and IDs in the report')
    .option('--scale <n>', `moodle: la nota máxima / the top grade (${DEFAULT_SCALE})`)
    .option('--count-solved', 'contar los pasos resueltos con `lab solve` / count steps done with `lab solve`')
    .action(async (opts) => {
      const format = checkFormat(opts.format);
      const render = renderOptions(opts);
      if (format === 'moodle' && !opts.roster) throw new LabError('grade.moodleRoster', {}, 2);
      const students = opts.roster ? readRosterFile(opts.roster) : undefined;
      const names: string[] = opts.all ? await listEnvNames() : (opts.env ?? [undefined]).map((n: string | undefined) => envName(n));
      if (!names.length) throw new LabError('grade.noEnvs', {}, 2);
      let report = await gradeEnvs(names, { lab: opts.lab, progress: names.length > 1 ? progressLine : undefined, countSolved: Boolean(opts.countSolved) });
      // Only the graded envs' rows: `lab grade --env X` is not a whole class.
      if (students) report = applyRoster(report, students.filter((s) => names.includes(s.env)));
      emit(report, format, opts.out, render);
      process.exitCode = report.envs.some((g) => g.error) ? 2 : 0;
    });

  program.command('progress')
    .description('cuándo se aprobó cada paso por primera vez / when each step first passed')
    .option('--env <name>')
    .option('--lab <id>', 'otro lab que el del entorno / another lab than the env\'s')
    .action(async (opts) => {
      const env = await loadEnv(envName(opts.env));
      const lab = readManifest(opts.lab ?? env.lab);
      const progress = await readProgress(env, lab.id);
      console.log(t('progress.header', { env: env.name }));
      for (const step of lab.steps) {
        const p = progress.steps[step.id];
        const mark = p?.firstPassed ? chalk.green('✓') : p ? chalk.red('✗') : chalk.dim('·');
        console.log(`  ${mark} ${step.id}  ${p?.firstPassed ? t('progress.first', { at: localTime(p.firstPassed) }) : t('progress.never')}`);
      }
    });

  program.command('reset')
    .description('recrea el entorno; con --to step-N aplica las soluciones 1…N-1 / recreate the env; --to applies solutions 1…N-1')
    .option('--env <name>')
    .option('--to <step>', 'paso en el que empezar / step to start at')
    .option('-y, --yes', 'no preguntar / do not ask')
    .action(async (opts) => {
      const name = envName(opts.env);
      const env = await loadEnv(name);
      const lab = readManifest(env.lab);
      const target = opts.to ? findStep(lab, opts.to) : lab.steps[0];
      const index = lab.steps.indexOf(target);
      const to = index > 0 ? t('reset.to', { last: index }) : '';
      if (!(await confirm(t('reset.confirm', { env: name, to }), opts.yes))) return;
      // A reset (or up) killed half-way: its env is still found (the network is kept below) and recreated.
      if (env.leftover) console.log(t('reset.resumed', { env: name }));
      // The network stays until `up` reuses it: a reset killed after the volumes are gone still finds
      // its env (version, subnet, class) and the same `lab reset` finishes it.
      await down({ env: name, purge: true, keepNetwork: true, progress: progressLine, packagesOf: labPackages });
      // A lab that continues another is prepared again from that lab's solutions (upLab).
      const { env: fresh } = await upLab(
        { env: name, lab: env.lab, pg: env.pg, standbys: Math.max(1, env.servers.length - 1), className: env.className, subnet: env.subnet }, progressLine);
      for (const step of lab.steps.slice(0, index)) {
        progressLine(t('solve.running', { step: step.id }));
        await applySolution(fresh, lab, step, progressLine);
      }
      console.log(t('reset.done', { env: name, step: target.id }));
    });

  const klass = program.command('class').description('una clase entera en este servidor / a whole class on this server');
  klass.command('up')
    .description('un entorno por alumno / one env per student')
    .option('--roster <file>', 'CSV de alumnos / roster CSV')
    .option('--count <n>', 'alumno01…alumnoN')
    .option('--pg <version>')
    .option('--lab <id>', 'lab de la clase / the class\'s lab')
    .option('--class <name>', 'nombre de la clase / class name', DEFAULT_CLASS)
    .option('--parallel <n>', 'entornos a la vez / envs at a time', '3')
    .option('--swarm', 'en los nodos de un Docker Swarm (`lab class nodes`) / on the nodes of a Docker Swarm')
    .option('--spread', 'Swarm: cada servidor de un entorno en otro nodo / Swarm: each server of an env on another node')
    .action(async (opts) => {
      // Every value is checked before the first env is created.
      className(opts.class);
      if ((opts.swarm || opts.spread) && !swarmMode()) throw new LabError('swarm.noNodes', {}, 2);
      if (swarmMode()) await requireManager();
      const parallel = parseIntOption(opts.parallel, '--parallel', PARALLEL);
      const count = opts.count !== undefined && !opts.roster ? parseIntOption(opts.count, '--count', CLASS_SIZE) : undefined;
      const pg = parsePg(opts.pg);
      if (opts.lab) readManifest(opts.lab);
      const students = rosterStudents({ roster: opts.roster, count, className: opts.class });
      const t0 = Date.now();
      // A missing image is built (or loaded) once, with its progress, before any env: not a minute of silence.
      const known = new Set(await listEnvNames());
      if (students.some((s) => !known.has(s.env))) await ensureImage(pg ?? DEFAULT_PG, progressLine);
      const results = await classUp(students, { pg, className: opts.class, parallel, progress: progressLine, 
        bringUp: (o) => upLab({ ...o, lab: opts.lab, ...(opts.spread ? { spread: true } : {}) }),
      });
      const failed = results.filter((r) => !r.ok);
      for (const f of failed) console.error(`  ${f.env}: ${f.error}`);
      console.log(t('class.upDone', { class: opts.class, ok: results.length - failed.length, failed: failed.length, seconds: ((Date.now() - t0) / 1000).toFixed(1) }));
      process.exitCode = failed.length ? 1 : 0;
    });
  klass.command('status')
    .description('un renglón por entorno (--full: el estado completo) / one line per env (--full: full status)')
    .option('--class <name>', '', DEFAULT_CLASS)
    .option('--full')
    .action(async (opts) => {
      className(opts.class);
      const envs = await classEnvs(opts.class);
      if (!envs.length) return console.log(t('class.none', { class: opts.class }));
      for (const env of envs) {
        if (opts.full) console.log(await statusText(env), '\n');
        else console.log(`${env.name.padEnd(24)} PostgreSQL ${env.pg.padEnd(4)} ${env.subnet.padEnd(16)} ${env.servers.map(serverCell).join('  ')}${env.student ? `  ${studentLine(env.student)}` : ''}`);
      }
    });
  klass.command('grade')
    .option('--class <name>', '', DEFAULT_CLASS)
    .option('--format <format>', FORMATS.join(' | '), 'csv')
    .option('--out <file>')
    .option('--parallel <n>', 'entornos a la vez / envs at a time', '4')
    .option('--lab <id>', 'corregir este lab en vez del de cada entorno / grade this lab instead of each env\'s')
    .option('--roster <file>', 'CSV de alumnos: una fila por alumno, también los que no tienen entorno / one row per student, also those without an env')
    .option('--scale <n>', `moodle: la nota máxima / the top grade (${DEFAULT_SCALE})`)
    .option('--submissions <dir>', 'corrige las entregas de `lab submit` de este directorio / grade the `lab submit` hand-ins in this directory')
    .option('--count-solved', 'contar los pasos resueltos con `lab solve` / count steps done with `lab solve`')
    .action(async (opts) => {
      className(opts.class);
      const format = checkFormat(opts.format);
      const render = renderOptions(opts);
      const parallel = parseIntOption(opts.parallel, '--parallel', PARALLEL);
      const students = opts.roster ? readRosterFile(opts.roster, opts.class) : undefined;
      if (opts.submissions) {
        // Hand-ins: re-graded one at a time with this pglab's graders against their recorded answers.
        const files = handinFiles(opts.submissions);
        const grades: EnvGrade[] = [];
        for (const f of files) {
          const g = await gradeHandin(f);
          progressLine(`${path.basename(f)}: ${g.error ?? `${g.score}/${g.maxScore}`}`);
          grades.push(g);
        }
        flagCopies(grades);
        const labs = [...new Set(grades.filter((g) => g.lab).map((g) => g.lab))];
        const single = labs.length === 1 ? readManifest(labs[0]) : undefined;
        let report: GradeReport = { schema: 'pglab-grade/1', lab: single?.id ?? labs.join(','), labTitle: single?.title.es ?? labs.join(', '), gradedAt: new Date().toISOString(), envs: grades };
        if (students) report = applyRoster(report, students, 'legajo');
        emit(report, format, opts.out, render);
        process.exitCode = grades.some((g) => g.refused) ? 1 : 0;
        return;
      }
      const names = await listEnvNames(opts.class);
      if (!names.length && !students) throw new LabError('class.none', { class: opts.class }, 2);
      const graded = await gradeEnvs(names, { lab: opts.lab, parallel, progress: progressLine, countSolved: Boolean(opts.countSolved) });
      let report: GradeReport = { ...graded, className: opts.class };
      if (students) report = applyRoster(report, students);
      emit(report, format, opts.out, render);
    });
  registerNodeCommands(klass);
  klass.command('down')
    .option('--class <name>', '', DEFAULT_CLASS)
    .option('--purge')
    .option('-y, --yes')
    .action(async (opts) => {
      className(opts.class);
      if (opts.purge && !(await confirm(t('down.confirmPurge', { env: `${opts.class} (*)` }), opts.yes))) return;
      const names = await classDown(opts.class, { purge: opts.purge, progress: progressLine, packagesOf: labPackages });
      console.log(t(opts.purge ? 'class.purgedDone' : 'class.downDone', { class: opts.class, count: names.length }));
    });
}

/** `maestro:running`, on a Swarm `maestro:running@worker1` (a down node: `maestro:nodo caído@worker1`). */
function serverCell(s: LabEnv['servers'][number]): string {
  const state = s.state === NODE_DOWN ? t('swarm.nodeDownState') : s.state;
  return `${s.role}:${state}${s.node ? `@${s.node}` : ''}`;
}

/** `lab class nodes`: the Swarm nodes lab places envs on (see README, «Una clase en varios servidores»). */
function registerNodeCommands(klass: Command): void {
  const nodes = klass.command('nodes')
    .description('Swarm: los nodos donde van los entornos / Swarm: the nodes envs go on')
    .action(async () => {
      const registered = registeredNodes();
      if (!registered.length) return console.log(t('swarm.noNodes'));
      const [swarm, listing] = await Promise.all([swarmNodes(), listEverywhere([LAB_LABEL])]);
      const load = serverLoad(listing);
      console.log(t('swarm.nodesHeader'));
      for (const n of swarm) {
        const mine = registered.find((r) => r.name === n.name);
        const reach = !mine ? '—' : listing.down.has(n.name) ? t('swarm.nodeDownState') : 'ok';
        const labels = Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(',');
        console.log(`${n.name.padEnd(21)} ${n.role.padEnd(8)} ${n.availability.padEnd(10)} ${n.state.padEnd(7)} ${reach.padEnd(7)} ${String(load.get(n.name) ?? 0).padEnd(11)} ${labels}`);
      }
      for (const r of registered) if (!swarm.some((n) => n.name === r.name)) console.log(`${r.name.padEnd(21)} ${t('swarm.reason.unknown')}`);
    });
  nodes.command('add <name>')
    .description('agrega un nodo (su nombre en `docker node ls`) / adds a node (its name in `docker node ls`)')
    .requiredOption('--host <url>', 'tcp://HOST:2376 (TLS) | ssh://USUARIO@HOST')
    .option('--tls-dir <dir>', 'ca.pem, cert.pem, key.pem (certificado de cliente / client certificate)')
    .action((name: string, opts) => {
      const added = addNode({ name, host: opts.host, tlsDir: opts.tlsDir });
      console.log(t('swarm.nodeAdded', { name: added.name, host: added.host }));
    });
  nodes.command('rm <name>')
    .description('quita un nodo de la lista de lab / removes a node from lab\'s list')
    .action((name: string) => {
      if (!removeNode(name)) throw new LabError('swarm.nodeNotFound', { name }, 2);
      console.log(t('swarm.nodeRemoved', { name }));
    });
}
