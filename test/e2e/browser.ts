/** Headless Chromium for e2e tests, driven through the DevTools protocol (a WebSocket and JSON, no puppeteer). */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

/** The flags this machine's closed network needs (no background connections), and a fresh profile. */
export const chromeFlags = (dir = os.tmpdir()) => ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', `--user-data-dir=${mkdtempSync(path.join(dir, 'chr-'))}`];

export interface BrowserPage {
  evaluate(expression: string): Promise<unknown>;
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): void;
}

export async function openPage(url: string): Promise<BrowserPage> {
  const WS = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket ?? ((await import('undici')) as unknown as { WebSocket: typeof WebSocket }).WebSocket;
  const chrome = spawn(CHROMIUM!, [...chromeFlags(), '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', '--window-size=1300,1000', 'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let err = '';
    chrome.stderr!.on('data', (d) => {
      err += d;
      const m = /DevTools listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(err);
      if (m) resolve(m[1]);
    });
    chrome.on('exit', (code) => reject(new Error(`chromium exited ${code}: ${err}`)));
  });
  const ws = new WS(endpoint);
  await new Promise((resolve) => ws.addEventListener('open', resolve, { once: true }));
  let id = 0;
  const pending = new Map<number, (r: { result?: Record<string, unknown>; error?: unknown }) => void>();
  ws.addEventListener('message', (m: MessageEvent) => {
    const msg = JSON.parse(String(m.data));
    if (msg.id && pending.has(msg.id)) pending.get(msg.id)!(msg);
  });
  const raw = (method: string, params: Record<string, unknown> = {}, sessionId?: string) => new Promise<Record<string, unknown>>((resolve, reject) => {
    const n = ++id;
    pending.set(n, (r) => (r.error ? reject(new Error(JSON.stringify(r.error))) : resolve(r.result ?? {})));
    ws.send(JSON.stringify({ id: n, method, params, ...(sessionId ? { sessionId } : {}) }));
  });
  const { targetId } = await raw('Target.createTarget', { url });
  const { sessionId } = await raw('Target.attachToTarget', { targetId, flatten: true });
  const send = (method: string, params: Record<string, unknown> = {}) => raw(method, params, String(sessionId));
  return {
    send,
    evaluate: async (expression) => ((await send('Runtime.evaluate', { expression, returnByValue: true })).result as { value?: unknown })?.value,
    close: () => {
      ws.close();
      chrome.kill('SIGKILL');
    },
  };
}

/** Types text into the focused element, then Enter, as a person would (key events, not a value set). */
export async function typeLine(page: BrowserPage, text: string): Promise<void> {
  await page.send('Input.insertText', { text });
  for (const type of ['keyDown', 'keyUp']) await page.send('Input.dispatchKeyEvent', { type, key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13, ...(type === 'keyDown' ? { text: '\r' } : {}) });
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
