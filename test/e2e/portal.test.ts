/**
 * `lab class serve`: two students, each in their own env through their own link, in Chromium; what no
 * URL, header or WebSocket message can reach; the instructor's page; a dropped WebSocket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CHROMIUM, openPage, typeLine, until } from './browser.js';
import { lab, ROOT } from './helpers.js';

const PG = process.env.PGLAB_E2E_PORTAL_PG ?? '15';
const tag = process.pid.toString(36);
const klass = `pt-${tag}`;
const envs = [`pa-${tag}`, `pb-${tag}`];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pglab-portal-'));
/** The portal's key and audit log live here, never in the user's real state dir. */
const stateEnv = { PGLAB_STATE_DIR: path.join(tmp, 'state') };
const LAB = path.join(ROOT, 'bin', 'lab.js');

let serve: ChildProcess;
let origin = '';
let instructor = '';
const links = new Map<string, string>();
const ips = new Map<string, string>();
const secretOf = (env: string) => /\/s\/([\w-]+)\//.exec(links.get(env)!)![1];

/** A raw request, so paths and headers go out exactly as written (fetch would normalise them). */
function raw(pathname: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: pathname, method: opts.method ?? 'GET', headers: { Host: url.host, ...opts.headers } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Term { ws: WebSocket; id: string; out: () => string; closed: Promise<{ code: number }>; messages: { type: string; [k: string]: unknown }[] }

/** A terminal over the portal's WebSocket, as the page opens it. */
function terminal(secret: string, query: string, wsOrigin = origin): Promise<Term | { refused: number } | { closedWith: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${origin.replace(/^http/, 'ws')}/s/${secret}/term?${query}`, { origin: wsOrigin });
    let out = '';
    const messages: Term['messages'] = [];
    const closed = new Promise<{ code: number }>((r) => ws.on('close', (code) => r({ code })));
    ws.on('unexpected-response', (_req, res) => resolve({ refused: res.statusCode ?? 0 }));
    ws.on('message', (m) => {
      const msg = JSON.parse(String(m));
      messages.push(msg);
      if (msg.type === 'ready') {
        out += msg.replay;
        resolve({ ws, id: msg.id, out: () => out, closed, messages });
      } else if (msg.type === 'output') out += msg.data;
      else if (msg.type === 'closed' || msg.type === 'error') resolve({ closedWith: String(msg.message) });
    });
  });
}

function isTerm(t: unknown): t is Term {
  return !!t && typeof t === 'object' && 'ws' in t;
}

async function shellLine(term: Term, line: string, expectText: string | RegExp): Promise<string> {
  await until('a prompt', async () => /[#$] $/.test(term.out().replace(/\u001b\[[\d;?]*[a-zA-Z]/g, '').trimStart()) || /[#$] \S*$/.test(term.out()), 20_000).catch(() => undefined);
  term.ws.send(JSON.stringify({ type: 'input', data: `${line}\r` }));
  return until(`"${String(expectText)}" in the terminal`, async () => {
    const o = term.out();
    return (typeof expectText === 'string' ? o.includes(expectText) : expectText.test(o)) ? o : undefined;
  }, 30_000);
}

describe('class portal (PostgreSQL ' + PG + ')', () => {
  beforeAll(async () => {
    const roster = path.join(tmp, 'roster.csv');
    writeFileSync(roster, `entorno\n${envs.join('\n')}\n`);
    const up = await lab(['class', 'up', '--roster', roster, '--pg', PG, '--class', klass, '--parallel', '2']);
    expect(up.code, up.stderr + up.stdout).toBe(0);
    for (const env of envs) {
      const ip = await lab(['exec', 'maestro', '--env', env, '--', 'hostname', '-i']);
      ips.set(env, ip.stdout.trim());
      expect(ips.get(env)).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    }
    serve = spawn('node', [LAB, 'class', 'serve', '--class', klass, '--port', '0', '--idle-minutes', '5'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...stateEnv } });
    const printed = await new Promise<string>((resolve, reject) => {
      let out = '';
      serve.stdout!.on('data', (d) => { out += d; if (/Docente: \S+\n/.test(out)) resolve(out); });
      serve.on('exit', (code) => reject(new Error(`class serve exited ${code}: ${out}`)));
    });
    origin = /en (http:\/\/127\.0\.0\.1:\d+)/.exec(printed)![1];
    instructor = /Docente: (\S+)/.exec(printed)![1];
    const l = await lab(['class', 'links', '--class', klass, '--json'], stateEnv);
    expect(l.code, l.stderr).toBe(0);
    const rows = JSON.parse(l.stdout) as { env: string; url: string }[];
    expect(rows.map((r) => r.env).sort()).toEqual([...envs].sort());
    for (const r of rows) {
      expect(r.url.startsWith(`${origin}/s/`)).toBe(true);
      links.set(r.env, r.url);
    }
  });

  afterAll(async () => {
    serve?.kill('SIGTERM');
    await lab(['class', 'down', '--class', klass, '--purge', '--yes']);
    rmSync(tmp, { recursive: true, force: true });
  });

  it.skipIf(!CHROMIUM)('each student types psql in their own terminal in Chromium and sees the answer, on their own env', async () => {
    for (const env of envs) {
      const page = await openPage(links.get(env)!);
      try {
        await until('the terminal', () => page.evaluate(`!!document.querySelector('.term[data-state=ready]')`) as Promise<boolean>, 60_000);
        await until('the prompt', () => page.evaluate(`(document.querySelector('.xterm-rows')||{}).textContent?.includes('root@maestro')`) as Promise<boolean>);
        await page.evaluate(`document.querySelector('.xterm-helper-textarea').focus()`);
        await typeLine(page, `su postgres -c "psql -c 'select 40+2 as respuesta'"; hostname -i`);
        const screen = await until('the answer', async () => {
          const text = String(await page.evaluate(`document.querySelector('.xterm-rows').textContent`));
          return text.includes('(1 row)') && text.includes(ips.get(env)!) ? text : undefined;
        });
        expect(screen).toMatch(/respuesta.*42/s);
        // The other student's env is nowhere on this page.
        const other = envs.find((e) => e !== env)!;
        expect(String(await page.evaluate('document.body.innerText'))).not.toContain(other);
        expect(String(await page.evaluate('document.body.innerText'))).toContain(env);
      } finally {
        page.close();
      }
    }
  });

  it('no path, header, query or message reaches another env or the host', async () => {
    const [a, b] = envs;
    const A = secretOf(a);
    const B = secretOf(b);
    const instr = /\/i\/([\w-]+)\//.exec(instructor)![1];
    // Query parameters that name the other env or its container are not read.
    const t1 = await terminal(A, `server=maestro&user=root&env=${b}&container=pglab-${b}-maestro`);
    if (!isTerm(t1)) throw new Error(JSON.stringify(t1));
    expect(await shellLine(t1, 'hostname -i', ips.get(a)!)).not.toContain(ips.get(b)!);
    // Messages other than input/resize do nothing; input carries no env.
    t1.ws.send(JSON.stringify({ type: 'exec', env: b, argv: ['touch', '/tmp/pwned'] }));
    t1.ws.send(JSON.stringify({ type: 'input', env: b, server: 'esclavo', data: 'echo "mine:$(hostname -i)"\r' }));
    await until('the echo', async () => t1.out().includes(`mine:${ips.get(a)}`));
    // Another env's terminal id is no key, nor is a server/user that is not a server of this env.
    const tb = await terminal(B, 'server=maestro&user=root');
    if (!isTerm(tb)) throw new Error(JSON.stringify(tb));
    expect(await terminal(A, `server=maestro&user=root&session=${tb.id}`)).toMatchObject({ closedWith: expect.stringMatching(/No se pudo volver/) });
    for (const q of [`server=pglab-${b}-maestro&user=root`, 'server=maestro&user=admin', 'server=..%2F..&user=root', 'server=maestro']) {
      expect(await terminal(A, q), q).toEqual({ refused: 400 });
    }
    // Origin and Host.
    expect(await terminal(A, 'server=maestro&user=root', 'http://evil.example')).toEqual({ refused: 403 });
    expect((await raw(`/s/${A}/`, { headers: { Host: 'evil.example' } })).status).toBe(421);
    expect((await raw(`/s/${A}/check`, { method: 'POST' })).status).toBe(403);
    expect((await raw(`/s/${A}/check`, { method: 'POST', headers: { Origin: 'http://evil.example' } })).status).toBe(403);
    // Paths: traversal, the other kind of link, a tampered secret, methods.
    for (const p of [`/s/${A}/../../../etc/passwd`, '/assets/../package.json', '/assets/..%2F..%2Fpackage.json', `/assets/%2e%2e/labs`, `/s/${A}/..%2F..%2F${B}/`]) {
      expect((await raw(p)).status, p).toBe(404);
    }
    expect((await raw(`/i/${A}/`)).status).toBe(404);
    expect((await raw(`/s/${instr}/`)).status).toBe(404);
    expect((await raw(`/s/${A.slice(0, -1)}x/`)).status).toBe(404);
    const del = await raw(`/s/${A}/`, { method: 'DELETE' });
    expect(del.status).toBe(405);
    const page = await raw(`/s/${A}/?step=../../etc/passwd&env=${b}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(a);
    expect(page.body).not.toContain(b);
    // Rotating a link revokes it at once.
    const rot = await lab(['class', 'links', '--class', klass, '--rotate', a], stateEnv);
    expect(rot.code, rot.stderr).toBe(0);
    const fresh = /\/s\/([\w-]+)\//.exec(rot.stdout)![1];
    expect((await raw(`/s/${A}/`)).status).toBe(404);
    expect((await raw(`/s/${fresh}/`)).status).toBe(200);
    links.set(a, `${origin}/s/${fresh}/`);
    t1.ws.close();
    tb.ws.close();
    // What was opened is in the audit log, with the env and where from.
    const audit = readFileSync(path.join(stateEnv.PGLAB_STATE_DIR, 'portal', `${klass}.audit.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(audit.some((e) => e.event === 'terminal-open' && e.env === a && e.from)).toBe(true);
    expect(audit.some((e) => e.event === 'refused')).toBe(true);
  });

  it('a dropped WebSocket comes back to the same shell, with what it printed meanwhile', async () => {
    const [a] = envs;
    const t = await terminal(secretOf(a), 'server=esclavo&user=postgres');
    if (!isTerm(t)) throw new Error(JSON.stringify(t));
    await shellLine(t, 'X=shell-$$; echo "before-$X"', /before-shell-\d+/);
    const pid = /before-shell-(\d+)/.exec(t.out())![1];
    t.ws.send(JSON.stringify({ type: 'input', data: 'sleep 2; echo "during-$X"\r' }));
    t.ws.terminate();
    await new Promise((r) => setTimeout(r, 3000));
    const back = await terminal(secretOf(a), `server=esclavo&user=postgres&session=${t.id}`);
    if (!isTerm(back)) throw new Error(JSON.stringify(back));
    expect(back.id).toBe(t.id);
    expect(back.out()).toContain(`during-shell-${pid}`);
    await shellLine(back, 'echo "after-$X"', `after-shell-${pid}`);
    back.ws.close();
  });

  it('the instructor sees every env, each page read-only, and grades the class', async () => {
    const instr = new URL(instructor).pathname.replace(/\/$/, '');
    const board = await raw(`${instr}/`);
    expect(board.status).toBe(200);
    for (const env of envs) expect(board.body).toContain(env);
    const view = await raw(`${instr}/env/${envs[1]}/`);
    expect(view.status).toBe(200);
    expect(view.body).not.toContain('class="tab"');
    expect((await raw(`${instr}/env/not-in-class/`)).status).toBe(404);
    const graded = await raw(`${instr}/grade`, { method: 'POST', headers: { Origin: origin } });
    expect(graded.status).toBe(200);
    const report = JSON.parse(graded.body) as { envs: { env: string; maxScore: number }[] };
    expect(report.envs.map((e) => e.env).sort()).toEqual([...envs].sort());
    expect(report.envs.every((e) => e.maxScore > 0)).toBe(true);
    const csv = await raw(`${instr}/report.csv`);
    expect(csv.status).toBe(200);
    expect(csv.body.split('\n')[0]).toMatch(/^env,/);
  });
});
