/** `lab dev …`: tools for lab authors (not students). */
import type { Command } from 'commander';
import { t } from '../i18n/index.js';
import { devCheck } from '../lab/dev-check.js';
import { labIds, readManifest } from '../lab/manifest.js';

export function registerDevCommands(program: Command): void {
  const dev = program.command('dev').description('herramientas para autores de labs / tools for lab authors');

  dev.command('check [lab]')
    .description('revisa un lab (o todos) antes de publicarlo / checks a lab (or all) before publishing it')
    .action(async (id: string | undefined) => {
      let failed = false;
      for (const lab of id ? [id] : labIds()) {
        const problems = await devCheck(lab);
        if (!problems.length) {
          const m = readManifest(lab);
          console.log(`✓ ${t('dev.ok', { lab, steps: m.steps.length, checks: m.steps.reduce((n, s) => n + s.checks.length, 0) })}`);
          continue;
        }
        failed = true;
        console.log(`✗ ${t('dev.problems', { lab, n: problems.length })}`);
        for (const p of problems) console.log(`  - ${p}`);
      }
      if (failed) process.exitCode = 1;
    });
}
