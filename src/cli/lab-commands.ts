/** lab list / show / check / hint / solve */
import chalk from 'chalk';
import type { Command } from 'commander';
import { loadEnv, requireServer, type LabEnv } from '../env/env.js';
import { envName } from '../env/naming.js';
import { lang, localized, t } from '../i18n/index.js';
import { renderExerciseSource } from '../lab/exercise.js';
import { envFacts } from '../lab/facts.js';
import { findStep, labIds, loadLab, readManifest, type Lab } from '../lab/manifest.js';
import { appendProgress, readProgress } from '../lab/progress.js';
import { fillHint, lazy, progressRecords, runStep, type StepResult } from '../lab/runner.js';
import { applySolution } from '../lab/solve.js';
import { EnvProbes } from '../pg/probes.js';
import { renderStep } from '../render/checklist.js';
import { confirm, progressLine } from './io.js';

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

  program.command('show <step>')
    .description('muestra el ejercicio / show the exercise')
    .option('--env <name>')
    .option('--raw', 'markdown sin formato / plain markdown')
    .action(async (stepId, opts) => {
      const env = await loadEnv(envName(opts.env));
      const step = findStep(readManifest(env.lab), stepId);
      const source = renderExerciseSource(env.lab, lang(), step.exercise, env.pg, envFacts(env));
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
      const env = await loadEnv(envName(opts.env));
      // A missing or stopped container means the env cannot be checked (exit 2), not a failed step.
      for (const s of env.servers) requireServer(env, s.role);
      const lab = await loadLab(opts.lab ?? env.lab);
      const results = await checkSteps(env, lab, stepId);
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
      await applySolution(env, lab, step, progressLine);
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
