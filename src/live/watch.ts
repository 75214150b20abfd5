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

  // A terminal gets the alternate screen (like less or top): redraws never reach the scrollback,
  // and the screen the student had comes back on quit. A resize redraws at once.
  let lastSnap: Snapshot | undefined;
  const redraw = () => {
    if (lastSnap) out.write(screen(session, lastSnap, out.rows || 24, out.columns || 80));
  };
  if (tty) {
    out.write(ENTER_ALT);
    out.on('resize', redraw);
  }

  let shownSeq = 0;
  let shownStep = '';
  let shownDone = '';
  try {
    for (let n = 0; !stop && (opts.cycles === undefined || n < opts.cycles); n++) {
      const snap = await session.cycle();
      // A q typed before the first answer still gets that answer.
      if (stop && n > 0) break;
      if (tty) {
        lastSnap = snap;
        redraw();
      }
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
      out.off('resize', redraw);
      out.write(LEAVE_ALT);
    }
    input.pause();
    input.removeAllListeners('data');
  }
}

function header(session: Pick<LiveSession, 'stepTitle'>, snap: Snapshot): string {
  return t('watch.header', { title: session.stepTitle(snap.step), env: snap.env.name, pg: snap.env.pg });
}

const ENTER_ALT = '\x1b[?1049h\x1b[?25l';
const LEAVE_ALT = '\x1b[?25h\x1b[?1049l';

/**
 * The whole screen on a terminal, drawn from the top-left over the last one (each line cleared to
 * its end, then the rest of the screen): it fits the window, so nothing scrolls. The header and
 * the topology come first; the checklist gets the rows left, then the recent changes.
 */
export function screen(session: Pick<LiveSession, 'stepTitle' | 'doneText'>, snap: Snapshot, rows: number, cols: number): string {
  const head = [chalk.bold(header(session, snap)), chalk.dim(`${t('watch.keys', { s: CYCLE_S })} ${t('watch.checkedAt', { time: localTime(new Date(snap.at).toISOString()) })}`)];
  const topo = snap.topology ? topologyLines(snap.topology, { archiveOffExpected: labAsksArchiveOff(snap.env.lab) }).map((l) => `  ${l}`) : [];
  const status: string[] = [];
  if (snap.result?.passed) status.push(chalk.green(session.doneText(snap.step)));
  if (snap.error) status.push(chalk.red(t('watch.cycleFailed', { detail: snap.error, s: CYCLE_S })));
  const checks = snap.result ? renderStep(snap.result, chalk.bold(session.stepTitle(snap.step))).split('\n') : [];
  const changes: string[] = [];
  const recent = snap.changes.slice(-6);
  if (recent.length) {
    changes.push(chalk.bold(t('watch.changes')));
    for (const c of recent) {
      const color = c.kind === 'good' ? chalk.green : c.kind === 'bad' ? chalk.red : chalk.yellow;
      changes.push(`  ${chalk.dim(localTime(new Date(c.at).toISOString()))} ${color(c.text)}`);
    }
  }
  const lines = fitScreen([head, topo, status, checks, changes], rows, cols, (n) => chalk.dim(t('watch.more', { n })));
  return '\x1b[H' + lines.map((l) => `${l}\x1b[K`).join('\n') + '\x1b[J';
}

/**
 * Sections in order of priority, wrapped to `cols` and cut to `rows` lines (a blank line between
 * sections; the status line, "¡Paso completo!" or an error, goes right after the topology so a
 * small window still shows it). What does not fit is counted on the last line.
 */
export function fitScreen(sections: string[][], rows: number, cols: number, more: (n: number) => string): string[] {
  const wrapped = sections.map((lines) => lines.flatMap((l) => wrapAnsi(l, Math.max(20, cols))));
  const out: string[] = [];
  const dropped: string[] = [];
  for (const sec of wrapped) {
    if (!sec.length) continue;
    for (const l of out.length || dropped.length ? ['', ...sec] : sec) (out.length < rows - 1 ? out : dropped).push(l);
  }
  // The last row: the one line left when that is all, else how many did not fit.
  if (dropped.length === 1) out.push(dropped[0]);
  else if (dropped.length > 1) out.push(more(dropped.filter((l) => l !== '').length));
  return out;
}

/** Hard-wrap one line at `cols` visible characters (escape sequences take no room); continuations indented. */
export function wrapAnsi(line: string, cols: number): string[] {
  const out: string[] = [];
  let cur = '';
  let width = 0;
  const indent = '    ';
  for (let i = 0; i < line.length;) {
    const esc = /^\x1b\[[0-9;?]*[A-Za-z]/.exec(line.slice(i, i + 16));
    if (esc) {
      cur += esc[0];
      i += esc[0].length;
      continue;
    }
    const ch = String.fromCodePoint(line.codePointAt(i)!);
    if (width >= cols) {
      out.push(cur);
      cur = indent;
      width = indent.length;
    }
    cur += ch;
    width++;
    i += ch.length;
  }
  out.push(cur);
  return out;
}

/** Plain text (no escapes): the header, the topology and the checklist. */
function plainScreen(session: LiveSession, snap: Snapshot): string {
  const lines = [header(session, snap), t('watch.keysPlain', { s: CYCLE_S })];
  if (snap.topology) lines.push(...topologyLines(snap.topology, { archiveOffExpected: labAsksArchiveOff(snap.env.lab) }).map((l) => `  ${l}`));
  if (snap.result) lines.push(renderStep(snap.result, session.stepTitle(snap.step)));
  return lines.join('\n');
}
