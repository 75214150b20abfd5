/**
 * What earlier identity probes hashed (see observer/server-identity.pl), kept on the host in the
 * user's cache, out of the students' reach: the image's files by image id and path, a server's files
 * by container and (device, inode, size, mtime, ctime). Losing it costs one slower probe.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { userCacheDir } from '../paths.js';

interface Store { images: Record<string, Record<string, string>>; servers: Record<string, { at: number; hashes: Record<string, string> }> }

const MAX_SERVERS = 400;
const MAX_HASHES = 400;
const file = () => path.join(userCacheDir(), 'identity-hashes.json');
const HEX = /^[0-9a-f]{64}$/;

function read(): Store {
  try {
    const data = JSON.parse(readFileSync(file(), 'utf8')) as Partial<Store>;
    return { images: data.images && typeof data.images === 'object' ? data.images : {}, servers: data.servers && typeof data.servers === 'object' ? data.servers : {} };
  } catch {
    return { images: {}, servers: {} };
  }
}

/** The known-hashes file the probe reads: `own\t<path>\t<sha>` and `theirs\t<key>\t<sha>` lines. */
export function knownHashes(imageId: string, server: string): string {
  const store = read();
  const own = Object.entries(store.images[imageId] ?? {}).map(([p, h]) => `own\t${p}\t${h}`);
  const theirs = Object.entries(store.servers[server]?.hashes ?? {}).map(([k, h]) => `theirs\t${k}\t${h}`);
  return [...own, ...theirs].filter((l) => HEX.test(l.split('\t')[2] ?? '')).join('\n') + '\n';
}

/** Keeps the `hash` lines a probe printed (its output is bounded; a malformed line is ignored). */
export function rememberHashes(imageId: string, server: string, stdout: string): void {
  const lines = stdout.split('\n').map((l) => l.split('\t')).filter((f) => f[0] === 'hash' && f.length === 4 && HEX.test(f[3]));
  if (!lines.length) return;
  const store = read();
  const images = (store.images[imageId] ??= {});
  const entry = (store.servers[server] ??= { at: 0, hashes: {} });
  entry.at = Date.now();
  for (const [, kind, key, hex] of lines) {
    if (kind === 'own' && key.startsWith('/')) images[key] = hex;
    else if (kind === 'theirs' && /^[\d.:]+$/.test(key)) entry.hashes[key] = hex;
  }
  entry.hashes = Object.fromEntries(Object.entries(entry.hashes).slice(-MAX_HASHES));
  store.servers = Object.fromEntries(Object.entries(store.servers).sort(([, a], [, b]) => a.at - b.at).slice(-MAX_SERVERS));
  store.images = Object.fromEntries(Object.entries(store.images).slice(-20));
  try {
    mkdirSync(path.dirname(file()), { recursive: true });
    const tmp = `${file()}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(store));
    renameSync(tmp, file());
  } catch {
    // A cache: a write that fails costs the next probe its hashing, nothing else.
  }
}
