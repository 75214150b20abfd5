/**
 * Is what answers on a server's socket the image's PostgreSQL? The student is root in maestro and
 * esclavo: a fake server (a script speaking the protocol), a patched postgres or an injected
 * library would answer every live query with whatever earns points. observer/server-identity.pl
 * runs in a probe container of the env's image joined to the server's pid namespace, and reports
 * each process listening on a `.s.PGSQL.<port>` socket; this module turns that into a verdict.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ProbeFile } from '../docker/probe-container.js';
import { PROJECT_ROOT } from '../paths.js';

export interface SocketListener {
  pid: number;
  sockets: string[];
  /** The process runs the image's postgres executable (same sha256). */
  exeMatches: boolean;
  /** LD_PRELOAD, LD_LIBRARY_PATH or LD_AUDIT in its environment. */
  preload: boolean;
  /** Executable mappings that are not the image's unmodified file at that path. */
  foreign: string[];
  exe: string;
}

/**
 * genuine: every listener is the image's PostgreSQL; replaced: one is not; none: nothing listens
 * (the server is down, and the live checks say so); unknown: the probe could not run (no verdict).
 */
export interface ServerIdentity {
  verdict: 'genuine' | 'replaced' | 'none' | 'unknown';
  listeners: SocketListener[];
}

export function parseIdentity(stdout: string): SocketListener[] {
  return stdout.split('\n').map((line) => line.split('\t')).filter((f) => f[0] === 'listener' && f.length >= 7).map((f) => ({
    pid: Number(f[1]),
    sockets: f[2].split(',').filter(Boolean),
    exeMatches: f[3] === '1',
    preload: f[4] === '1',
    foreign: f[5].split(',').filter(Boolean),
    exe: f[6],
  }));
}

export function identityOf(exitCode: number, stdout: string): ServerIdentity {
  if (exitCode !== 0 || /^gone\t/m.test(stdout)) return { verdict: 'unknown', listeners: [] };
  const listeners = parseIdentity(stdout);
  if (!listeners.length) return { verdict: 'none', listeners };
  const genuine = listeners.every((l) => l.exeMatches && !l.preload && !l.foreign.length);
  return { verdict: genuine ? 'genuine' : 'replaced', listeners };
}

/** What is wrong with the first listener that is not the image's PostgreSQL, for evidence and hints. */
export function impostorDetail(identity: ServerIdentity): string {
  const bad = identity.listeners.find((l) => !l.exeMatches || l.preload || l.foreign.length);
  if (!bad) return '';
  const what = [
    !bad.exeMatches ? `${bad.exe} (pid ${bad.pid})` : '',
    bad.preload ? 'LD_PRELOAD/LD_LIBRARY_PATH' : '',
    bad.foreign.filter((f) => f !== bad.exe).slice(0, 3).join(', '),
  ].filter(Boolean);
  return what.join('; ');
}

/**
 * One probe's output about several servers, cut at its `server <pid>` lines: the text about each
 * pid asked for (its hash lines included). A pid the output does not name is missing from the map.
 */
export function splitByServer(stdout: string): Map<number, string> {
  const lines = new Map<number, string[]>();
  let current: string[] | undefined;
  for (const line of stdout.split('\n')) {
    const server = /^server\t(\d+)$/.exec(line);
    if (server) lines.set(Number(server[1]), (current = []));
    else current?.push(line);
  }
  return new Map([...lines].map(([pid, text]) => [pid, text.join('\n')]));
}

let script: string | undefined;
/** The probe's script, LF whatever the checkout (as the observer's). */
export function identityScript(): string {
  return (script ??= readFileSync(path.join(PROJECT_ROOT, 'observer', 'server-identity.pl'), 'utf8').replace(/\r\n/g, '\n'));
}

/** The script as a probe container's file. */
export function identityScriptFile(): ProbeFile {
  return { name: 'server-identity.pl', content: Buffer.from(identityScript()), mode: 0o644 };
}
