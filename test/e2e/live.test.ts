/**
 * Live feedback on real containers (PostgreSQL 15, a class of three envs, the first one used
 * throughout) and a real headless Chromium (Debian's, driven through the DevTools protocol):
 * `lab web` refuses requests without the token and listens on 127.0.0.1 only; the page shows the
 * topology of a fresh, a streaming and a promoted env; an archived segment reaches the open page
 * with no reload; hostile names from the env are shown as text; `lab watch` in a pseudo-terminal
 * (tmux) sees a step turn green after a fix, and without a terminal prints plain lines and quits
 * on q or at the end of its input; the class board shows the three envs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec, lab, ROOT } from './helpers.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const TMUX = ['/usr/bin/tmux', '/usr/local/bin/tmux'].find((p) => existsSync(p));
const tag = process.pid.toString(36);
const klass = `lvclass-${tag}`;
const envs = [`lv1-${tag}`, `lv2-${tag}`, `lv3-${tag}`];
const env = envs[0];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pglab-live-'));
/** Screenshots of each page, kept after the run to look at (the path is printed). */
const shots = mkdtempSync(path.join(os.tmpdir(), 'pglab-live-shots-'));
const LAB = path.join(ROOT, 'bin', 'lab.js');
const HOSTILE_TABLE = `<img src=x onerror=document.title='pwned'><script>document.title='pwned2'</script>`;
const servers: ChildProcess[] = [];

/** `lab web …` in the background; resolves with the URL it prints. */
async function web(args: string[]): Promise<{ url: URL; child: ChildProcess }> {
  const child = spawn('node', [LAB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/.exec(out);
      if (m) resolve(m[0]);
    });
    child.on('exit', (code) => reject(new Error(`lab ${args.join(' ')} exited ${code}: ${out}`)));
  });
  return { url: new URL(url), child };
}

function stop(child: ChildProcess) {
  child.kill('SIGTERM');
}

const chromeFlags = () => ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', `--user-data-dir=${mkdtempSync(path.join(tmp, 'chr-'))}`];

/** The DOM after the page's script ran, and a screenshot to look at. */
function dumpDom(url: string, shot?: string): string {
  const r = spawnSync(CHROMIUM!, [...chromeFlags(), '--dump-dom', url], { encoding: 'utf8', timeout: 60_000 });
  if (shot) spawnSync(CHROMIUM!, [...chromeFlags(), `--screenshot=${path.join(shots, shot)}`, '--window-size=1300,1100', url], { timeout: 60_000 });
  return r.stdout;
}

/** A page open in Chromium, driven through the DevTools protocol (no puppeteer: a WebSocket and JSON). */
async function openPage(url: string) {
  const WS = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket ?? ((await import('undici')) as unknown as { WebSocket: typeof WebSocket }).WebSocket;
  const chrome = spawn(CHROMIUM!, [...chromeFlags(), '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const endpoint = await new Promise<string>((resolve) => {
    let err = '';
    chrome.stderr!.on('data', (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(err);
      if (m) resolve(m[1]);
    });
  });
  const ws = new WS(endpoint);
  await new Promise((resolve) => ws.addEventListener('open', resolve, { once: true }));
  let id = 0;
  const pending = new Map<number, (r: { result?: Record<string, unknown>; error?: unknown }) => void>();
  ws.addEventListener('message', (m: MessageEvent) => {
    const msg = JSON.parse(String(m.data));
    if (msg.id && pending.has(msg.id)) pending.get(msg.id)!(msg);
  });
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string) => new Promise<Record<string, unknown>>((resolve, reject) => {
    const n = ++id;
    pending.set(n, (r) => (r.error ? reject(new Error(JSON.stringify(r.error))) : resolve(r.result ?? {})));
    ws.send(JSON.stringify({ id: n, method, params, ...(sessionId ? { sessionId } : {}) }));
  });
  const { targetId } = await send('Target.createTarget', { url });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  const evaluate = async (expression: string): Promise<unknown> =>
    ((await send('Runtime.evaluate', { expression, returnByValue: true }, String(sessionId))).result as { value?: unknown })?.value;
  return { evaluate, close: () => { ws.close(); chrome.kill('SIGKILL'); } };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function solve(step: string) {
  const r = await lab(['solve', step, '--env', env, '--yes']);
  expect(r.code, r.stderr).toBe(0);
}

