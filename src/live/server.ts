/**
 * `lab web` and `lab class web`: a small HTTP server for the env page and the class board.
 *
 * Security: it listens on 127.0.0.1 unless --expose (which warns); every request needs the random
 * token printed with the URL (none: 401; a wrong one: 403, compared in constant time); the Host
 * header must be this address (a DNS-rebinding page cannot borrow the browser); only GET and HEAD,
 * on a fixed set of paths. No request chooses anything that runs: the cycles are the runner's
 * checks and the topology's fixed probes, and the one value a path carries (an env name on the
 * board) must be one of the class's envs. Pages carry a CSP that allows only their own inline
 * script and style (by nonce), and every string from an env is escaped (src/render/live-html.ts).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import os from 'node:os';
import { LabError } from '../errors.js';
import { lang, localized, t } from '../i18n/index.js';
import { localTime } from '../i18n/time.js';
import { exerciseHtml } from '../render/exercise-html.js';
import { envFacts } from '../lab/facts.js';
import { escapeHtml } from '../render/escape.js';
import { boardTable, ENV_LAYOUT, envParts, page, type BoardRow, type PageParts } from '../render/live-html.js';
import { CYCLE_S, HISTORY_MIN, LiveSession, type Snapshot } from './session.js';

export const LOCALHOST = '127.0.0.1';
/** Server-sent event streams open at once (a class's instructor and a few tabs). */
const MAX_STREAMS = 32;
/**
 * The board grades every env again this long after its last round ended, or twice the round's
 * length when that is longer (a full grading of 20 envs takes tens of seconds on a class server:
 * the board then keeps at most a third of the time busy), but never waits more than BOARD_MAX_S.
 */
export const BOARD_CYCLE_S = 10;
const BOARD_MAX_S = 60;
export const boardDelayMs = (lastRoundMs: number) => Math.min(BOARD_MAX_S * 1000, Math.max(BOARD_CYCLE_S * 1000, 2 * lastRoundMs));
const BOARD_PARALLEL = 4;

export interface WebOptions {
  /** One env's page… */
  env?: string;
  /** …or a class's board (and each of its envs' pages). */
  className?: string;
  port?: number;
  /** Listen on every interface (0.0.0.0) instead of 127.0.0.1. */
  expose?: boolean;
  /** Tests: a fixed token. */
  token?: string;
  step?: string;
}

export interface WebServer {
  url: string;
  token: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

type Stream = http.ServerResponse;

/** Cycles one session while someone watches, and sends each result to every open stream. */
export class Feed {
  streams = new Set<Stream>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  last?: Snapshot;

  constructor(readonly session: LiveSession, private render: (snap: Snapshot) => Promise<PageParts>, private onCycle?: () => void) {}

  /**
   * The snapshot a page load shows: while a tab is live the loop keeps `last` current; with none
   * (a reload with JavaScript off, say) a snapshot older than one cycle is taken again first.
   */
  async fresh(now = Date.now()): Promise<Snapshot> {
    if (!this.last || (!this.streams.size && now - this.last.at > CYCLE_S * 1000)) await this.tick();
    return this.last!;
  }

