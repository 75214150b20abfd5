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
    // The usual roster: the student's name quoted, "Apellido, Nombre" (the board shows it).
    writeFileSync(roster, `entorno,nombre\n${envs.map((e, i) => `${e},"Pérez, Ana ${i + 1}"`).join('\n')}\n`);
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
    const said = await new Promise<string>((resolve) => { let out = ''; exposed.stdout!.on('data', (d) => { out += d; if (/Ctrl\+C/.test(out)) resolve(out); }); });
    expect(said).toMatch(/Con --expose se puede abrir desde otras máquinas/);
    expect(said).not.toMatch(/Solo se puede abrir desde esta máquina/);
    stop(exposed);
    // A step the lab does not have: refused at start (exit 2, the lab's steps named), nothing listens.
    const bad = await lab(['web', '--env', env, '--step', 'step-99']);
    expect(bad.code).toBe(2);
    expect(bad.stderr + bad.stdout).toMatch(/step-99.*step-1, step-2/s);
    expect(bad.stdout).not.toMatch(/token=/);
  });

  it('a tab left open when `lab web` restarts says the token changed, not "reintentando…" forever', async () => {
    const first = await web(['web', '--env', env]);
    const page = await openPage(first.url.href);
    try {
      await until('a first live update', async () => Number(await page.evaluate('document.body.dataset.updates')) > 0 || undefined);
      stop(first.child);
      await new Promise((r) => first.child.once('exit', r));
      const again = await web(['web', '--env', env, '--port', first.url.port]);
      try {
        await until('the page to say the token changed', async () => (await page.evaluate(`document.body.dataset.state`)) === 'token-changed' || undefined, 30_000);
        expect(await page.evaluate(`document.getElementById('gone').hidden`)).toBe(false);
        expect(await page.evaluate(`document.getElementById('offline').hidden`)).toBe(true);
        expect(await page.evaluate(`document.getElementById('gone').textContent`)).toMatch(/se reinició/);
      } finally {
        stop(again.child);
      }
    } finally {
      page.close();
    }
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
      // The diagrams are drawn at their own size: no text under 14 px on screen.
      const smallest = Number(await page.evaluate(`Math.min(...[...document.querySelectorAll('svg.topology text, svg.chart text')].map((t) => { const m = t.getScreenCTM(); return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b); }))`));
      expect(smallest).toBeGreaterThanOrEqual(14);
      // A segment switch is no lag: the chart never reaches a megabyte here.
      expect(await page.evaluate(`document.querySelector('svg.chart')?.textContent ?? ''`)).not.toMatch(/\d MB/);
      expect(await page.evaluate(`document.querySelectorAll('svg.chart polyline.lag[data-role="maestro"], svg.chart circle.lag[data-role="maestro"]').length`)).toBeGreaterThan(0);
    } finally {
      page.close();
      stop(child);
    }
  });

  it('with JavaScript off and no tab live, a reload shows the state now, not an old snapshot', async () => {
    const { url, child } = await web(['web', '--env', env, '--step', 'step-5']);
    try {
      const segment = async () => /data-edge="archive"[^>]*data-segment="([0-9A-F]{24})"/.exec(await (await fetch(url)).text())?.[1];
      const before = await segment();
      expect(before).toBeTruthy();
      expect((await exec(env, 'maestro', 'postgres', ['psql', '-Xqc', 'INSERT INTO live_probe VALUES (2); SELECT pg_switch_wal();'])).code).toBe(0);
      const after = await until('a reload to show the new segment', async () => { const s = await segment(); return s && s !== before ? s : undefined; }, 30_000);
      expect(after > before!).toBe(true);
    } finally {
      stop(child);
    }
  });

  it.skipIf(!TMUX)('lab watch at 80×24 in tmux: the alternate screen (no scrollback in 30 s), header and topology on screen', async () => {
    const session = `lv-small-${tag}`;
    const tmux = (...args: string[]) => spawnSync(TMUX!, ['-L', session, ...args], { encoding: 'utf8', env: { ...process.env, LAB_LANG: 'es' } });
    tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '24', `node ${LAB} watch step-5 --env ${env}; sleep 30`);
    try {
      const pane = () => tmux('capture-pane', '-p', '-t', session).stdout;
      await until('the checklist', async () => /verificaciones|Paso 5/.test(pane()) || undefined);
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 30_000));
      const history = Number(tmux('display-message', '-p', '-t', session, '#{history_size}').stdout.trim());
      const screen = pane();
      console.log(`lab watch 80x24: ${history} scrollback lines after ${Math.round((Date.now() - t0) / 1000)} s`);
      expect(history).toBeLessThanOrEqual(2);
      expect(screen).toMatch(/^lab watch — Paso 5/m);
      expect(screen).toMatch(/maestro ──streaming──▶ esclavo/);
      expect(screen.split('\n').every((l) => [...l].length <= 80)).toBe(true);
      tmux('send-keys', '-t', session, 'q');
    } finally {
      tmux('kill-server');
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
    // The cleanup broke maestro's archiving on purpose: an expected consequence, not a red "falla" next to "¡Paso completo!".
    const topologyPart = /<div id="topology"[\s\S]*?<\/svg>/.exec(dom)![0];
    expect(topologyPart).not.toMatch(/data-state="failing"|falla/);
    const status = await lab(['status', '--env', env]);
    expect(status.stdout).toMatch(/esclavo fue promovido: ahora hay dos primarios/);
  });

  it('the class board: one row per env, a cell per step, a link to each env page', async () => {
    await lab(['check', 'step-1', '--env', env]); // the student's own activity (the rest is never checked)
    // lv3's containers stopped: its row says so and how to start them, not a silent 0/53.
    expect((await lab(['down', '--env', envs[2]])).code).toBe(0);
    const { url, child } = await web(['class', 'web', '--class', klass]);
    try {
      const dom = dumpDom(url.href, 'board.png');
      for (const e of envs) expect(dom).toContain(`<tr data-env="${e}">`);
      const rowOf = (d: string, e: string) => new RegExp(`<tr data-env="${e}">(.*?)</tr>`).exec(d)![1];
      // Right at the first load: every step of the finished lab ✓, graded as `lab grade` does.
      const row = rowOf(dom, env);
      expect(row.match(/data-status="pass"/g)?.length, row).toBe(6);
      // Done with `lab solve`: every step ✓, and 0 points, as `lab grade` gives solved steps by default.
      expect(row).toContain('<td>0/53</td>');
      expect(row).not.toMatch(/nunca/);
      expect(row).toContain('<td class="student">Pérez, Ana 1</td>');
      expect(dom).toMatch(/<p class="legend small">✓ paso completo/);
      const stopped = rowOf(dom, envs[2]);
      expect(stopped).toMatch(new RegExp(`contenedor detenido \\(maestro, esclavo\\): <code>lab up --env ${envs[2]}</code>`));
      const stoppedPage = await fetch(`http://127.0.0.1:${url.port}/env/${envs[2]}?${url.searchParams}`);
      expect(await stoppedPage.text()).toMatch(new RegExp(`data-note="stopped">El contenedor de maestro, esclavo está detenido: arrancalo con <code>lab up --env ${envs[2]}</code>`));
      // Three clicks on a report: one grading, shared (the same grading time in all three), and a named file.
      const reports = await Promise.all([0, 1, 2].map(() => fetch(`http://127.0.0.1:${url.port}/report.csv?${url.searchParams}`)));
      const bodies = await Promise.all(reports.map((r) => r.text()));
      expect(new Set(bodies).size).toBe(1);
      expect(reports[0].headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="pglab-${klass}-\\d{8}-\\d{4}\\.csv"$`));
      // The HTML report is styled: its own <style> is allowed by hash.
      const reportPage = await openPage(`http://127.0.0.1:${url.port}/report.html?${url.searchParams}`);
      try {
        const bg = await until('the report', async () => (await reportPage.evaluate(`document.querySelector('th') && getComputedStyle(document.querySelector('th')).backgroundColor`)) as string | undefined);
        expect(bg).toBe('rgb(238, 238, 238)');
      } finally {
        reportPage.close();
      }
      // Looking (the board, the reports) marked nothing: lv2 was never tried, so no ✗ and no activity.
      await new Promise((r) => setTimeout(r, 11_000)); // older than one board cycle: this load grades again
      const later = dumpDom(url.href);
      const untried = rowOf(later, envs[1]);
      expect(untried).not.toMatch(/data-status="fail"|✗/);
      expect(untried).toMatch(/nunca/);
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
      // The report is lab grade's: every step solved with `lab solve`, so 0 of 53 by default (as on the board).
      expect(rows.find((r) => r.startsWith(`${env},`))).toMatch(new RegExp(`^${env},15,0,53,0,`));
    } finally {
      stop(child);
    }
  });
});
