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
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LabError } from '../errors.js';
import { lang, localized, t } from '../i18n/index.js';
import { localTime } from '../i18n/time.js';
import { renderExerciseSource } from '../lab/exercise.js';
import { envFacts } from '../lab/facts.js';
import { checksFor } from '../lab/manifest.js';
import { escapeHtml } from '../render/escape.js';
import { boardTable, ENV_LAYOUT, envParts, page, type BoardRow, type PageParts } from '../render/live-html.js';
import { HISTORY_MIN, LiveSession, type Snapshot } from './session.js';

export const LOCALHOST = '127.0.0.1';
/** Server-sent event streams open at once (a class's instructor and a few tabs). */
const MAX_STREAMS = 32;
/** The board refreshes every env this often (a cycle of 20 envs must fit in it). */
export const BOARD_CYCLE_S = 10;
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
class Feed {
  streams = new Set<Stream>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  last?: Snapshot;

  constructor(readonly session: LiveSession, private render: (snap: Snapshot) => Promise<PageParts>, private onCycle?: () => void) {}

  async fresh(): Promise<Snapshot> {
    if (!this.last) await this.tick();
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

  const exerciseHtml = async (snap: Snapshot): Promise<string> => {
    const key = `${snap.lab.id}/${snap.step.id}/${snap.env.pg}/${lang()}`;
    let html = exercises.get(key);
    if (!html) {
      const { Marked } = await import('marked');
      const md = renderExerciseSource(snap.lab.id, lang(), snap.step.exercise, snap.env.pg, envFacts(snap.env));
      // Raw HTML in the markdown is shown as text; links only to http(s) or within the page.
      const marked = new Marked({
        renderer: {
          html: (tok) => escapeHtml(tok.text),
          link(tok) {
            const ok = /^(https?:|#)/i.test(tok.href);
            return ok ? `<a href="${escapeHtml(tok.href)}" rel="noreferrer">${this.parser.parseInline(tok.tokens)}</a>` : this.parser.parseInline(tok.tokens);
          },
          image: (tok) => escapeHtml(tok.text),
        },
      });
      html = marked.parse(md, { async: false }) as string;
      exercises.set(key, html);
    }
    return html;
  };

  const envFragments = (session: LiveSession) => async (snap: Snapshot): Promise<PageParts> => ({
    ...envParts({ ...snap, stepTitle: localized(snap.step.title), done: session.doneText(snap.step) }, HISTORY_MIN),
    exercise: await exerciseHtml(snap),
  });

  // The env pages: one feed per env, made when first asked for.
  const feeds = new Map<string, Feed>();
  const envFeed = async (name: string): Promise<Feed> => {
    let feed = feeds.get(name);
    if (!feed) {
      const session = await LiveSession.open(name, { step: opts.env ? opts.step : undefined });
      feed = new Feed(session, envFragments(session));
      feeds.set(name, feed);
    }
    return feed;
  };

  // The board: every env of the class, the current step of each checked, a few at a time.
  let classNames: string[] = [];
  let board: { rows: BoardRow[]; steps: string[]; at: number; ms: number } | undefined;
  const boardSessions = new Map<string, LiveSession>();
  const boardStreams = new Set<Stream>();
  let boardTimer: NodeJS.Timeout | undefined;
  let boardRunning: Promise<void> | undefined;

  const boardCycle = (): Promise<void> => (boardRunning ??= (async () => {
    const t0 = Date.now();
    try {
      const { listEnvNames } = await import('../env/env.js');
      classNames = await listEnvNames(opts.className);
      const queue = [...classNames];
      const rows = new Map<string, BoardRow>();
      let steps: string[] = board?.steps ?? [];
      await Promise.all(Array.from({ length: Math.min(BOARD_PARALLEL, queue.length) }, async () => {
        for (let name = queue.shift(); name; name = queue.shift()) {
          rows.set(name, await boardRow(name).then(([row, s]) => { if (s.length) steps = s; return row; }));
        }
      }));
      board = { rows: classNames.map((n) => rows.get(n)!), steps, at: Date.now(), ms: Date.now() - t0 };
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
      let session = boardSessions.get(name);
      if (!session) {
        session = await LiveSession.open(name, { topology: false });
        boardSessions.set(name, session);
      }
      const snap = await session.cycle();
      const progress = await session.progressNow();
      const cells: BoardRow['cells'] = {};
      let score = 0;
      let maxScore = 0;
      let last: string | undefined;
      for (const step of snap.lab.steps) {
        const st = snap.result && snap.result.step === step.id ? (snap.result.passed ? 'pass' : 'fail') : progress.steps[step.id]?.lastStatus;
        cells[step.id] = st === 'pass' ? 'pass' : st === 'fail' || st === 'warn' ? 'fail' : 'none';
        for (const c of checksFor(step, snap.env.pg)) {
          maxScore += c.points;
          if (progress.checks[`${step.id}/${c.id}`]?.lastStatus === 'pass') score += c.points;
        }
      }
      for (const entry of Object.values(progress.steps)) if (!last || entry.lastAt > last) last = entry.lastAt;
      return [{ env: name, cells, score, maxScore, lastActivity: last, error: snap.error }, snap.lab.steps.map((s) => s.id)];
    } catch (err) {
      return [{ env: name, cells: {}, score: 0, maxScore: 0, error: String((err as Error)?.message ?? err).slice(0, 200) }, []];
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
    }, BOARD_CYCLE_S * 1000);
  };

  const nonce = () => randomBytes(16).toString('base64');
  const send = (res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', n?: string) => {
    res.writeHead(status, {
      'Content-Type': type,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Content-Security-Policy': `default-src 'none'; ${n ? `script-src 'nonce-${n}'; style-src 'nonce-${n}'; ` : ''}connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    });
    res.end(body);
  };

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
      const hostHeader = (req.headers.host ?? '').toLowerCase();
      if (!opts.expose && ![`127.0.0.1:${port}`, `localhost:${port}`].includes(hostHeader)) return send(res, 403, t('web.badHost'));
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET');
      const url = new URL(req.url ?? '/', `http://${LOCALHOST}`);
      const given = url.searchParams.get('token');
      if (!given) return send(res, 401, t('web.noToken'));
      if (!sameToken(given, token)) return send(res, 403, t('web.badToken'));
      const path = url.pathname;
      const q = `?token=${encodeURIComponent(token)}`;

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
        if (!board) await boardCycle();
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
        const [{ gradeEnvs }, { renderReport }] = await Promise.all([import('../lab/grade.js'), import('../report/formats.js')]);
        const { listEnvNames } = await import('../env/env.js');
        const report = await gradeEnvs(await listEnvNames(opts.className), { parallel: BOARD_PARALLEL });
        const csv = path.endsWith('.csv');
        return send(res, 200, renderReport(report, csv ? 'csv' : 'html'), csv ? 'text/csv; charset=utf-8' : 'text/html; charset=utf-8');
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
