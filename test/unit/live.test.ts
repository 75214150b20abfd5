/**
 * Live feedback without Docker: the HTML fragments escape every string from an env (the same
 * hostile text as the HTML report's test), the server refuses requests without the token, with a
 * wrong one, from another Host, or with another method, and listens on 127.0.0.1 only; the probe
 * batch output is parsed byte-exact, and only reads may run ahead of the checks.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setLang } from '../../src/i18n/index.js';
import type { StepResult } from '../../src/lab/runner.js';
import { boardDelayMs, Feed, hostAllowed, startWeb, styleHashes, type WebServer } from '../../src/live/server.js';
import type { LiveSession, Snapshot } from '../../src/live/session.js';
import { fitScreen, screen, wrapAnsi } from '../../src/live/watch.js';
import { parseProgressLog, summarize } from '../../src/lab/progress.js';
import { progressRecords } from '../../src/lab/runner.js';
import { createHash } from 'node:crypto';
import { parseBatch, replayable, splitSections } from '../../src/pg/probe-transport.js';
import { boardTable, chartSvg, checklistHtml, CSS, envParts, page } from '../../src/render/live-html.js';

const HOSTILE = `<script>document.title='pwned'</script><img src=x onerror=alert(1)>`;
const ESCAPED = '&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;';

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('live HTML', () => {
  it('escapes check titles, evidence and hints (a table name, an application_name)', () => {
    setLang('es');
    const result: StepResult = {
      step: 'step-5', title: 'Paso 5', passed: false, points: 0, maxPoints: 2, durationMs: 1,
      checks: [{ id: 'student-table', title: `Tu tabla ${HOSTILE}`, status: 'fail', points: 0, maxPoints: 2, expected: HOSTILE,
        evidence: { table: `public.${HOSTILE}`, client: HOSTILE }, reason: 'missing', hint: `Revisá ${HOSTILE}`, durationMs: 1, source: 'live' }],
    };
    const html = checklistHtml(result);
    expect(html).toContain(ESCAPED);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).toContain('data-check="student-table" data-status="fail"');
  });

  it('escapes env text on the board and in the chart', () => {
    const board = boardTable(['step-1'], [{ env: 'alumno01', cells: { 'step-1': { status: 'pass', points: 6, maxPoints: 6 } }, score: 6, maxScore: 54, error: HOSTILE, student: HOSTILE }], 'tok&"<');
    expect(board).toContain(ESCAPED);
    expect(board).not.toContain('<script');
    expect(board).toContain('href="/env/alumno01?token=tok%26%22%3C"');
    const chart = chartSvg([{ at: 1, role: HOSTILE, waiting: 0, lastArchived: 'A' }, { at: 60_000, role: HOSTILE, waiting: 1, lagBytes: 10, lastArchived: HOSTILE }], 10);
    expect(chart).not.toContain('<script');
  });

  it('hints and the "paso completo" line show `backticks` as code, escaped', () => {
    const result: StepResult = {
      step: 'step-2', title: 'Paso 2', passed: false, points: 0, maxPoints: 2, durationMs: 1,
      checks: [{ id: 'x', title: 't', status: 'fail', points: 0, maxPoints: 2, expected: 'e', evidence: {}, reason: 'r', hint: 'Corré `pg_ctl <start>` y después `lab check`', durationMs: 1, source: 'live' }],
    };
    const html = checklistHtml(result);
    expect(html).toContain('Corré <code>pg_ctl &lt;start&gt;</code> y después <code>lab check</code>');
    expect(html).not.toContain('`');
  });

  it('the chart: one series per primary, ticks only where that primary archived, labelled axes', () => {
    setLang('es');
    const at = (s: number) => 1_000_000 + s * 1000;
    // After a promotion both primaries report every cycle, each its own last segment.
    const history = [0, 2, 4, 6, 8].flatMap((s) => [
      { at: at(s), role: 'maestro', waiting: 0, lastArchived: 'M5', lagBytes: s < 4 ? 100 : undefined },
      { at: at(s), role: 'esclavo', waiting: 0, lastArchived: s < 6 ? 'E5' : 'E6' },
    ]);
    const svg = chartSvg(history, 10);
    expect(svg.match(/<line class="archived"/g)).toHaveLength(1);
    expect(svg).toContain('<line class="archived" data-role="esclavo"');
    expect(svg).toMatch(/<polyline class="lag s0" data-role="maestro"/);
    expect(svg).not.toMatch(/class="lag[^"]*" data-role="esclavo"/);
    expect(svg).toContain('bytes sin recibir</text>');
    expect(svg).toContain('>hora</text>');
    expect(svg).toContain('demora de los standbys de maestro');
    expect(svg).not.toMatch(/style="/); // the CSP allows no style attribute
    // 100 bytes (a probe's write caught between two reads) is a flat line near 0, on a 64 kB axis.
    expect(svg).toContain('>64 kB</text>');
  });

  it('the chart says there is no streaming yet instead of a flat line', () => {
    const svg = chartSvg([{ at: 1, role: 'maestro', waiting: 0 }, { at: 60_000, role: 'maestro', waiting: 0 }], 10);
    expect(svg).toContain('data-note="no-streaming">Todavía no hay streaming');
    expect(svg).not.toContain('<polyline');
  });

  it('a stopped container: the page says `lab up`, not the hints that start PostgreSQL inside it', () => {
    const result: StepResult = {
      step: 'step-1', title: 'Paso 1', passed: false, points: 0, maxPoints: 2, durationMs: 1,
      checks: [{ id: 'x', title: 't', status: 'fail', points: 0, maxPoints: 2, expected: 'e', evidence: {}, reason: 'r', hint: 'Arrancalo con `/etc/init.d/postgresql start`', durationMs: 1, source: 'live' }],
    };
    const env = { name: 'alu1', servers: [{ role: 'maestro', state: 'exited' }, { role: 'esclavo', state: 'running' }] };
    const parts = envParts({ env, result, history: [], changes: [], at: 1, stepTitle: 'Paso 1' }, 10);
    expect(parts.checklist).toContain('data-note="stopped">El contenedor de maestro está detenido: arrancalo con <code>lab up --env alu1</code>');
    expect(parts.checklist).not.toContain('/etc/init.d');
  });

  it('the board: points from the grade, · for no points (never ✗ from a look), a legend, errors with their command', () => {
    const html = boardTable(['step-1', 'step-2', 'step-3'], [{
      env: 'alu1', cells: { 'step-1': { status: 'pass', points: 6, maxPoints: 6 }, 'step-2': { status: 'partial', points: 3, maxPoints: 9 }, 'step-3': { status: 'none', points: 0, maxPoints: 9 } },
      score: 9, maxScore: 54, lastActivity: '2026-01-01T10:00:00Z',
    }, { env: 'alu2', cells: {}, score: 0, maxScore: 54, error: 'contenedor detenido (maestro): `lab up --env alu2`' }], 'tok');
    expect(html).toMatch(/data-step="step-1" data-status="pass"[^>]*>✓</);
    expect(html).toMatch(/data-step="step-2" data-status="partial"[^>]*>3\/9</);
    expect(html).toMatch(/data-step="step-3" data-status="none"[^>]*>·</);
    expect(html).not.toContain('✗');
    expect(html).toContain('<code>lab up --env alu2</code>');
    expect(html).toMatch(/<p class="legend small">✓ paso completo/);
  });

  it('colours meet WCAG AA: 4.5:1 for text, 3:1 for marks, lines and bars', () => {
    const rule = (selector: string, prop: string): string => {
      const m = new RegExp(`(?:^|[}\\n])${selector.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\{([^}]*)\\}`).exec(CSS);
      const v = m && new RegExp(`(?:^|;)${prop}:(#[0-9a-f]{3,6})`).exec(m[1]);
      if (!v) throw new Error(`no ${prop} for ${selector}`);
      return v[1];
    };
    const lum = (hex: string) => {
      const h = hex.length === 4 ? hex.slice(1).split('').map((c) => c + c).join('') : hex.slice(1);
      const [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a: string, b: string) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
    const white = '#fff';
    const row = rule('li.check', 'background');
    // Text.
    expect(ratio(rule('td.none', 'color'), white)).toBeGreaterThanOrEqual(4.5); // the board's "·"
    expect(ratio(rule('.pts', 'color'), row)).toBeGreaterThanOrEqual(4.5); // point counts
    expect(ratio(rule('.small', 'color'), white)).toBeGreaterThanOrEqual(4.5);
    expect(ratio(rule('li.warn .mark', 'color'), row)).toBeGreaterThanOrEqual(4.5);
    // Graphics.
    for (const [sel, prop] of [['svg.chart rect.wait', 'fill'], ['svg.chart .s0', 'stroke'], ['svg.chart .s1', 'stroke'], ['svg.chart .s2', 'stroke'],
      ['svg.chart line.archived', 'stroke'], ['.edge-wait', 'stroke'], ['.edge-ok', 'stroke'], ['.edge-bad', 'stroke'], ['svg.chart line.axis', 'stroke']] as const) {
      expect(ratio(rule(sel, prop), white), sel).toBeGreaterThanOrEqual(3);
    }
  });

  it('a page runs only its own script, by nonce', () => {
    const html = page({ title: HOSTILE, nonce: 'abc', events: '/events', heading: 'h', parts: { x: 'y' }, layout: '{{x}}' });
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html).toContain('<script nonce="abc">');
    expect(html).toContain(`<title>${ESCAPED}</title>`);
  });
});

describe('live server', () => {
  let web: WebServer;
  beforeAll(async () => {
    // No request below gets past the checks, so no env (and no Docker) is needed.
    web = await startWeb({ env: 'lvunit-none', token: 'T0ken-abc' });
  });
  afterAll(() => web.close());

  it('listens on 127.0.0.1 only, and prints a URL with the token', () => {
    expect(web.host).toBe('127.0.0.1');
    expect(web.url).toBe(`http://127.0.0.1:${web.port}/?token=T0ken-abc`);
  });

  it('401 without a token, 403 with a wrong one (also on the event stream)', async () => {
    setLang('es');
    const none = await get(web.port, '/');
    expect(none.status).toBe(401);
    expect(none.body).toMatch(/Falta el token/);
    expect((await get(web.port, '/events')).status).toBe(401);
    expect((await get(web.port, '/?token=T0ken-abd')).status).toBe(403);
    expect((await get(web.port, '/events?token=T0ken-ab')).status).toBe(403);
    expect((await get(web.port, '/?token=')).status).toBe(401);
    expect(none.headers['content-security-policy']).toMatch(/default-src 'none'/);
  });

  it('refuses another Host (DNS rebinding) and other methods, before the token', async () => {
    expect((await get(web.port, '/?token=T0ken-abc', { Host: 'evil.example' })).status).toBe(403);
    expect((await get(web.port, '/?token=T0ken-abc', { Host: `127.0.0.1:${web.port + 1}` })).status).toBe(403);
    const post = await get(web.port, '/?token=T0ken-abc', {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await get(web.port, '/run?token=T0ken-abc&cmd=id')).status).toBe(404);
  });
});

describe('live server rules', () => {
  it('/alive tells a page whether its token still opens this server (a restarted `lab web` has another)', async () => {
    const web = await startWeb({ env: 'lvunit-none', token: 'T0ken-abc' });
    try {
      expect((await get(web.port, '/alive?token=T0ken-abc')).status).toBe(204);
      expect((await get(web.port, '/alive?token=T0ken-old')).status).toBe(403);
    } finally {
      await web.close();
    }
    setLang('es');
    const html = page({ title: 't', nonce: 'n', events: '/events', heading: 'h', parts: {}, layout: '' });
    expect(html).toContain('<p id="gone" role="alert" hidden><code>lab web</code> se reinició');
    expect(html).toContain("fetch('/alive'+location.search");
  });

  it('the Host check: 127.0.0.1/localhost only; with --expose also IP literals and this machine\'s name, never another name', () => {
    expect(hostAllowed('127.0.0.1:8080', 8080, false)).toBe(true);
    expect(hostAllowed('localhost:8080', 8080, false)).toBe(true);
    expect(hostAllowed('192.168.0.10:8080', 8080, false)).toBe(false);
    expect(hostAllowed('192.168.0.10:8080', 8080, true)).toBe(true);
    expect(hostAllowed('[fe80::1]:8080', 8080, true)).toBe(true);
    expect(hostAllowed('evil.example:8080', 8080, true)).toBe(false); // a rebinding needs a name: still refused
    expect(hostAllowed('192.168.0.10:8081', 8080, true)).toBe(false);
    expect(hostAllowed(undefined, 8080, true)).toBe(false);
  });

  it('the board waits at least 10 s between rounds, twice a long round, at most 60 s', () => {
    expect(boardDelayMs(2_000)).toBe(10_000);
    expect(boardDelayMs(12_000)).toBe(24_000);
    expect(boardDelayMs(90_000)).toBe(60_000);
  });

  it('the report\'s own style is allowed by its hash (it has no nonce)', () => {
    const css = 'body{color:#222}';
    expect(styleHashes(`<html><style>${css}</style></html>`)).toEqual([`sha256-${createHash('sha256').update(css).digest('base64')}`]);
  });

  it('a reload with no live tab takes a new snapshot instead of an old one', async () => {
    let n = 0;
    const session = { cycle: async () => ({ at: Date.now(), n: ++n }) as unknown as Snapshot, nextDelayMs: () => 2000 } as unknown as LiveSession;
    const feed = new Feed(session, async () => ({}));
    const first = await feed.fresh();
    expect(await feed.fresh()).toBe(first); // within one cycle: the same
    const later = await feed.fresh(Date.now() + 60_000);
    expect((later as unknown as { n: number }).n).toBe(2);
  });

  it('the student\'s activity is their own records, not a grading\'s or the board\'s', () => {
    const step = { step: 'step-1', title: 'P', passed: false, points: 0, maxPoints: 1, durationMs: 1, checks: [] };
    const student = progressRecords('wal-streaming', [step]).map((r) => ({ ...r, at: '2026-01-01T10:00:00.000Z' }));
    const graded = progressRecords('wal-streaming', [step], 'grade').map((r) => ({ ...r, at: '2026-01-01T11:00:00.000Z' }));
    const board = progressRecords('wal-streaming', [step], 'board').map((r) => ({ ...r, at: '2026-01-01T12:00:00.000Z' }));
    const log = [...student, ...graded, ...board].map((r) => JSON.stringify(r)).join('\n');
    expect(summarize(parseProgressLog(log)).lastActivity).toBe('2026-01-01T10:00:00.000Z');
  });
});

describe('lab watch on a terminal', () => {
  const visible = (l: string) => [...l.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')].length;

  it('fits 80×24: header and topology first, every line within the width, the rest counted', () => {
    const head = ['lab watch — Paso 5 — entorno "alumno01", PostgreSQL 9.1', 'Reviso cada 2 s'];
    const topo = ['  maestro ──envío de WAL (archive)──▶ esclavo   ✓ funciona (último segmento WAL archivado: 000000010000000000000002), hace 3 s', '  maestro ──streaming──▶ esclavo   ✓ funciona'];
    const checks = Array.from({ length: 40 }, (_, i) => `\x1b[31m✗\x1b[39m check ${i} ${'x'.repeat(100)}`);
    const lines = fitScreen([head, topo, [], checks, ['Cambios recientes:']], 24, 80, (n) => `… ${n} más`);
    expect(lines).toHaveLength(24);
    expect(lines.slice(0, 2)).toEqual(head);
    expect(lines.join('\n')).toContain('maestro ──streaming──▶ esclavo');
    expect(lines[23]).toMatch(/^… \d+ más$/);
    for (const l of lines) expect(visible(l)).toBeLessThanOrEqual(80);
    expect(wrapAnsi('\x1b[1mabcdefghij\x1b[22m', 8)).toEqual(['\x1b[1mabcdefgh', '    ij\x1b[22m']);
  });

  it('redraws in place (home, clear to end of line and screen), never a full clear that tmux keeps in its scrollback', () => {
    setLang('es');
    const snap = { env: { name: 'a', pg: '15' }, step: { id: 'step-1' }, changes: [], history: [], at: Date.now(), execs: 0 } as unknown as Snapshot;
    const out = screen({ stepTitle: () => 'Paso 1', doneText: () => '' }, snap, 24, 80);
    expect(out.startsWith('\x1b[H')).toBe(true);
    expect(out).not.toContain('\x1b[2J');
    expect(out.endsWith('\x1b[J')).toBe(true);
    expect(out.split('\n').length).toBeLessThanOrEqual(24);
  });
});

describe('probe batches', () => {
  it('parses each probe output byte-exact, binary included', () => {
    const bin = Buffer.from([0, 1, 0x1e, 0x0a, 255]);
    const out = Buffer.concat([Buffer.from('\x1e0 0 5 0\n'), bin, Buffer.from('\x1e1 2 3 4\nabcerr!')]);
    const parts = parseBatch(out);
    expect(parts.get(0)).toEqual({ exitCode: 0, stdout: bin, stderr: Buffer.alloc(0) });
    expect(parts.get(1)!.stdout.toString()).toBe('abc');
    expect(parts.get(1)!.stderr.toString()).toBe('err!');
    expect(parseBatch(Buffer.from('\x1e0 0 99 0\nshort')).size).toBe(0); // torn output: nothing trusted
  });

  it('splits a shared psql session by its marker, and trusts nothing incomplete', () => {
    const m = 'pglab-0123456789abcdef';
    const out = `${m} 0\nt\n${m} 1\n${m} 2\na\x1fb\nc\x1fd\n${m} end\n`;
    expect(splitSections(out, m, 3)).toEqual(['t\n', '', 'a\x1fb\nc\x1fd\n']);
    expect(splitSections(`${m} 0\nt\n`, m, 1)).toBeUndefined(); // cut before its end
    expect(splitSections(`${m} 0\nt\n${m} end\n`, m, 2)).toBeUndefined();
    // A row that merely looks like a marker of another session is data.
    expect(splitSections(`${m} 0\npglab-ffff 1\n${m} end\n`, m, 1)).toEqual(['pglab-ffff 1\n']);
  });

  it('merges reads only into a shared psql session', () => {
    const psql = (q: string) => ['/usr/lib/postgresql/15/bin/psql', '-X', '-c', q];
    expect(replayable(['head', '-c', '10', '--', '/etc/x'])).toBe(true);
    expect(replayable(psql('SELECT name, setting FROM pg_settings'))).toBe(true);
    expect(replayable(psql('SELECT pg_switch_wal()'))).toBe(false);
    expect(replayable(psql('CREATE TEMP TABLE x (i int)'))).toBe(false);
    expect(replayable(psql('SELECT 1; DROP SCHEMA pglab_probe CASCADE'))).toBe(false);
    expect(replayable(psql('select txid_current()'))).toBe(false);
  });
});
