/**
 * The floor plan holds: no import circle in src/, and no arrow that runs back up the layers
 * (a lower room never imports a higher one). Labs build on the lab-author API only. Static
 * `import … from` / `export … from` of relative paths, type-only ones included: a type that
 * points up is a dependency that points up.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Rooms from the bottom up; a file may import its own room and any room below. Files straight in
 * src/ and src/i18n are the ground floor. pg/ holds the version profile and parsers (a floor above
 * the Docker adapter); the probes (facts over Docker) sit above the image chain they read from.
 */
const LAYERS: [string, RegExp][] = [
  // env/naming.ts: names only (of Docker objects and roles), no Docker and no state: any room may derive a name.
  ['base', /^src\/([^/]+\.ts|i18n\/|env\/naming\.ts)/],
  ['docker', /^src\/docker\//],
  ['pg', /^src\/pg\/(?!probes|probe-transport|plan-cache)/],
  ['images', /^src\/images\//],
  // The env's observer sidecar: made with the env (env/ imports it), read by the checks.
  ['observer', /^src\/observer\//],
  ['probes', /^src\/pg\/(probes|probe-transport|plan-cache)\.ts$/],
  // Envs on the nodes of a Docker Swarm: what env/ asks about nodes and placement.
  ['swarm', /^src\/swarm\//],
  ['env', /^src\/env\/(?!naming\.ts)/],
  ['checks', /^src\/checks\//],
  ['lab', /^src\/lab\//],
  ['render', /^src\/render\//],
  ['report', /^src\/report\//],
  ['live', /^src\/(live|portal|handin)\//],
  ['cli', /^src\/cli\//],
];

function layerOf(file: string): number {
  const i = LAYERS.findIndex(([, re]) => re.test(file));
  if (i < 0) throw new Error(`${file}: in no layer of test/unit/imports.test.ts (add its folder)`);
  return i;
}

function tsFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((f) => {
    const rel = `${dir}/${f}`;
    if (statSync(path.join(ROOT, rel)).isDirectory()) return tsFiles(rel);
    return rel.endsWith('.ts') && !rel.endsWith('.d.ts') ? [rel] : [];
  });
}

/** Relative imports of a file, as paths from the repository root (.js → .ts). */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'/g)]
    .map((m) => path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1].replace(/\.js$/, '.ts'))));
}

/** Strongly connected groups of more than one file (Tarjan): each is an import circle. */
export function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(group.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

const src = tsFiles('src');
const graph = new Map(src.map((f) => [f, importsOf(f).filter((d) => d.startsWith('src/'))]));

describe('import graph of src/', () => {
  it('finds circles (the detector itself)', () => {
    expect(circles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
    expect(circles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });

  it('has no import circle', () => {
    expect(circles(graph)).toEqual([]);
  });

  it('has no arrow that runs back up a layer', () => {
    const up: string[] = [];
    for (const [file, deps] of graph) {
      for (const dep of deps) if (layerOf(dep) > layerOf(file)) up.push(`${file} → ${dep} (${LAYERS[layerOf(file)][0]} → ${LAYERS[layerOf(dep)][0]})`);
    }
    expect(up).toEqual([]);
  });

  it('never imports a lab: the engine finds labs by their manifest', () => {
    const all = src.flatMap((f) => importsOf(f).filter((d) => d.startsWith('labs/')).map((d) => `${f} → ${d}`));
    expect(all).toEqual([]);
  });
});

describe("labs' checks", () => {
  it('import only the lab-author API (src/checks), the PostgreSQL parsers and profile (src/pg), i18n and timeouts, and their own files', () => {
    const allowed = /^(src\/checks\/index\.ts|src\/pg\/(?!probe-transport|plan-cache)[^/]+\.ts|src\/i18n\/index\.ts|src\/timeouts\.ts)$/;
    const bad: string[] = [];
    for (const file of tsFiles('labs')) {
      const lab = file.split('/').slice(0, 2).join('/');
      for (const dep of importsOf(file)) if (!dep.startsWith(`${lab}/`) && !allowed.test(dep)) bad.push(`${file} → ${dep}`);
    }
    expect(bad).toEqual([]);
  });
});
