/**
 * `lab class serve`: the class in the browser. One HTTP(S) server; each student's personal link opens
 * only that student's env (exercise, a terminal per server, "Verificar", topology, progress); the
 * instructor's link opens the class.
 *
 * Isolation: the env comes from the secret alone (links.ts) and is looked up among the class's envs
 * through the same discovery as the CLI; no path, query, header or WebSocket message names another
 * env or anything on the host. A terminal is a `docker exec` of `bash -l` into one of that env's
 * containers as root or postgres (fixed argv). Host is checked on every request, Origin on every
 * WebSocket and POST; limits per secret on requests and terminals; an audit log of what was opened.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { LabError } from '../errors.js';
import { lang, localized, t } from '../i18n/index.js';
import { findEnv, listEnvNames, type LabEnv } from '../env/env.js';
import { envFacts } from '../lab/facts.js';
import { findStep, loadLab, type Lab, type StepSpec } from '../lab/manifest.js';
import { readProgress } from '../lab/progress.js';
import { runStep } from '../lab/runner.js';
import { topology } from '../lab/topology.js';
import { EnvProbes } from '../pg/probes.js';
import { PROJECT_ROOT } from '../paths.js';
import { exerciseHtml } from '../render/exercise-html.js';
import { checklistHtml, topologyNotes, topologySvg } from '../render/live-html.js';
import { escapeHtml } from '../render/escape.js';
import { AuditLog } from './audit.js';
import { allowedHosts, hostAllowed, originAllowed, RateLimiter } from './guard.js';
import { ClassLinks, SECRET_PATTERN } from './links.js';
import { instructorPage, progressHtml, studentPage, type StepMark } from './page.js';
import { Terminals, type CloseReason, type Terminal, type TerminalClient } from './terminals.js';

export const LOOPBACK = '127.0.0.1';
export const DEFAULT_IDLE_MINUTES = 30;
/** A page that lost its connection gets this long to come back to the same shell. */
const GRACE_MS = 120_000;
const TERMINALS_PER_ENV = 6;
/** Requests per second per secret, and the burst a page load needs (page + assets + state). */
const RATE = 5;
const BURST = 40;
/** Topology and progress are read at most this often per env, whatever the number of open tabs. */
const STATE_TTL_MS = 4000;
const ENV_LIST_TTL_MS = 5000;
const MAX_INPUT_CHARS = 64 * 1024;

export interface Person { name?: string; email?: string }

export interface PortalOptions {
  className: string;
  port?: number;
  listen?: string;
  tls?: { cert: string; key: string };
  /** Plain HTTP on a non-loopback address: refused unless asked for explicitly. */
  insecureHttp?: boolean;
  /** Names (host or host:port) the browser may use to reach this server, e.g. behind a reverse proxy. */
  publicHosts?: string[];
  idleMinutes?: number;
  people?: Map<string, Person>;
  links?: ClassLinks;
  audit?: AuditLog;
}

export interface Portal {
  /** scheme://host:port as students and the instructor reach it. */
  origin: string;
  instructorUrl: string;
  studentUrl(env: string): string;
  close(): Promise<void>;
}

const ASSETS: Record<string, { file: string; type: string }> = {
  'xterm.js': { file: 'node_modules/@xterm/xterm/lib/xterm.js', type: 'text/javascript; charset=utf-8' },
  'xterm.css': { file: 'node_modules/@xterm/xterm/css/xterm.css', type: 'text/css; charset=utf-8' },
  'addon-fit.js': { file: 'node_modules/@xterm/addon-fit/lib/addon-fit.js', type: 'text/javascript; charset=utf-8' },
  'portal.js': { file: 'src/portal/client/portal.js', type: 'text/javascript; charset=utf-8' },
  'portal.css': { file: 'src/portal/client/portal.css', type: 'text/css; charset=utf-8' },
};

/** Where the portal is reachable, for messages and tests; `listen` 0.0.0.0 is shown as the first public host. */
export function portalOrigin(o: Pick<PortalOptions, 'listen' | 'tls' | 'publicHosts'>, port: number): string {
  const scheme = o.tls ? 'https' : 'http';
  const listen = o.listen ?? LOOPBACK;
  const shown = o.publicHosts?.[0] ?? (listen === '0.0.0.0' || listen === '::' ? LOOPBACK : listen.includes(':') ? `[${listen}]` : listen);
  return `${scheme}://${shown.includes(':') && !shown.startsWith('[') ? shown : `${shown}:${port}`}`;
}

