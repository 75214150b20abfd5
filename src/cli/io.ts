/** Small terminal helpers shared by commands: progress lines and confirmations. */
import chalk from 'chalk';
import { createInterface } from 'node:readline/promises';
import { LabError } from '../errors.js';
import { lang, t } from '../i18n/index.js';

/** Progress goes to stderr so --json output on stdout stays clean. */
export function progressLine(line: string): void {
  process.stderr.write(chalk.dim(`· ${line}`) + '\n');
}

export async function confirm(question: string, yes: boolean | undefined): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) throw new LabError('confirm.needYes', {}, 2);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [${lang() === 'en' ? 'y/N' : 's/N'}] `)).trim().toLowerCase();
    const ok = ['s', 'si', 'sí', 'y', 'yes'].includes(answer);
    if (!ok) console.error(t('confirm.cancelled'));
    return ok;
  } finally {
    rl.close();
  }
}
