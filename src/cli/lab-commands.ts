/** lab list / show / check / hint / solve / submit */
import { traced } from '../trace.js';
import chalk from 'chalk';
import type { Command } from 'commander';
import { loadEnv, requireServer, type LabEnv } from '../env/env.js';
import { envName } from '../env/naming.js';
import { lang, localized, t } from '../i18n/index.js';
import { submit } from '../handin/handin.js';
import { studentId } from '../env/roster.js';
import { renderExerciseSource } from '../lab/exercise.js';
import { envFacts } from '../lab/facts.js';
import { findStep, labIds, loadLab, readManifest, type Lab } from '../lab/manifest.js';
import { appendProgress, readProgress } from '../lab/progress.js';
import { fillHint, lazy, progressRecords, runStep, type StepResult } from '../lab/runner.js';
import { applySolution, stopSolving } from '../lab/solve.js';
import { EnvProbes } from '../pg/probes.js';
import { renderStep } from '../render/checklist.js';
import { confirm, interrupted, onInterrupt, progressLine } from './io.js';
import { LabError } from '../errors.js';

/** 1234567 → "1.2 MB" (decimal units, as file managers show them). */
function humanSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export function registerLabCommands(program: Command): void {
  program.command('labs')
    .description('los labs de este pglab / the labs in this pglab')
    .option('--json', 'salida JSON / JSON output')
    .action((opts) => {
      const labs = labIds().map((id) => readManifest(id));
      if (opts.json) {
        const rows = labs.map((l) => ({
          id: l.id, title: localized(l.title), steps: l.steps.length, startsFrom: l.startsFrom ?? null, standbys: l.standbys ?? 1,
        }));
        return console.log(JSON.stringify(rows, null, 2));
      }
      for (const l of labs) {
        const from = l.startsFrom ? `  ${t('labs.startsFrom', { lab: l.startsFrom })}` : '';
        console.log(`  ${l.id.padEnd(16)} ${localized(l.title)} (${t('labs.steps', { n: l.steps.length })})${from}`);
      }
      console.log(t('labs.usage'));
    });

  program.command('list')
    .description('pasos y su estado / steps and their status')
    .option('--env <name>')
    .option('--lab <id>', 'otro lab que el del entorno / another lab than the env\'s')
    .option('--json', 'salida JSON / JSON output')
    .action(async (opts) => {
      const env = await loadEnv(envName(opts.env));
      const lab = readManifest(opts.lab ?? env.lab);
      const progress = await readProgress(env, lab.id);
      const steps = lab.steps.map((step) => ({
        id: step.id, title: localized(step.title),
        status: progress.steps[step.id]?.lastStatus ?? null, firstPassed: progress.steps[step.id]?.firstPassed ?? null,
      }));
      const next = steps.find((s) => s.status !== 'pass')?.id;
      if (opts.json) return console.log(JSON.stringify({ env: env.name, lab: lab.id, pg: env.pg, next: next ?? null, steps }, null, 2));
      console.log(t('list.header', { env: env.name, pg: env.pg, lab: lab.id }));
      for (const step of steps) {
        const mark = step.status === 'pass' ? chalk.green('✓') : step.status === 'fail' ? chalk.red('✗') : chalk.dim('·');
        console.log(`  ${mark} ${step.id}  ${step.title}`);
      }
      console.log(next ? t('list.next', { step: next }) : t('list.allDone'));
    });

  program.command('submit')
    .description('entrega: un archivo con lo que los correctores necesitan para corregir tu entorno en otra máquina / hand-in: one file with what the graders need to grade your env elsewhere')
    .option('--env <name>')
    .option('--student <legajo>', 'tu legajo / your student ID')
    .option('--out <file>', 'archivo (por defecto pglab-<lab>-<legajo>.tar) / output file')
    .action(async (opts) => {
      if (opts.student === undefined) throw new LabError('submit.needsStudent', {}, 2);
      const legajo = studentId(opts.student);
      const env = await loadEnv(envName(opts.env));
      const out = opts.out ?? `pglab-${env.lab}-${legajo.replace(/[^A-Za-z0-9.-]/g, '-')}.tar`;
      progressLine(t('grade.grading', { env: env.name }));
      const r = await submit(env.name, { legajo }, out);
      console.log(t('submit.done', { file: r.file, size: humanSize(r.bytes), score: r.grade.score, max: r.grade.maxScore }));
      console.log(t('submit.contains', { members: r.members.map((m) => `${m.name} (${humanSize(m.size)})`).join(', ') }));
      console.log(t('submit.facts', { servers: Object.keys(r.facts.servers).length, segments: r.facts.archive.length }));
    });

  program.command('show <step>')
    .description('muestra el ejercicio / show the exercise')
    .option('--env <name>')
    .option('--raw', 'markdown sin formato / plain markdown')
    .action(async (stepId, opts) => {
      const env = await loadEnv(envName(opts.env));
      const step = findStep(readManifest(env.lab), stepId);
      const source = renderExerciseSource(env.lab, lang(), step.exercise, env.pg, envFacts(env));
      // Per-student values: the addresses of this student's env (derived from the legajo), not a classmate's.
      if (env.student?.legajo) console.log(t('show.student', { legajo: env.student.legajo, ips: env.servers.map((s) => `${s.role} ${s.ip}`).join(', ') }) + '\n');
      if (opts.raw || !process.stdout.isTTY) {
        console.log(source);
      } else {
        // Loaded here only: the terminal renderer costs ~0.3 s of start-up that `lab check` need not pay.
        const [{ marked }, { markedTerminal }] = await Promise.all([import('marked'), import('marked-terminal')]);
        marked.use(markedTerminal({ reflowText: false, width: Math.min(process.stdout.columns ?? 100, 100) }) as never);
        console.log(await marked.parse(source));
      }
    });

  program.command('check [step]')
    .description('verifica un paso (o todos hasta el primero que falla) / check a step (or all up to the first failing)')
    .option('--env <name>')
    .option('--lab <id>', 'otro lab que el del entorno / another lab than the env\'s')
    .option('--json', 'salida JSON / JSON output')
    .action(async (stepId: string | undefined, opts) => {
      const env = await traced('discovery', () => loadEnv(envName(opts.env)));
      // A missing or stopped container means the env cannot be checked (exit 2), not a failed step.
      for (const s of env.servers) requireServer(env, s.role);
      const lab = await traced('lab', () => loadLab(opts.lab ?? env.lab));
      const results = await traced('checks', () => checkSteps(env, lab, stepId));
      if (opts.json) {
        console.log(JSON.stringify(checkReport(env, lab, results), null, 2));
      } else {
        for (const r of results) {
          console.log(renderStep(r, t('check.header', { title: r.title, env: env.name, pg: env.pg })));
          console.log();
        }
        const last = results[results.length - 1];
        const index = lab.steps.findIndex((s) => s.id === last.step);
        if (!last.passed) console.log(t('check.someFailed', { step: last.step }));
        else if (index < lab.steps.length - 1) console.log(t('check.allPassed', { next: lab.steps[index + 1].id }));
        else console.log(t('check.lastStep'));
      }
      process.exitCode = results.every((r) => r.passed) ? 0 : 1;
    });

  program.command('hint <step>')
    .description('pistas del paso, de suave a explícita / hints, gentle to explicit')
    .option('--env <name>')
    .action(async (stepId, opts) => {
      const env = await loadEnv(envName(opts.env));
      const step = findStep(readManifest(env.lab), stepId);
      const facts = envFacts(env);
      console.log(t('hint.header', { step: step.id }));
      step.hints.forEach((h, i) => console.log(`  ${i + 1}. ${fillHint(localized(h), facts)}`));
    });

  program.command('solve <step>')
    .description('aplica la solución de referencia / apply the reference solution')
    .option('--env <name>')
    .option('-y, --yes', 'no preguntar / do not ask')
    .action(async (stepId, opts) => {
      const env = await loadEnv(envName(opts.env));
      const lab = readManifest(env.lab);
      const step = findStep(lab, stepId);
      if (!(await confirm(t('solve.confirm', { step: step.id, env: env.name }), opts.yes))) return;
      progressLine(t('solve.running', { step: step.id }));
      // Ctrl+C (or a TERM) stops the script in the container too, then exits as any interrupted command.
      let stopping = false;
      const stop = () => { stopping = true; progressLine(t('solve.stopping')); void stopSolving(env).finally(interrupted); };
      process.removeListener('SIGINT', interrupted);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await applySolution(env, lab, step, progressLine);
      } catch (err) {
        // The script we stopped fails (143): not news; `interrupted` ends the process.
        if (stopping) await new Promise(() => {});
        throw err;
      } finally {
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
        onInterrupt();
      }
      console.log(t('solve.done', { step: step.id }));
    });
}

/** One step, or every step in order up to the first that fails (one shared set of probes). */
export async function checkSteps(env: LabEnv, lab: Lab, stepId?: string): Promise<StepResult[]> {
  if (stepId) return [await runStep(env, lab, findStep(lab, stepId))];
  const shared = { probes: new EnvProbes(env), progress: lazy(() => readProgress(env, lab.id)) };
  const results: StepResult[] = [];
  for (const step of lab.steps) {
    const r = await runStep(env, lab, step, shared);
    results.push(r);
    if (!r.passed) break;
  }
  await appendProgress(env, progressRecords(lab.id, results));
  return results;
}

/** The `lab check --json` object (documented in README). */
export function checkReport(env: LabEnv, lab: Lab, steps: StepResult[]) {
  return {
    lab: lab.id,
    env: env.name,
    pg: env.pg,
    checkedAt: new Date().toISOString(),
    passed: steps.every((s) => s.passed),
    points: steps.reduce((s, r) => s + r.points, 0),
    maxPoints: steps.reduce((s, r) => s + r.maxPoints, 0),
    steps,
  };
}
