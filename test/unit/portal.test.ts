/** The class portal's pieces that need no Docker: secrets, Host/Origin, limits, terminal lifetimes. */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { allowedHosts, hostAllowed, originAllowed, RateLimiter } from '../../src/portal/guard.js';
import { ClassLinks, SECRET_PATTERN } from '../../src/portal/links.js';
import { Terminals, type TerminalClient } from '../../src/portal/terminals.js';
import { portalOrigin } from '../../src/portal/server.js';
import type { TtySession } from '../../src/docker/tty.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'pglab-portal-'));

describe('portal links', () => {
  it('gives each env its own secret, stable across processes, kept in a 0600 file', () => {
    const dir = tmp();
    const a = new ClassLinks('c1', dir);
    const s1 = a.studentSecret('alumno01');
    const s2 = a.studentSecret('alumno02');
    expect(s1).toMatch(SECRET_PATTERN);
    expect(s1).not.toBe(s2);
    expect(statSync(a.file).mode & 0o777).toBe(0o600);
    const again = new ClassLinks('c1', dir);
    expect(again.studentSecret('alumno01')).toBe(s1);
    expect(again.envFor(s1, ['alumno01', 'alumno02'])).toBe('alumno01');
    expect(again.envFor(s2, ['alumno01', 'alumno02'])).toBe('alumno02');
    // The key is in the file, the secrets are not (they are derived).
    expect(readFileSync(a.file, 'utf8')).not.toContain(s1);
  });

  it('does not open an env outside the class, another class, or with a tampered secret', () => {
    const dir = tmp();
    const c1 = new ClassLinks('c1', dir);
    const c2 = new ClassLinks('c2', dir);
    const s = c1.studentSecret('alumno01');
    expect(c1.envFor(s, ['alumno02'])).toBeUndefined();
    expect(c2.envFor(s, ['alumno01'])).toBeUndefined();
    const flipped = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    expect(c1.envFor(flipped, ['alumno01'])).toBeUndefined();
    expect(c1.envFor(`${s}x`, ['alumno01'])).toBeUndefined();
    expect(c1.envFor('../../etc/passwd', ['alumno01'])).toBeUndefined();
    // A student's secret is not the instructor's, and the other way round.
    expect(c1.isInstructor(s)).toBe(false);
    expect(c1.envFor(c1.instructorSecret(), ['alumno01'])).toBeUndefined();
  });

  it('rotating revokes the old link at once, also for a portal already running (another process)', () => {
    const dir = tmp();
    const serving = new ClassLinks('c1', dir);
    const old = serving.studentSecret('alumno01');
    const other = serving.studentSecret('alumno02');
    const fresh = new ClassLinks('c1', dir).rotate('alumno01');
    expect(fresh).not.toBe(old);
    expect(serving.envFor(old, ['alumno01', 'alumno02'])).toBeUndefined();
    expect(serving.envFor(fresh, ['alumno01', 'alumno02'])).toBe('alumno01');
    expect(serving.envFor(other, ['alumno01', 'alumno02'])).toBe('alumno02');
  });
});

describe('portal Host and Origin', () => {
  it('answers on loopback names only, unless public hosts are given', () => {
    const hosts = allowedHosts('127.0.0.1', 8470, []);
    expect(hostAllowed('127.0.0.1:8470', hosts)).toBe(true);
    expect(hostAllowed('localhost:8470', hosts)).toBe(true);
    expect(hostAllowed('evil.example:8470', hosts)).toBe(false);
    expect(hostAllowed('127.0.0.1:8471', hosts)).toBe(false);
    expect(hostAllowed(undefined, hosts)).toBe(false);
    const pub = allowedHosts('0.0.0.0', 443, ['lab.unlu.edu.ar']);
    expect(hostAllowed('lab.unlu.edu.ar:443', pub)).toBe(true);
    expect(hostAllowed('0.0.0.0:443', pub)).toBe(false);
  });

  it('takes an Origin only from this server, with its scheme', () => {
    const hosts = allowedHosts('127.0.0.1', 8470, []);
    expect(originAllowed('http://127.0.0.1:8470', 'http', hosts)).toBe(true);
    expect(originAllowed('http://localhost:8470', 'http', hosts)).toBe(true);
    expect(originAllowed('https://127.0.0.1:8470', 'http', hosts)).toBe(false);
    expect(originAllowed('http://evil.example:8470', 'http', hosts)).toBe(false);
    expect(originAllowed('null', 'http', hosts)).toBe(false);
    expect(originAllowed(undefined, 'http', hosts)).toBe(false);
    const pub = allowedHosts('0.0.0.0', 443, ['lab.unlu.edu.ar']);
    expect(originAllowed('https://lab.unlu.edu.ar', 'https', pub)).toBe(true);
  });

  it('shows the address people use', () => {
    expect(portalOrigin({ listen: '127.0.0.1' }, 8470)).toBe('http://127.0.0.1:8470');
    expect(portalOrigin({ listen: '0.0.0.0', tls: { cert: 'c', key: 'k' }, publicHosts: ['lab.unlu.edu.ar'] }, 8443)).toBe('https://lab.unlu.edu.ar:8443');
  });

  it('limits requests per key with a token bucket', () => {
    const rl = new RateLimiter(1, 3);
    expect([rl.take('a', 0), rl.take('a', 0), rl.take('a', 0), rl.take('a', 0)]).toEqual([true, true, true, false]);
    expect(rl.take('b', 0)).toBe(true);
    expect(rl.take('a', 1000)).toBe(true);
  });
});