export async function startPortal(opts: PortalOptions): Promise<Portal> {
  const listen = opts.listen ?? LOOPBACK;
  const loopback = listen === LOOPBACK || listen === 'localhost';
  if (!loopback && !opts.tls && !opts.insecureHttp) throw new LabError('portal.needsTls', { listen }, 2);
  const scheme = opts.tls ? 'https' : 'http';
  const links = opts.links ?? new ClassLinks(opts.className);
  const audit = opts.audit ?? new AuditLog(opts.className);
  const idleMs = (opts.idleMinutes ?? DEFAULT_IDLE_MINUTES) * 60_000;
  const limiter = new RateLimiter(RATE, BURST);
  const assets = new Map<string, Buffer>();
  const labs = new Map<string, Lab>();
  const exercises = new Map<string, string>();
  const states = new Map<string, { at: number; body: Promise<string> }>();
  const checking = new Map<string, Promise<unknown>>();
  let grading: Promise<string> | undefined;
  let envList: { at: number; names: Promise<string[]> } | undefined;
  /** Set once listening (the port is known then); no request is served before. */
  let hosts = new Set<string>();

  const terminals = new Terminals({ idleMs, graceMs: GRACE_MS, perEnv: TERMINALS_PER_ENV }, (reason: CloseReason) => t(`portal.term.closed.${reason}`, { minutes: opts.idleMinutes ?? DEFAULT_IDLE_MINUTES }), (term, reason) => audit.write({ event: 'terminal-close', env: term.env, server: term.role, user: term.user, detail: reason }));

  const classEnvs = (): Promise<string[]> => {
    if (!envList || Date.now() - envList.at > ENV_LIST_TTL_MS) envList = { at: Date.now(), names: listEnvNames(opts.className) };
    return envList.names;
  };
  /** The roster's name and e-mail: given to the portal, else the env's own labels (set by `class up --roster`). */
  const personOf = (env: LabEnv): Person => opts.people?.get(env.name) ?? { name: env.student?.name, email: env.student?.email };
  const labOf = async (id: string): Promise<Lab> => {
    let lab = labs.get(id);
    if (!lab) labs.set(id, (lab = await loadLab(id)));
    return lab;
  };

  const headers = (type: string, extra: Record<string, string> = {}) => ({
    'Content-Type': type,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
    // Scripts only from this server (no inline script); xterm.js writes its own <style> elements, hence
    // 'unsafe-inline' for styles alone (every string from an env is escaped anyway).
    'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ...(opts.tls ? { 'Strict-Transport-Security': 'max-age=31536000' } : {}),
    ...extra,
  });
  const send = (res: http.ServerResponse, status: number, body: string | Buffer, type = 'text/plain; charset=utf-8', extra: Record<string, string> = {}) => {
    res.writeHead(status, headers(type, extra));
    res.end(body);
  };
  const json = (res: http.ServerResponse, status: number, value: unknown) => send(res, status, JSON.stringify(value), 'application/json; charset=utf-8');

  const stepOf = (lab: Lab, raw: string | null, marks: StepMark[]): StepSpec => {
    if (raw && lab.steps.some((s) => s.id === raw)) return findStep(lab, raw);
    const next = marks.find((m) => m.status !== 'pass');
    return findStep(lab, next?.id ?? lab.steps[lab.steps.length - 1].id);
  };
  const marksOf = async (env: LabEnv, lab: Lab): Promise<StepMark[]> => {
    const progress = await readProgress(env, lab.id).catch(() => ({ steps: {} as Record<string, { lastStatus: string }> }));
    return lab.steps.map((s) => ({ id: s.id, title: localized(s.title), status: progress.steps[s.id]?.lastStatus }));
  };

  const renderStudent = async (env: LabEnv, base: string, stepParam: string | null, readOnly: boolean): Promise<string> => {
    const lab = await labOf(env.lab);
    const marks = await marksOf(env, lab);
    const step = stepOf(lab, stepParam, marks);
    const key = `${env.name}/${lab.id}/${step.id}/${lang()}`;
    let exercise = exercises.get(key);
    if (!exercise) exercises.set(key, (exercise = await exerciseHtml(lab.id, lang(), step.exercise, env.pg, envFacts(env))));
    const person = personOf(env);
    return studentPage({
      base, env: env.name, who: readOnly ? [person?.name, person?.email].filter(Boolean).join(' · ') : person?.name, pg: env.pg,
      labTitle: localized(lab.title), ips: env.servers.map((s) => ({ role: s.role, ip: s.ip })), step, steps: marks, exercise,
      terminals: readOnly ? [] : env.servers.map((s) => ({ server: s.role, users: ['root', 'postgres'] })), readOnly,
    });
  };

  /** Topology and progress of one env, shared by every tab that asks within STATE_TTL_MS. */
  const stateOf = (env: LabEnv, base: string, stepParam: string | null): Promise<string> => {
    const key = `${env.name}\u0000${base}\u0000${stepParam ?? ''}`;
    const cached = states.get(key);
    if (cached && Date.now() - cached.at < STATE_TTL_MS) return cached.body;
    const body = (async () => {
      const lab = await labOf(env.lab);
      const marks = await marksOf(env, lab);
      const step = stepOf(lab, stepParam, marks);
      let topo = '';
      try {
        const probes = new EnvProbes(env);
        const tp = await topology({ probes, profile: probes.profile });
        topo = topologyNotes(tp) + topologySvg(tp);
      } catch (err) {
        topo = `<p class="bad">${escapeHtml(errorText(err))}</p>`;
      }
      return JSON.stringify({ topology: topo, progress: progressHtml(marks, step.id, base) });
    })();
    body.catch(() => states.delete(key));
    states.set(key, { at: Date.now(), body });
    return body;
  };

  /** "Verificar": the runner `lab check` uses, one at a time per env. */
  const check = async (env: LabEnv, stepParam: string | null): Promise<{ html: string; passed: boolean }> => {
    while (checking.has(env.name)) await checking.get(env.name)!.catch(() => {});
    const run = (async () => {
      const lab = await labOf(env.lab);
      const step = stepOf(lab, stepParam, await marksOf(env, lab));
      const result = await runStep(env, lab, step);
      return { html: checklistHtml(result), passed: result.passed };
    })();
    checking.set(env.name, run);
    try {
      return await run;
    } finally {
      checking.delete(env.name);
      for (const k of states.keys()) if (k.startsWith(`${env.name}\u0000`)) states.delete(k);
    }
  };

  const report = async (format: 'csv' | 'json' | 'html'): Promise<string> => {
    grading ??= (async () => {
      const [{ gradeEnvs }, { renderReport }] = await Promise.all([import('../lab/grade.js'), import('../report/formats.js')]);
      const graded = await gradeEnvs(await listEnvNames(opts.className), { parallel: 2 });
      return JSON.stringify({ json: renderReport(graded, 'json'), csv: renderReport(graded, 'csv'), html: renderReport(graded, 'html') });
    })().finally(() => setTimeout(() => (grading = undefined), 0));
    return (JSON.parse(await grading) as Record<string, string>)[format];
  };

  const serveAsset = (res: http.ServerResponse, name: string) => {
    const asset = ASSETS[name];
    if (!asset) return send(res, 404, t('portal.notFound'));
    let body = assets.get(name);
    if (!body) assets.set(name, (body = readFileSync(path.join(PROJECT_ROOT, asset.file))));
    res.writeHead(200, { ...headers(asset.type), 'Cache-Control': 'public, max-age=3600' });
    res.end(body);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const from = req.socket.remoteAddress;
    if (!hostAllowed(req.headers.host, hosts)) return send(res, 421, t('portal.badHost'));
    const url = new URL(req.url ?? '/', 'http://portal.invalid');
    const parts = url.pathname.split('/').filter(Boolean);
    const method = req.method ?? 'GET';
    const only = (...methods: string[]) => {
      if (methods.includes(method)) return true;
      send(res, 405, t('portal.badMethod'), 'text/plain; charset=utf-8', { Allow: methods.join(', ') });
      return false;
    };
    if (parts[0] === 'assets' && parts.length === 2) return only('GET', 'HEAD') && serveAsset(res, parts[1]);
    if ((parts[0] !== 's' && parts[0] !== 'i') || !parts[1] || !SECRET_PATTERN.test(parts[1])) return send(res, 404, t('portal.notFound'));
    const secret = parts[1];
    if (!limiter.take(secret)) return send(res, 429, t('portal.tooMany'), 'text/plain; charset=utf-8', { 'Retry-After': '2' });
    const postAllowed = () => {
      if (originAllowed(req.headers.origin, scheme, hosts)) return true;
      audit.write({ event: 'refused', from, detail: `origin ${String(req.headers.origin ?? '-').slice(0, 100)}` });
      send(res, 403, t('portal.badOrigin'));
      return false;
    };

    if (parts[0] === 's') {
      const name = links.envFor(secret, await classEnvs());
      if (!name) return send(res, 404, t('portal.badLink'));
      const env = await findEnv(name);
      if (!env) return send(res, 503, t('portal.envGone', { env: name }));
      const base = `/s/${secret}`;
      const rest = parts.slice(2).join('/');
      if (rest === '') {
        if (!only('GET', 'HEAD')) return;
        audit.write({ event: 'page', env: name, from });
        return send(res, 200, await renderStudent(env, base, url.searchParams.get('step'), false), 'text/html; charset=utf-8');
      }
      if (rest === 'state') return only('GET') && send(res, 200, await stateOf(env, base, url.searchParams.get('step')), 'application/json; charset=utf-8');
      if (rest === 'check') {
        if (!only('POST') || !postAllowed()) return;
        audit.write({ event: 'check', env: name, from, detail: url.searchParams.get('step') ?? '' });
        return json(res, 200, await check(env, url.searchParams.get('step')));
      }
      return send(res, 404, t('portal.notFound'));
    }

    // The instructor.
    if (!links.isInstructor(secret)) return send(res, 404, t('portal.badLink'));
    const base = `/i/${secret}`;
    const rest = parts.slice(2);
    if (rest.length === 0) {
      if (!only('GET', 'HEAD')) return;
      const names = await classEnvs();
      const envs = await Promise.all(names.map((n) => findEnv(n)));
      const rows = names.map((n, i) => ({
        env: n, ...(envs[i] ? personOf(envs[i]!) : opts.people?.get(n)), link: `${base}/env/${n}/`,
        state: envs[i] ? (envs[i]!.servers.every((s) => s.state === 'running') ? t('portal.state.running') : t('portal.state.stopped')) : t('portal.state.missing'),
      }));
      const first = envs.find(Boolean);
      const steps = first ? (await labOf(first.lab)).steps.map((st) => ({ id: st.id, title: localized(st.title) })) : [];
      return send(res, 200, instructorPage({ className: opts.className, base, rows, steps }), 'text/html; charset=utf-8');
    }
    if (rest[0] === 'env' && rest[1] && (await classEnvs()).includes(rest[1])) {
      const env = await findEnv(rest[1]);
      if (!env) return send(res, 503, t('portal.envGone', { env: rest[1] }));
      const envBase = `${base}/env/${env.name}`;
      const sub = rest.slice(2).join('/');
      if (sub === '') return only('GET', 'HEAD') && send(res, 200, await renderStudent(env, envBase, url.searchParams.get('step'), true), 'text/html; charset=utf-8');
      if (sub === 'state') return only('GET') && send(res, 200, await stateOf(env, envBase, url.searchParams.get('step')), 'application/json; charset=utf-8');
      if (sub === 'check') return only('POST') && postAllowed() && json(res, 200, await check(env, url.searchParams.get('step')));
      return send(res, 404, t('portal.notFound'));
    }
    if (rest.length === 1 && rest[0] === 'grade') {
      if (!only('POST') || !postAllowed()) return;
      audit.write({ event: 'grade', from });
      return send(res, 200, await report('json'), 'application/json; charset=utf-8');
    }
    const m = rest.length === 1 ? /^report\.(csv|json|html)$/.exec(rest[0]) : null;
    if (m) {
      if (!only('GET')) return;
      const format = m[1] as 'csv' | 'json' | 'html';
      const type = { csv: 'text/csv; charset=utf-8', json: 'application/json; charset=utf-8', html: 'text/html; charset=utf-8' }[format];
      const disposition: Record<string, string> = format === 'html' ? {} : { 'Content-Disposition': `attachment; filename="notas-${opts.className}.${format}"` };
      return send(res, 200, await report(format), type, disposition);
    }
    return send(res, 404, t('portal.notFound'));
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) send(res, 500, errorText(err));
      else res.end();
    });
  };
  const server = opts.tls
    ? https.createServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, onRequest)
    : http.createServer(onRequest);
  server.headersTimeout = 10_000;
  server.requestTimeout = 300_000;

  // Terminals: WebSocket upgrades on /s/<secret>/term only.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_INPUT_CHARS * 4, perMessageDeflate: false });
  const refuse = (socket: Socket, status: number, text: string) => {
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${text}`);
  };
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    (async () => {
      const from = req.socket.remoteAddress;
      if (!hostAllowed(req.headers.host, hosts)) return refuse(socket, 421, t('portal.badHost'));
      if (!originAllowed(req.headers.origin, scheme, hosts)) {
        audit.write({ event: 'refused', from, detail: `ws origin ${String(req.headers.origin ?? '-').slice(0, 100)}` });
        return refuse(socket, 403, t('portal.badOrigin'));
      }
      const url = new URL(req.url ?? '/', 'http://portal.invalid');
      const parts = url.pathname.split('/').filter(Boolean);
      if (parts.length !== 3 || parts[0] !== 's' || parts[2] !== 'term' || !SECRET_PATTERN.test(parts[1])) return refuse(socket, 404, t('portal.notFound'));
      if (!limiter.take(parts[1])) return refuse(socket, 429, t('portal.tooMany'));
      const name = links.envFor(parts[1], await classEnvs());
      if (!name) return refuse(socket, 404, t('portal.badLink'));
      const env = await findEnv(name);
      const server = env?.servers.find((s) => s.role === url.searchParams.get('server'));
      const user = url.searchParams.get('user');
      if (!env || !server || (user !== 'root' && user !== 'postgres')) return refuse(socket, 400, t('portal.badTerminal'));
      const size = { cols: clamp(url.searchParams.get('cols'), 20, 400, 100), rows: clamp(url.searchParams.get('rows'), 5, 200, 30) };
      wss.handleUpgrade(req, socket, head, (ws) => attachTerminal(ws, env, server.role, server.container, user, url.searchParams.get('session'), size, from));
    })().catch(() => refuse(socket, 500, t('portal.error')));
  });

  const attachTerminal = async (ws: WebSocket, env: LabEnv, role: string, container: string, user: 'root' | 'postgres', session: string | null, size: { cols: number; rows: number }, from?: string) => {
    const client: TerminalClient = { send: (d) => ws.send(d), close: (c, r) => ws.close(c, r) };
    let term: Terminal | undefined;
    if (session) {
      term = terminals.find(env.name, session);
      // The same env, server and user only: an id is not a key to another terminal of the env either.
      if (!term || term.role !== role || term.user !== user) {
        ws.send(JSON.stringify({ type: 'closed', reason: 'gone', message: t('portal.term.closed.gone') }));
        ws.close(4000, 'gone');
        return;
      }
      audit.write({ event: 'terminal-reattach', env: env.name, server: role, user, from });
    } else {
      const opened = await terminals.open(env.name, role, user, container, size).catch((err: unknown) => err as Error);
      if (opened === 'limit' || opened instanceof Error) {
        ws.send(JSON.stringify({ type: 'error', message: opened === 'limit' ? t('portal.term.limit', { max: TERMINALS_PER_ENV }) : t('portal.term.failed', { detail: errorText(opened) }) }));
        ws.close(4002, 'refused');
        return;
      }
      term = opened;
      audit.write({ event: 'terminal-open', env: env.name, server: role, user, from });
    }
    const t0 = term;
    // Listen before anything is awaited: a page types as soon as it sees 'ready'.
    ws.on('message', (raw, isBinary) => {
      if (isBinary) return ws.close(1003, 'text only');
      let msg: { type?: unknown; data?: unknown; cols?: unknown; rows?: unknown };
      try {
        msg = JSON.parse(String(raw));
      } catch {
        return ws.close(1003, 'bad message');
      }
      if (msg.type === 'input' && typeof msg.data === 'string' && msg.data.length <= MAX_INPUT_CHARS) t0.input(msg.data);
      else if (msg.type === 'resize') void t0.resize(clamp(String(msg.cols), 20, 400, 100), clamp(String(msg.rows), 5, 200, 30));
      // Nothing else is understood: no message can name an env, a container or a command.
    });
    ws.on('close', () => t0.detach(client));
    ws.on('error', () => t0.detach(client));
    t0.attach(client);
    await t0.resize(size.cols, size.rows);
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new LabError('web.portInUse', { port: opts.port ?? 0 }, 2));
      else if (err.code === 'EACCES') reject(new LabError('portal.portDenied', { port: opts.port ?? 0 }, 2));
      else if (err.code === 'EADDRNOTAVAIL') reject(new LabError('portal.badListen', { listen }, 2));
      else reject(err);
    });
    server.listen(opts.port ?? 0, listen, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(listen, port, opts.publicHosts ?? []);
  const origin = portalOrigin({ ...opts, listen }, port);
  links.setOrigin(origin);
  audit.write({ event: 'serve', detail: `${origin} ${listen}` });
  return {
    origin,
    instructorUrl: `${origin}/i/${links.instructorSecret()}/`,
    studentUrl: (env) => `${origin}/s/${links.studentSecret(env)}/`,
    close: async () => {
      terminals.closeAll();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
    },
  };
}

function clamp(raw: string | null, min: number, max: number, fallback: number): number {
  const n = Number(raw);
  return Number.isInteger(n) ? Math.min(max, Math.max(min, n)) : fallback;
}

function errorText(err: unknown): string {
  return err instanceof LabError ? t(err.key, err.params) : String((err as Error)?.message ?? err).slice(0, 300);
}
