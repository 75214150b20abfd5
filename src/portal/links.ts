/**
 * The portal's secrets: one personal link per student env and one for the instructor.
 *
 * A secret is HMAC(class key, role + class + env + generation), so nothing but a 32-byte key and a
 * generation counter per env is stored, links can be printed again at any time, and rotating an env's
 * link (generation + 1) revokes the old one. The key file lives on the instructor's machine
 * (PGLAB_STATE_DIR, else $XDG_STATE_HOME/pglab, else ~/.local/state/pglab), mode 0600: it is never in a
 * container, so a student who is root in their env cannot read another student's link.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** 24 bytes of HMAC, base64url: 32 characters, 192 bits. */
const SECRET_CHARS = 32;
export const SECRET_PATTERN = /^[A-Za-z0-9_-]{32}$/;

export function stateDir(): string {
  return process.env.PGLAB_STATE_DIR ?? path.join(process.env.XDG_STATE_HOME || path.join(homedir(), '.local', 'state'), 'pglab');
}

interface LinkFile {
  format: 1;
  key: string;
  /** Generation of each env's link (absent: 0); `instructor` is the instructor's. */
  generations: Record<string, number>;
  /** Where `lab class serve` last listened, so `lab class links` prints whole URLs. */
  origin?: string;
}

const INSTRUCTOR = '\u0000instructor';

export class ClassLinks {
  private data?: LinkFile;
  private mtimeMs = -1;
  private bySecret = new Map<string, string>();

  constructor(readonly className: string, private dir = stateDir()) {}

  get file(): string {
    return path.join(this.dir, 'portal', `${this.className}.json`);
  }

  /** The env a secret opens, or undefined (compared in constant time against every env's secret). */
  envFor(secret: string, envs: readonly string[]): string | undefined {
    if (!SECRET_PATTERN.test(secret)) return undefined;
    this.load();
    let found: string | undefined;
    for (const env of envs) if (sameSecret(secret, this.secret(env))) found = env;
    return found;
  }

  isInstructor(secret: string): boolean {
    return SECRET_PATTERN.test(secret) && sameSecret(secret, this.instructorSecret());
  }

  studentSecret(env: string): string {
    this.load();
    return this.secret(env);
  }

  instructorSecret(): string {
    this.load();
    return this.secret(INSTRUCTOR);
  }

  /** The portal's address as `class serve` last announced it (undefined before the first serve). */
  origin(): string | undefined {
    this.load();
    return this.data!.origin;
  }

  setOrigin(origin: string): void {
    this.load();
    if (this.data!.origin !== origin) this.save({ ...this.data!, origin });
  }

  /** A new link for this env (or the instructor's); the old one stops working at once, also in a running `class serve`. */
  rotate(env: string): string {
    this.load();
    const data = this.data!;
    data.generations[env] = (data.generations[env] ?? 0) + 1;
    this.save(data);
    return this.secret(env);
  }

  rotateInstructor(): string {
    return this.rotate(INSTRUCTOR);
  }

  private secret(env: string): string {
    const cached = [...this.bySecret.entries()].find(([, e]) => e === env)?.[0];
    if (cached) return cached;
    const gen = this.data!.generations[env] ?? 0;
    const s = createHmac('sha256', Buffer.from(this.data!.key, 'base64')).update(`pglab-portal\u0000${this.className}\u0000${env}\u0000${gen}`).digest('base64url').slice(0, SECRET_CHARS);
    this.bySecret.set(s, env);
    return s;
  }

  /** (Re)reads the file when another process (`lab class links --rotate`) changed it; makes it the first time. */
  private load(): void {
    let mtime = -1;
    try {
      mtime = statSync(this.file).mtimeMs;
    } catch {
      /* not made yet */
    }
    if (this.data && mtime === this.mtimeMs) return;
    if (mtime < 0) {
      this.save({ format: 1, key: randomBytes(32).toString('base64'), generations: {} });
      return;
    }
    const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as LinkFile;
    if (parsed.format !== 1 || typeof parsed.key !== 'string' || typeof parsed.generations !== 'object') throw new Error(`${this.file}: not a pglab portal file`);
    this.data = parsed;
    this.mtimeMs = mtime;
    this.bySecret.clear();
  }

  private save(data: LinkFile): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.part`;
    writeFileSync(tmp, JSON.stringify(data, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
    this.data = data;
    this.mtimeMs = statSync(this.file).mtimeMs;
    this.bySecret.clear();
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