/** A shell that echoes what it is sent. */
function fakeTty(): TtySession & { written: string[] } {
  const stream = new PassThrough();
  const written: string[] = [];
  const duplex = Object.assign(stream, {});
  const origWrite = stream.write.bind(stream);
  (duplex as unknown as { write: (d: string) => boolean }).write = (d: string) => { written.push(d); return origWrite(d); };
  return { stream: duplex, written, resize: async () => {}, exitCode: async () => undefined };
}

function client(): TerminalClient & { got: { type: string; [k: string]: unknown }[]; closed?: number } {
  const c = {
    got: [] as { type: string }[], closed: undefined as number | undefined,
    send: (d: string) => c.got.push(JSON.parse(d)), close: (code?: number) => { c.closed = code; },
  };
  return c;
}

describe('portal terminals', () => {
  const limits = { idleMs: 60_000, graceMs: 10_000, perEnv: 2 };
  const words = (r: string) => `closed:${r}`;

  it('keeps a shell for a page that comes back, replaying what it printed meanwhile', async () => {
    const terms = new Terminals(limits, words, undefined, async () => fakeTty());
    const t = await terms.open('e1', 'maestro', 'root', 'c', { cols: 80, rows: 24 });
    if (t === 'limit') throw new Error('limit');
    const first = client();
    t.attach(first);
    t.input('echo uno\r');
    await new Promise((r) => setImmediate(r));
    t.detach(first);
    expect(terms.find('e1', t.id)).toBe(t);
    // Another env's page cannot take it, even with its id.
    expect(terms.find('e2', t.id)).toBeUndefined();
    const back = client();
    terms.find('e1', t.id)!.attach(back);
    expect(back.got[0]).toMatchObject({ type: 'ready', id: t.id });
    expect(String(back.got[0].replay)).toContain('echo uno');
    terms.closeAll();
  });

  it('closes idle terminals and abandoned ones, saying why; limits terminals per env', async () => {
    const closed: string[] = [];
    const terms = new Terminals(limits, words, (_t, r) => closed.push(r), async () => fakeTty());
    const a = await terms.open('e1', 'maestro', 'root', 'c', { cols: 80, rows: 24 });
    const b = await terms.open('e1', 'esclavo', 'postgres', 'c', { cols: 80, rows: 24 });
    expect(await terms.open('e1', 'maestro', 'postgres', 'c', { cols: 80, rows: 24 })).toBe('limit');
    expect(await terms.open('e2', 'maestro', 'root', 'c', { cols: 80, rows: 24 })).not.toBe('limit');
    if (a === 'limit' || b === 'limit') throw new Error('limit');
    const page = client();
    a.attach(page);
    b.attach(client());
    const now = Date.now();
    b.lastInput = now;
    terms.sweep(now + limits.idleMs + 1);
    expect(page.got.at(-1)).toMatchObject({ type: 'closed', reason: 'idle', message: 'closed:idle' });
    expect(page.closed).toBe(4000);
    expect(terms.find('e1', a.id)).toBeUndefined();
    // A page that went away and did not come back within the grace time.
    const c = await terms.open('e3', 'maestro', 'root', 'c', { cols: 80, rows: 24 });
    if (c === 'limit') throw new Error('limit');
    c.lastInput = now + limits.idleMs;
    terms.sweep(now + limits.idleMs + limits.graceMs + 10);
    expect(terms.find('e3', c.id)).toBeUndefined();
    expect(closed).toContain('gone');
    terms.closeAll();
  });
});
