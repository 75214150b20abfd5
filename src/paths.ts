/**
 * Where the checkout is: the same code runs from src/ (tests) and from dist/src/ (the CLI), so the
 * project root is found by walking up to package.json rather than by a fixed number of `..`.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'labs'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`pglab: no project root above ${from}`);
  }
}

export const PROJECT_ROOT = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));
/** labs/<id>/: a lab's manifest, solutions and its own checks. */
export const LABS_DIR = path.join(PROJECT_ROOT, 'labs');
/** exercises/<id>/<lang>/: the text students read. */
export const EXERCISES_DIR = path.join(PROJECT_ROOT, 'exercises');
/** lab's own caches (plans, identity hashes): PGLAB_CACHE_DIR, else $XDG_CACHE_HOME/pglab, else ~/.cache/pglab. */
export const userCacheDir = () => process.env.PGLAB_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'pglab');