  tick(): Promise<void> {
    this.running ??= (async () => {
      try {
        this.last = await this.session.cycle();
        this.onCycle?.();
        if (this.streams.size) {
          const data = `data: ${JSON.stringify(await this.render(this.last))}\n\n`;
          for (const s of this.streams) s.write(data);
        }
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  add(res: Stream): void {
    this.streams.add(res);
    res.on('close', () => {
      this.streams.delete(res);
      if (!this.streams.size) this.stop();
    });
    if (!this.timer) this.loop();
  }

  private loop(): void {
    this.timer = setTimeout(async () => {
      await this.tick().catch(() => {});
      if (this.streams.size) this.loop();
      else this.timer = undefined;
    }, this.last ? this.session.nextDelayMs() : 0);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export async function startWeb(opts: WebOptions): Promise<WebServer> {
  const token = opts.token ?? randomBytes(24).toString('base64url');
  const host = opts.expose ? '0.0.0.0' : LOCALHOST;
  const exercises = new Map<string, string>();
  let streams = 0;

  const exerciseOf = async (snap: Snapshot): Promise<string> => {
    // Per env: the text carries that env's IPs (a class board serves several envs of one version).
    const key = `${snap.env.name}/${snap.lab.id}/${snap.step.id}/${snap.env.pg}/${lang()}`;
    let html = exercises.get(key);
    if (!html) exercises.set(key, (html = await exerciseHtml(snap.lab.id, lang(), snap.step.exercise, snap.env.pg, envFacts(snap.env))));
    return html;
  };

  const envFragments = (session: LiveSession) => async (snap: Snapshot): Promise<PageParts> => ({
    ...envParts({ ...snap, stepTitle: localized(snap.step.title), done: session.doneText(snap.step) }, HISTORY_MIN),
    exercise: await exerciseOf(snap),
  });

  // The env pages: one feed per env, made when first asked for.
  const feeds = new Map<string, Feed>();
  const envFeed = async (name: string): Promise<Feed> => {
    let feed = feeds.get(name);
    if (!feed) {
      // A page opened from the class board is the instructor looking: its records are marked so.
      const session = await LiveSession.open(name, opts.env ? { step: opts.step } : { recordAs: 'board' });
      feed = new Feed(session, envFragments(session));
      feeds.set(name, feed);
    }
    return feed;
  };

  // The board: every env of the class graded by `lab grade`'s own function (nothing recorded: looking
  // changes nothing), a few at a time; a new round boardDelayMs after the last one ends.
  let classNames: string[] = [];
  let board: { rows: BoardRow[]; steps: string[]; at: number; ms: number } | undefined;
  const lastActivity = new Map<string, string>();
  const boardStreams = new Set<Stream>();
  let boardTimer: NodeJS.Timeout | undefined;
  let boardRunning: Promise<void> | undefined;
  let grading: Promise<import('../lab/grade.js').GradeReport> | undefined;

  const boardCycle = (): Promise<void> => (boardRunning ??= (async () => {
    // One grading of the class at a time: a report's running grading finishes first (read before any await).
    const report = grading;
    const t0 = Date.now();
    try {
      await report?.catch(() => {});
      const { listEnvNames } = await import('../env/env.js');
      const { mapLimit } = await import('../concurrency.js');
      classNames = await listEnvNames(opts.className);
      let steps: string[] = board?.steps ?? [];
      const rows = await mapLimit(classNames, BOARD_PARALLEL, async (name) => {
        const [row, s] = await boardRow(name);
        if (s.length) steps = s;
        return row;
      });
      board = { rows, steps, at: Date.now(), ms: Date.now() - t0 };
      if (boardStreams.size) {
        const data = `data: ${JSON.stringify(boardFragments())}\n\n`;
        for (const s of boardStreams) s.write(data);
      }
    } finally {
      boardRunning = undefined;
    }
  })());

  const boardRow = async (name: string): Promise<[BoardRow, string[]]> => {
    try {
      const [{ findEnv }, { gradeEnv }, { readProgress }, { readManifest }] = await Promise.all([
        import('../env/env.js'), import('../lab/grade.js'), import('../lab/progress.js'), import('../lab/manifest.js')]);
      const env = await findEnv(name);
      if (!env) throw new LabError('env.notFound', { env: name });
      const grade = await gradeEnv(name, undefined, { record: false });
      const progress = await readProgress(env, grade.lab).catch(() => undefined);
      if (progress?.lastActivity) lastActivity.set(name, progress.lastActivity);
      const cells: BoardRow['cells'] = {};
      for (const s of grade.steps) cells[s.step] = { status: s.passed ? 'pass' : s.points > 0 ? 'partial' : 'none', points: s.points, maxPoints: s.maxPoints };
      const stopped = env.servers.filter((s) => s.state !== 'running').map((s) => s.role);
      const error = stopped.length ? t('web.boardStopped', { roles: stopped.join(', '), env: name }) : grade.error;
      const steps = grade.steps.length ? grade.steps.map((s) => s.step) : readManifest(grade.lab).steps.map((s) => s.id);
      // The roster's name, kept on the env by `lab class up --roster` (labels pglab.student*), when the class has one.
      const student = env.student?.name ?? env.student?.legajo;
      return [{ env: name, student, cells, score: grade.score, maxScore: grade.maxScore, lastActivity: lastActivity.get(name), error }, steps];
    } catch (err) {
      const detail = err instanceof LabError ? t(err.key, err.params) : String((err as Error)?.message ?? err);
      return [{ env: name, cells: {}, score: 0, maxScore: 0, lastActivity: lastActivity.get(name), error: detail.slice(0, 200) }, []];
    }
  };

  const boardFragments = (): PageParts => ({
    status: escapeHtml(t('web.updated', { time: localTime(new Date(board?.at ?? Date.now()).toISOString()) })),
    // How long the last refresh of every env took (no element shows it; benchmarks read it).
    cyclems: String(board?.ms ?? ''),
    board: board && board.rows.length ? boardTable(board.steps, board.rows, token) : `<p>${escapeHtml(t('web.noClass', { class: opts.className ?? '' }))}</p>`,
  });

  const boardLoop = () => {
    boardTimer = setTimeout(async () => {
      await boardCycle().catch(() => {});
      if (boardStreams.size) boardLoop();
      else boardTimer = undefined;
    }, boardDelayMs(board?.ms ?? 0));
  };

  const nonce = () => randomBytes(16).toString('base64');
  /** `n`: the page's nonce for its script and style; `styles`: hashes of a report's own <style> blocks (it has no nonce). */
  const send = (res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', n?: string, extra: { styles?: string[]; headers?: Record<string, string> } = {}) => {
    const styleSrc = n ? `style-src 'nonce-${n}'; ` : extra.styles?.length ? `style-src ${extra.styles.map((h) => `'${h}'`).join(' ')}; ` : '';
    res.writeHead(status, {
      'Content-Type': type,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Content-Security-Policy': `default-src 'none'; ${n ? `script-src 'nonce-${n}'; ` : ''}${styleSrc}connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      ...extra.headers,
    });
    res.end(body);
  };

  // The reports grade the whole class: one grading at a time, and a click while one runs waits for it.
  const classReport = (): Promise<import('../lab/grade.js').GradeReport> => (grading ??= (async () => {
    const round = boardRunning; // …and a board round that runs finishes first
    try {
      await round?.catch(() => {});
      const { gradeEnvs } = await import('../lab/grade.js');
      const { listEnvNames } = await import('../env/env.js');
      return await gradeEnvs(await listEnvNames(opts.className), { parallel: BOARD_PARALLEL, record: false });
    } finally {
      grading = undefined;
    }
  })());

  const envPage = async (res: http.ServerResponse, feed: Feed, events: string, back?: string) => {
    const snap = await feed.fresh();
    const n = nonce();
    const parts = {
      ...(await envFragments(feed.session)(snap)),
      topologyTitle: escapeHtml(t('web.topology')), checklistTitle: escapeHtml(t('web.checklist')),
      chartTitle: escapeHtml(t('web.chart', { minutes: HISTORY_MIN })), exerciseTitle: escapeHtml(t('web.exercise')),
    };
    const heading = `${back ? `<a href="${escapeHtml(back)}">${escapeHtml(t('web.boardBack'))}</a><br>` : ''}${escapeHtml(t('web.title', { env: snap.env.name }))} <small>PostgreSQL ${escapeHtml(snap.env.pg)} · ${escapeHtml(localized(snap.lab.title))}</small>`;
    send(res, 200, page({ title: t('web.title', { env: snap.env.name }), nonce: n, events, heading, parts, layout: ENV_LAYOUT }), 'text/html; charset=utf-8', n);
  };

  const openStream = (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    if (streams >= MAX_STREAMS) {
      send(res, 503, 'too many streams');
      return false;
    }
    streams++;
    req.socket.setTimeout(0);
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', Connection: 'keep-alive' });
    res.write(`retry: 3000\n\n`);
    res.on('close', () => streams--);
    return true;
  };

  const server = http.createServer(async (req, res) => {
    try {
      const port = (server.address() as AddressInfo).port;
      if (!hostAllowed(req.headers.host, port, !!opts.expose)) return send(res, 403, t(opts.expose ? 'web.badHostExposed' : 'web.badHost'));
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET, HEAD', undefined, undefined, { headers: { Allow: 'GET, HEAD' } });
      const url = new URL(req.url ?? '/', `http://${LOCALHOST}`);
      const given = url.searchParams.get('token');
      if (!given) return send(res, 401, t('web.noToken'));
      if (!sameToken(given, token)) return send(res, 403, t('web.badToken'));
      const path = url.pathname;
      const q = `?token=${encodeURIComponent(token)}`;
      // The page's script asks this when its stream closes: a 401/403 here means `lab web` restarted with another token.
      if (path === '/alive') return send(res, 204, '');

      if (opts.env) {
        if (path === '/') return await envPage(res, await envFeed(opts.env), '/events');
        if (path === '/events') {
          const feed = await envFeed(opts.env);
          if (openStream(req, res)) feed.add(res);
          return;
        }
        return send(res, 404, t('web.notFound'));
      }

      // The class board.
      if (path === '/') {
        // No open board keeps it current (a reload with JavaScript off, say): an old one is graded again first.
        if (!board || (!boardStreams.size && Date.now() - board.at > BOARD_CYCLE_S * 1000)) await boardCycle();
        const n = nonce();
        const parts = { ...boardFragments(), reports: `${escapeHtml(t('web.boardReports'))} <a href="/report.csv${q}">CSV</a> · <a href="/report.html${q}">HTML</a>` };
        const layout = '<p class="small" id="status">{{status}}</p><div id="board">{{board}}</div><p class="small">{{reports}}</p>';
        return send(res, 200, page({ title: t('web.boardTitle', { class: opts.className ?? '' }), nonce: n, events: '/events', heading: escapeHtml(t('web.boardTitle', { class: opts.className ?? '' })), parts, layout }), 'text/html; charset=utf-8', n);
      }
      if (path === '/events') {
        if (!openStream(req, res)) return;
        boardStreams.add(res);
        res.on('close', () => boardStreams.delete(res));
        if (board) res.write(`data: ${JSON.stringify(boardFragments())}\n\n`);
        if (!boardTimer) boardLoop();
        return;
      }
      if (path === '/report.csv' || path === '/report.html') {
        const { renderReport } = await import('../report/formats.js');
        const report = await classReport();
        const csv = path.endsWith('.csv');
        const body = renderReport(report, csv ? 'csv' : 'html');
        const stamp = report.gradedAt.slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
        const file = `pglab-${(opts.className ?? 'clase').replace(/[^\w-]/g, '_')}-${stamp}.${csv ? 'csv' : 'html'}`;
        return send(res, 200, body, csv ? 'text/csv; charset=utf-8' : 'text/html; charset=utf-8', undefined, {
          styles: csv ? undefined : styleHashes(body),
          headers: { 'Content-Disposition': `${csv ? 'attachment' : 'inline'}; filename="${file}"` },
        });
      }
      const m = /^\/env\/([a-z0-9][a-z0-9_-]{0,30})(\/events)?$/.exec(path);
      if (m && classNames.includes(m[1])) {
        const feed = await envFeed(m[1]);
        if (m[2]) {
          if (openStream(req, res)) feed.add(res);
          return;
        }
        return await envPage(res, feed, `/env/${m[1]}/events`, `/${q}`);
      }
      return send(res, 404, t('web.notFound'));
    } catch (err) {
      if (!res.headersSent) send(res, 500, err instanceof LabError ? t(err.key, err.params) : String((err as Error)?.message ?? err).slice(0, 300));
      else res.end();
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 120_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(
      err.code === 'EADDRINUSE' ? new LabError('web.portInUse', { port: opts.port ?? 0 }, 2)
        // Ports below 1024 need root (or CAP_NET_BIND_SERVICE): say so, not "listen EACCES".
        : err.code === 'EACCES' ? new LabError('web.portDenied', { port: opts.port ?? 0 }, 2)
          : err));
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${LOCALHOST}:${port}/?token=${token}`,
    token,
    host,
    port,
    close: async () => {
      for (const f of feeds.values()) {
        f.stop();
        for (const s of f.streams) s.end();
      }
      clearTimeout(boardTimer);
      for (const s of boardStreams) s.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
    },
  };
}

/** Constant-time comparison (a wrong token's length or prefix tells nothing). */
export function sameToken(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The CSP source of each inline <style> block of a page (a report carries its own, with no nonce). */
export function styleHashes(html: string): string[] {
  return [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => `sha256-${createHash('sha256').update(m[1], 'utf8').digest('base64')}`);
}

/**
 * The Host header a request may carry (a DNS-rebinding page sends its own name): on 127.0.0.1,
 * 127.0.0.1 or localhost; with --expose also any IP literal (a rebinding needs a name) and this
 * machine's own name. Always with the port listened on.
 */
export function hostAllowed(header: string | undefined, port: number, exposed: boolean): boolean {
  const h = (header ?? '').toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+):(\d+)$/.exec(h);
  if (!m || Number(m[2]) !== port) return false;
  const name = m[1];
  if (name === '127.0.0.1' || name === 'localhost') return true;
  if (!exposed) return false;
  const bare = name.startsWith('[') ? name.slice(1, -1) : name;
  if (isIP(bare)) return true;
  const self = os.hostname().toLowerCase();
  return name === self || name === `${self}.local`;
}
