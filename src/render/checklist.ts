/** Terminal rendering of check results (chalk). */
import chalk from 'chalk';
import { t } from '../i18n/index.js';
import { evidencePairs } from './evidence.js';
import { localTime } from '../i18n/time.js';
import type { CheckResult, StepResult } from '../lab/runner.js';

const MARK = { pass: chalk.green('✓'), fail: chalk.red('✗'), warn: chalk.yellow('!') } as const;

export function formatEvidence(evidence: Record<string, string | number>): string {
  const parts = evidencePairs(evidence);
  return parts.length ? parts.join('; ') : '—';
}

export function renderCheck(c: CheckResult): string {
  const points = c.maxPoints ? chalk.dim(` (${c.points}/${c.maxPoints})`) : '';
  const lines = [`${MARK[c.status]} ${c.title}${points}`];
  if (c.status === 'pass' && c.passedBefore) {
    lines.push(chalk.dim(`    ${t('check.passedBefore', { at: localTime(c.passedBefore) })}`));
  } else if (c.status === 'pass' && (c.source === 'evidence' || c.source === 'recorder')) {
    // The live state is gone (promotion, cleanup): say what proved it instead.
    lines.push(chalk.dim(`    ${t(c.source === 'evidence' ? 'check.fromEvidence' : 'check.fromRecorder')}: ${formatEvidence(c.evidence)}`));
  }
  if (c.status !== 'pass') {
    lines.push(`    ${chalk.bold(t('check.expected'))}: ${c.expected}`);
    const observed = evidencePairs(c.evidence);
    if (observed.length <= 1) lines.push(`    ${chalk.bold(t('check.observed'))}: ${observed[0] ?? '—'}`);
    else lines.push(`    ${chalk.bold(t('check.observed'))}:`, ...observed.map((p) => `      ${p}`));
    if (c.hint) lines.push(`    ${chalk.bold(t('check.hint'))}: ${c.hint}`);
  }
  return lines.join('\n');
}

export function renderStep(r: StepResult, header: string): string {
  // Only ✓ counts as verified: a ! is a warning, not a pass.
  const passed = r.checks.filter((c) => c.status === 'pass').length;
  return [
    chalk.bold(header),
    ...r.checks.map(renderCheck),
    '',
    t('check.summary', { passed, total: r.checks.length, points: r.points, maxPoints: r.maxPoints }),
  ].join('\n');
}
