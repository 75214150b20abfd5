/** Small terminal helpers shared by commands: progress lines and confirmations. */
import chalk from 'chalk';
import { createInterface } from 'node:readline/promises';
import { LabError } from '../errors.js';
import { lang, t } from '../i18n/index.js';

/** Exit status of a process stopped by Ctrl+C (128 + SIGINT), as shells report it. */
export const INTERRUPTED_EXIT = 130;

/** Ctrl+C anywhere (also at a confirmation prompt): a short line on stderr and exit 130, no stack. */
export function interrupted(): never {
  process.stderr.write(`\n${t('cli.interrupted')}\n`);
  process.exit(INTERRUPTED_EXIT);
}

export function onInterrupt(): void {
  if (!process.listeners('SIGINT').includes(interrupted)) process.once('SIGINT', interrupted);
}

/** Progress goes to stderr so --json output on stdout stays clean. */
export function progressLine(line: string): void {
  process.stderr.write(chalk.dim(`· ${line}`) + '\n');
}

export async function confirm(question: string, yes: boolean | undefined): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY) throw new LabError('confirm.needYes', {}, 2);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  rl.on('SIGINT', interrupted); // the terminal is raw here: Ctrl+C reaches readline, not the process
  try {
    const answer = (await rl.question(`${question} [${lang() === 'en' ? 'y/N' : 's/N'}] `)).trim().toLowerCase();
    const ok = ['s', 'si', 'sí', 'y', 'yes'].includes(answer);
    if (!ok) console.error(t('confirm.cancelled'));
    return ok;
  } finally {
    rl.close();
  }
}