const psql = (sql: string) => exec(env, 'maestro', 'postgres', ['psql', '-Xqc', sql]);

describe.skipIf(!CHROMIUM)('live feedback (PostgreSQL 15, Chromium)', () => {
  beforeAll(async () => {
    const roster = path.join(tmp, 'roster.csv');
    writeFileSync(roster, `entorno\n${envs.join('\n')}\n`);
    const r = await lab(['class', 'up', '--roster', roster, '--pg', '15', '--class', klass, '--parallel', '3']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
  });

  afterAll(async () => {
    for (const s of servers) s.kill('SIGKILL');
    await lab(['class', 'down', '--class', klass, '--purge', '--yes']);
    rmSync(tmp, { recursive: true, force: true });
    console.log(`screenshots: ${shots}`);
  });

  it('needs the token (401 without, 403 wrong) and listens on 127.0.0.1 only', async () => {
    const { url, child } = await web(['web', '--env', env]);
    const base = `http://127.0.0.1:${url.port}`;
    expect((await fetch(`${base}/`)).status).toBe(401);
    expect((await fetch(`${base}/events`)).status).toBe(401);
    expect((await fetch(`${base}/?token=${url.searchParams.get('token')}x`)).status).toBe(403);
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toMatch(/script-src 'nonce-/);
    const listening = spawnSync('ss', ['-ltnH', `sport = :${url.port}`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
    expect(listening.length).toBeGreaterThan(0);
    for (const l of listening) expect(l).toMatch(new RegExp(`\\s127\\.0\\.0\\.1:${url.port}\\s`));
    stop(child);
    // Exposing it takes a flag, and says what it means (only 127.0.0.1 is ever asked here).
    const exposed = spawn('node', [LAB, 'web', '--env', env, '--expose'], { stdio: ['ignore', 'pipe', 'pipe'] });
    servers.push(exposed);
    const warning = await new Promise<string>((resolve) => { let err = ''; exposed.stderr!.on('data', (d) => { err += d; if (/\n.*\n/.test(err)) resolve(err); }); });
    expect(warning).toMatch(/ATENCIÓN: con --expose la página escucha en todas las interfaces \(0\.0\.0\.0:\d+\)/);
    stop(exposed);
  });

  it('a fresh env: two servers that do not replicate, the step-1 checklist, hostile table names shown as text', async () => {
    expect((await psql(`CREATE TABLE "${HOSTILE_TABLE.replace(/"/g, '""')}" (i int); INSERT INTO "${HOSTILE_TABLE.replace(/"/g, '""')}" VALUES (1);`)).code).toBe(0);
    const fresh = await web(['web', '--env', env]);
    const dom = dumpDom(fresh.url.href, 'fresh.png');
    stop(fresh.child);
    expect(dom).toMatch(/<svg[^>]*class="topology"/);
    expect(dom).toMatch(/data-role="maestro" data-kind="primary" data-timeline="1"/);
    expect(dom).toMatch(/data-role="esclavo" data-kind="primary"/);
    expect(dom).toMatch(/data-edge="streaming" data-from="maestro" data-to="esclavo" data-state="off"/);
    expect(dom).toMatch(/data-note="archive-off">✗ archive_mode no está activo en el maestro/);
    expect(dom).toMatch(/<ul class="checks" data-step="step-1" data-passed="false">/);
    expect(dom).toMatch(/data-check="ssh-batch" data-status="fail"/);
    // The student table is evidence of a failing step-5 check (not replicated): escaped, never run.
    const five = await web(['web', '--env', env, '--step', 'step-5']);
    const dom5 = dumpDom(five.url.href, 'hostile.png');
    stop(five.child);
    expect(dom5).toMatch(/data-check="student-table" data-status="fail"/);
    expect(dom5).toContain('&lt;img src=x onerror=document.title=\'pwned\'&gt;&lt;script&gt;');
    expect(dom5).not.toMatch(/<img src="?x/);
    expect(dom5).not.toContain('pwned</title>');
    expect(dom5).not.toContain('pwned2</title>');
    expect((await psql(`DROP TABLE "${HOSTILE_TABLE.replace(/"/g, '""')}"`)).code).toBe(0);
  });

  it.skipIf(!TMUX)('lab watch in a terminal sees step 1 turn green after the fix, and quits on q', async () => {
    // A tmux server of our own (-L): it runs with this process's environment.
    const session = `lv-watch-${tag}`;
    const tmux = (...args: string[]) => spawnSync(TMUX!, ['-L', session, ...args], { encoding: 'utf8', env: { ...process.env, LAB_LANG: 'es' } });
    const pane = () => tmux('capture-pane', '-p', '-t', session).stdout;
    tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '60', `node ${LAB} watch step-1 --env ${env}; echo WATCH-EXIT:$?; sleep 30`);
    try {
      await until('the checklist', async () => /✗ .*ssh/.test(pane()) || undefined);
      expect(pane()).toMatch(/lab watch — Paso 1/);
      await solve('step-1');
      await until('step 1 green', async () => /¡Paso completo!/.test(pane()) || undefined, 30_000);
      expect(pane()).toMatch(/✓ ahora pasa: /);
      tmux('send-keys', '-t', session, 'q');
      await until('watch to quit', async () => /WATCH-EXIT:0/.test(pane()) || undefined, 10_000);
    } finally {
      tmux('kill-server');
    }
  });

  it('a streaming env: esclavo a standby of maestro; a check that turns green and an archived segment reach the open page with no reload', async () => {
    if (!TMUX) await solve('step-1');
    for (const s of ['step-2', 'step-3', 'step-4']) await solve(s);
    const { url, child } = await web(['web', '--env', env, '--step', 'step-5']);
    const dom = dumpDom(url.href, 'streaming.png');
    expect(dom).toMatch(/data-role="maestro" data-kind="primary"/);
    expect(dom).toMatch(/data-role="esclavo" data-kind="standby"/);
    expect(dom).toMatch(/data-edge="streaming" data-from="maestro" data-to="esclavo" data-state="streaming"/);
    expect(dom).toMatch(/data-edge="archive" data-from="maestro" data-to="esclavo" data-state="ok" data-segment="[0-9A-F]{24}"/);
    // The chart starts from the env's flight record: the minutes before the page was opened are drawn at once.
    expect(dom).toMatch(/<svg[^>]*class="chart"/);

    const page = await openPage(url.href);
    try {
      const segment = () => page.evaluate(`document.querySelector('[data-edge="archive"]')?.getAttribute('data-segment')`) as Promise<string | undefined>;
      const studentTable = () => page.evaluate(`document.querySelector('[data-check="student-table"]')?.getAttribute('data-status')`) as Promise<string | undefined>;
      const before = await until('the page', segment);
      expect(await studentTable()).toBe('fail'); // no table of the student's yet
      await page.evaluate('window.__sameDocument = 42');
      await until('a first live update', async () => Number(await page.evaluate('document.body.dataset.updates')) > 0 || undefined);
      expect((await exec(env, 'maestro', 'postgres', ['psql', '-Xqc', 'CREATE TABLE IF NOT EXISTS live_probe (i int); INSERT INTO live_probe VALUES (1); SELECT pg_switch_wal();'])).code).toBe(0);
      const after = await until('the new segment on the page', async () => { const s = await segment(); return s && s !== before ? s : undefined; });
      expect(after > before!).toBe(true);
      await until('the student-table check to turn green', async () => (await studentTable()) === 'pass' || undefined);
      expect(await page.evaluate('window.__sameDocument')).toBe(42); // updated in place, not reloaded
      expect(await page.evaluate(`document.getElementById('changes').textContent`)).toContain(`llegó el segmento ${after}`);
    } finally {
      page.close();
      stop(child);
    }
  });

  it('lab watch without a terminal: plain lines, quits on q and at the end of its input', async () => {
    const run = (input: (c: ChildProcess) => void) => new Promise<{ out: string; code: number | null; ms: number }>((resolve) => {
      const t0 = Date.now();
      const c = spawn('node', [LAB, 'watch', 'step-4', '--env', env], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      c.stdout!.on('data', (d) => {
        out += d;
        if (/verificaciones/.test(out)) input(c);
      });
      c.on('exit', (code) => resolve({ out, code, ms: Date.now() - t0 }));
    });
    const q = await run((c) => c.stdin!.write('q\n'));
    expect(q.code).toBe(0);
    expect(q.out).toMatch(/lab watch — Paso 4/);
    expect(q.out).toMatch(/maestro ──streaming──▶ esclavo .*✓ funciona/);
    expect(q.out).not.toMatch(/\x1b/);
    const eof = await run((c) => c.stdin!.end());
    expect(eof.code).toBe(0);
    expect(eof.ms).toBeLessThan(30_000);
  });

  it('after the promotion: two primaries on different timelines, said plainly', async () => {
    await solve('step-5');
    await solve('step-6');
    const { url, child } = await web(['web', '--env', env]);
    const dom = dumpDom(url.href, 'promoted.png');
    stop(child);
    expect(dom).toMatch(/data-role="esclavo" data-kind="primary" data-timeline="2"/);
    expect(dom).toMatch(/data-role="maestro" data-kind="primary" data-timeline="1"/);
    expect(dom).toMatch(/data-note="promoted">esclavo fue promovido: ahora hay dos primarios/);
    const status = await lab(['status', '--env', env]);
    expect(status.stdout).toMatch(/esclavo fue promovido: ahora hay dos primarios/);
  });

  it('the class board: one row per env, a cell per step, a link to each env page', async () => {
    await lab(['check', '--env', env]); // every step recorded (a finished lab passes all of them)
    const { url, child } = await web(['class', 'web', '--class', klass]);
    try {
      const dom = dumpDom(url.href, 'board.png');
      for (const e of envs) expect(dom).toContain(`<tr data-env="${e}">`);
      const row = /<tr data-env="lv1-[^"]*">(.*?)<\/tr>/.exec(dom)![1];
      expect(row.match(/data-status="pass"/g)?.length).toBeGreaterThanOrEqual(5);
      expect(dom).toMatch(/href="\/report\.csv\?token=/);
      const link = /href="(\/env\/lv2-[^"]+)"/.exec(dom)![1].replace(/&amp;/g, '&');
      const envPage = await fetch(`http://127.0.0.1:${url.port}${link}`);
      expect(envPage.status).toBe(200);
      expect(await envPage.text()).toMatch(/data-role="maestro"/);
      expect((await fetch(`http://127.0.0.1:${url.port}/env/lv9-nope?${url.searchParams}`)).status).toBe(404);
      const csv = await fetch(`http://127.0.0.1:${url.port}/report.csv?${url.searchParams}`);
      expect(csv.status).toBe(200);
      const rows = (await csv.text()).trim().split('\r\n');
      expect(rows[0]).toMatch(/^env,pg,score,maxScore,percentage,step-1/);
      expect(rows).toHaveLength(4);
      expect(rows.find((r) => r.startsWith(`${env},`))).toMatch(new RegExp(`^${env},15,52,52,100,`));
    } finally {
      stop(child);
    }
  });
});
