/**
 * `lab watch [step-N]`, like rustlings' watch mode: re-checks the step every CYCLE_S seconds,
 * redraws the checklist in place on a terminal, and says what changed. Without a terminal (a pipe,
 * a file, CI) it prints plain lines: the checklist once, then one line per change, and the
 * checklist again when the step changes. Quits on q (a key on a terminal; a line "q" or the end of
 * the input otherwise) and on Ctrl+C.
 */
import chalk from 'chalk';
import { t } from '../i18n/index.js';
import { localTime } from '../i18n/time.js';
import { renderStep } from '../render/checklist.js';
import { labAsksArchiveOff } from '../lab/manifest.js';
import { topologyLines } from '../render/topology-text.js';
import { CYCLE_S, LiveSession, type Snapshot } from './session.js';

export interface WatchOptions {
  env: string;
  step?: string;
  input?: NodeJS.ReadStream;
  output?: NodeJS.WriteStream;
  /** Stop after this many cycles (tests, benchmarks). */
  cycles?: number;
}

export async function watch(opts: WatchOptions): Promise<void> {
  const input = opts.input ?? process.stdin;
  const out = opts.output ?? process.stdout;
  const tty = !!out.isTTY && !!input.isTTY;
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') chalk.level = 0;
  if (!tty && !process.env.FORCE_COLOR) chalk.level = 0;
  const session = await LiveSession.open(opts.env, { step: opts.step });

  let stop = false;
  let wake: () => void = () => {};
  const quit = () => {
    stop = true;
    wake();
  };
  if (tty) {
    input.setRawMode?.(true);
    input.on('data', (b: Buffer) => {
      const k = b.toString();
      if (k === 'q' || k === 'Q' || k === '\u0003' || k === '\u001b') quit();
    });
  } else {
    let buf = '';
    input.setEncoding('utf8');
    input.on('data', (d: string) => {
      buf += d;
      if (buf.split('\n').some((l) => l.trim().toLowerCase() === 'q')) quit();
      buf = buf.slice(buf.lastIndexOf('\n') + 1);
    });
    input.on('end', quit);
    input.on('error', quit);
  }
  input.resume();

  let shownSeq = 0;
  let shownStep = '';
  let shownDone = '';
  try {
    for (let n = 0; !stop && (opts.cycles === undefined || n < opts.cycles); n++) {
      const snap = await session.cycle();
      // A q typed before the first answer still gets that answer.
      if (stop && n > 0) break;
      if (tty) out.write(screen(session, snap));
      else {
        const lines: string[] = [];
        if (snap.step.id !== shownStep) {
          shownStep = snap.step.id;
          lines.push(plainScreen(session, snap));
        } else {
          for (const c of snap.changes.filter((x) => x.seq > shownSeq)) lines.push(`[${localTime(new Date(c.at).toISOString())}] ${c.text}`);
        }
        shownSeq = snap.changes.at(-1)?.seq ?? shownSeq;
        if (snap.error) lines.push(t('watch.cycleFailed', { detail: snap.error, s: CYCLE_S }));
        if (snap.result?.passed && shownDone !== snap.step.id) {
          shownDone = snap.step.id;
          lines.push(session.doneText(snap.step));
        }
        if (lines.length) out.write(lines.join('\n') + '\n');
      }
      if (opts.cycles !== undefined && n + 1 >= opts.cycles) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, session.nextDelayMs());
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    if (tty) {
      input.setRawMode?.(false);
      out.write('\n');
    }
    input.pause();
    input.removeAllListeners('data');
  }
}

function header(session: LiveSession, snap: Snapshot): string {
  return t('watch.header', { title: session.stepTitle(snap.step), env: snap.env.name, pg: snap.env.pg });
}

/** The whole screen on a terminal: cleared and drawn again each cycle (no scrollback growth). */
function screen(session: LiveSession, snap: Snapshot): string {
  const lines = [chalk.bold(header(session, snap)), chalk.dim(`${t('watch.keys', { s: CYCLE_S })} ${t('watch.checkedAt', { time: localTime(new Date(snap.at).toISOString()) })}`), ''];
  if (snap.topology) lines.push(...topologyLines(snap.topology, { archiveOffExpected: labAsksArchiveOff(snap.env.lab) }).map((l) => `  ${l}`), '');
  if (snap.result) lines.push(renderStep(snap.result, chalk.bold(session.stepTitle(snap.step))));
  if (snap.result?.passed) lines.push('', chalk.green(session.doneText(snap.step)));
  if (snap.error) lines.push('', chalk.red(t('watch.cycleFailed', { detail: snap.error, s: CYCLE_S })));
  const recent = snap.changes.slice(-6);
  if (recent.length) {
    lines.push('', chalk.bold(t('watch.changes')));
    for (const c of recent) {
      const color = c.kind === 'good' ? chalk.green : c.kind === 'bad' ? chalk.red : chalk.yellow;
      lines.push(`  ${chalk.dim(localTime(new Date(c.at).toISOString()))} ${color(c.text)}`);
    }
  }
  return '\x1b[H\x1b[2J' + lines.join('\n') + '\n';
}

/** Plain text (no escapes): the header, the topology and the checklist. */
function plainScreen(session: LiveSession, snap: Snapshot): string {
  const lines = [header(session, snap), t('watch.keysPlain', { s: CYCLE_S })];
  if (snap.topology) lines.push(...topologyLines(snap.topology, { archiveOffExpected: labAsksArchiveOff(snap.env.lab) }).map((l) => `  ${l}`));
  if (snap.result) lines.push(renderStep(snap.result, session.stepTitle(snap.step)));
  return lines.join('\n');
}
