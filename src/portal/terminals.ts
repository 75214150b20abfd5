/**
 * The portal's terminals: each is a TTY `docker exec` into one server of one env, owned by that env's
 * link. A dropped WebSocket does not end the shell: the terminal waits `graceMs` for the same page to
 * come back (its id is kept by the page), then replays what it printed meanwhile (the last 64 KiB).
 * Idle terminals (no keystroke for `idleMs`) are closed with a message.
 */
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { openTty, type TtySession } from '../docker/tty.js';

export const SCROLLBACK_CHARS = 64 * 1024;

/** What the portal needs of a WebSocket (the `ws` library's, or a test's). */
export interface TerminalClient {
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface TerminalLimits {
  /** Close a terminal after this long without a keystroke. */
  idleMs: number;
  /** Keep a terminal whose page went away this long, for the page to come back. */
  graceMs: number;
  /** Terminals open at once per env (all its servers and users). */
  perEnv: number;
}

export type CloseReason = 'idle' | 'gone' | 'ended' | 'shutdown';

export type ServerMessage =
  | { type: 'ready'; id: string; replay: string }
  | { type: 'output'; data: string }
  | { type: 'closed'; reason: CloseReason; message: string }
  | { type: 'error'; message: string };

export class Terminal {
  readonly id = randomBytes(16).toString('base64url');
  private scrollback = '';
  private client?: TerminalClient;
  lastInput = Date.now();
  detachedAt?: number = Date.now();
  closed = false;

  constructor(
    readonly env: string,
    readonly role: string,
    readonly user: string,
    private tty: TtySession,
    private onEnd: (t: Terminal, reason: CloseReason) => void,
  ) {
    const decoder = new StringDecoder('utf8');
    tty.stream.on('data', (chunk: Buffer) => this.output(decoder.write(chunk)));
    tty.stream.on('end', () => this.onEnd(this, 'ended'));
    tty.stream.on('close', () => this.onEnd(this, 'ended'));
    tty.stream.on('error', () => this.onEnd(this, 'ended'));
  }

  private output(data: string): void {
    if (!data) return;
    this.scrollback = (this.scrollback + data).slice(-SCROLLBACK_CHARS);
    this.send({ type: 'output', data });
  }

  private send(msg: ServerMessage): void {
    try {
      this.client?.send(JSON.stringify(msg));
    } catch {
      /* the socket is closing; detach() follows */
    }
  }

  /** A page (new or back after a drop) takes the terminal; an older page holding it is let go. */
  attach(client: TerminalClient): void {
    if (this.client && this.client !== client) this.client.close(4001, 'taken');
    this.client = client;
    this.detachedAt = undefined;
    this.send({ type: 'ready', id: this.id, replay: this.scrollback });
  }

  detach(client: TerminalClient): void {
    if (this.client !== client) return;
    this.client = undefined;
    this.detachedAt = Date.now();
  }

  input(data: string): void {
    if (this.closed) return;
    this.lastInput = Date.now();
    this.tty.stream.write(data);
  }

  resize(cols: number, rows: number): Promise<void> {
    return this.tty.resize(cols, rows);
  }

  /** Ends the shell (SIGHUP through the closed TTY) and tells the page why, in words. */
  close(reason: CloseReason, message: string): void {
    if (this.closed) return;
    this.closed = true;
    this.send({ type: 'closed', reason, message });
    this.client?.close(4000, reason);
    this.client = undefined;
    this.tty.stream.destroy();
  }
}

export class Terminals {
  private all = new Map<string, Terminal>();
  private sweeper: NodeJS.Timeout;

  constructor(
    private limits: TerminalLimits,
    private message: (reason: CloseReason) => string,
    private onClose?: (t: Terminal, reason: CloseReason) => void,
    /** How a shell is opened: a TTY `docker exec` (tests hand in a fake). */
    private openShell: (container: string, user: 'root' | 'postgres', size: { cols: number; rows: number }) => Promise<TtySession> = (c, user, size) => openTty(c, { user, argv: ['bash', '-l'], ...size }),
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(10_000, Math.max(1000, Math.floor(limits.idleMs / 4))));
    this.sweeper.unref();
  }

  countFor(env: string): number {
    let n = 0;
    for (const t of this.all.values()) if (t.env === env) n++;
    return n;
  }

  /** A terminal of this env only: an id from another env's page is as good as no id. */
  find(env: string, id: string | null | undefined): Terminal | undefined {
    const t = id ? this.all.get(id) : undefined;
    return t && t.env === env && !t.closed ? t : undefined;
  }

  async open(env: string, role: string, user: 'root' | 'postgres', container: string, size: { cols: number; rows: number }): Promise<Terminal | 'limit'> {
    if (this.countFor(env) >= this.limits.perEnv) return 'limit';
    const tty = await this.openShell(container, user, size);
    const term = new Terminal(env, role, user, tty, (t, reason) => this.end(t, reason));
    this.all.set(term.id, term);
    return term;
  }

  private end(t: Terminal, reason: CloseReason): void {
    if (!this.all.delete(t.id)) return;
    t.close(reason, this.message(reason));
    this.onClose?.(t, reason);
  }

  sweep(now = Date.now()): void {
    for (const t of [...this.all.values()]) {
      if (now - t.lastInput > this.limits.idleMs) this.end(t, 'idle');
      else if (t.detachedAt !== undefined && now - t.detachedAt > this.limits.graceMs) this.end(t, 'gone');
    }
  }

  closeAll(): void {
    clearInterval(this.sweeper);
    for (const t of [...this.all.values()]) this.end(t, 'shutdown');
  }
}
