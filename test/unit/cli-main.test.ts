/** Issue 9, item 10: what `lab` prints for unexpected errors (with and without --debug) and for unknown languages. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// Any command that reaches Docker fails with a plain Error, as an unexpected bug would.
vi.mock('../../src/env/env.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/env/env.js')>()),
  loadEnv: vi.fn(async () => { throw new Error('algo se rompió'); }),
}));

const { main } = await import('../../src/cli/main.js');
const { setLang } = await import('../../src/i18n/index.js');

let printed: string[] = [];
beforeEach(() => {
  printed = [];
  setLang('es');
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => { printed.push(args.map((a) => (a instanceof Error ? a.stack : String(a))).join(' ')); });
  vi.spyOn(console, 'log').mockImplementation(() => {});
  process.exitCode = undefined;
});
afterEach(() => {
  vi.restoreAllMocks();
  delete process.env.LAB_LANG;
  process.exitCode = undefined;
});

describe('lab main', () => {
  it('without --debug: one line that says how to see more, no stack', async () => {
    await main(['node', 'lab', 'status', '--env', 'h9x']);
    const out = printed.join('\n');
    expect(out).toBe('Error inesperado: algo se rompió\n(ejecutá con --debug para ver el detalle)');
    expect(process.exitCode).toBe(2);
  });

  it('with --debug: the detail and the stack, and it does not end asking for --debug', async () => {
    await main(['node', 'lab', '--debug', 'status', '--env', 'h9x']);
    const out = printed.join('\n');
    expect(out).toMatch(/^Error inesperado: algo se rompió\n/);
    expect(out).toMatch(/\n\s+at /); // the stack is there
    expect(out).not.toMatch(/--debug/);
    expect(process.exitCode).toBe(2);
  });

  it('LAB_LANG=fr and --lang fr give the same answer: exit 2 and the message', async () => {
    await main(['node', 'lab', '--lang', 'fr', 'list']);
    expect(process.exitCode).toBe(2);
    expect(printed.join('\n')).toBe('Idioma desconocido "fr" (es, en).');
    printed = [];
    process.exitCode = undefined;
    process.env.LAB_LANG = 'fr';
    await main(['node', 'lab', 'list']);
    expect(process.exitCode).toBe(2);
    expect(printed.join('\n')).toMatch(/^Idioma desconocido en LAB_LANG: "fr" \(es, en\)/);
  });

  it('--lang wins over LAB_LANG, and locale forms of es/en are accepted', async () => {
    process.env.LAB_LANG = 'fr';
    await main(['node', 'lab', '--lang', 'en', 'status', '--env', 'h9x']);
    expect(printed.join('\n')).toMatch(/^Unexpected error: algo se rompió/);
    printed = [];
    process.env.LAB_LANG = 'es_AR.UTF-8';
    await main(['node', 'lab', 'status', '--env', 'h9x']);
    expect(printed.join('\n')).toMatch(/^Error inesperado/);
  });

  it('--user other than root/postgres is a clear message, not an "unexpected error"', async () => {
    await main(['node', 'lab', 'exec', 'maestro', '--user', 'admin', '--env', 'h9x', '--', 'true']);
    expect(printed.join('\n')).toBe('Usuario desconocido "admin": usá --user root o --user postgres.');
    expect(process.exitCode).toBe(2);
  });
});
