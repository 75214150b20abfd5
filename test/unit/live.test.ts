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
import { startWeb, type WebServer } from '../../src/live/server.js';
import { parseBatch, replayable, splitSections } from '../../src/pg/probe-transport.js';
import { boardTable, chartSvg, checklistHtml, page } from '../../src/render/live-html.js';

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
    const board = boardTable(['step-1'], [{ env: 'alumno01', cells: { 'step-1': 'pass' }, score: 6, maxScore: 54, error: HOSTILE }], 'tok&"<');
    expect(board).toContain(ESCAPED);
    expect(board).not.toContain('<script');
    expect(board).toContain('href="/env/alumno01?token=tok%26%22%3C"');
    const chart = chartSvg([{ at: 1, waiting: 0, lastArchived: 'A' }, { at: 60_000, waiting: 1, lagBytes: 10, lastArchived: HOSTILE }], 10);
    expect(chart).not.toContain('<script');
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
    expect((await get(web.port, '/?token=T0ken-abc', {}, 'POST')).status).toBe(405);
    expect((await get(web.port, '/run?token=T0ken-abc&cmd=id')).status).toBe(404);
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
