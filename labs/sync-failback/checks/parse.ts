/**
 * Pure parsing for the sync-failback graders: synchronous_standby_names as the server reads it, and
 * the application_name inside a primary_conninfo string. No I/O; unit-tested in
 * test/unit/sync-failback-parse.test.ts.
 */

export interface SyncNames {
  /** priority: the first `num` connected names are synchronous (the others "potential"); quorum: any `num` of them. */
  method: 'priority' | 'quorum';
  num: number;
  /** Names as the server compares them (quotes removed; compared case-insensitively). */
  names: string[];
}

/**
 * Parses synchronous_standby_names. `firstAny` says whether the version reads `FIRST n (…)` /
 * `ANY n (…)` / `n (…)` (10+; 9.6 has `n (…)`), otherwise only a plain list (9.1: priority, one
 * synchronous standby). Returns undefined for an empty value, null when it cannot be parsed.
 */
export function parseSyncNames(value: string, firstAny: boolean): SyncNames | undefined | null {
  const text = value.trim();
  if (!text) return undefined;
  if (firstAny) {
    const m = /^(?:(first|any)\s+)?(\d+)\s*\((.*)\)$/is.exec(text);
    if (m) {
      const names = splitNames(m[3]);
      if (!names || !names.length) return null;
      return { method: m[1]?.toLowerCase() === 'any' ? 'quorum' : 'priority', num: Number(m[2]), names };
    }
  }
  const names = splitNames(text);
  return names && names.length ? { method: 'priority', num: 1, names } : null;
}

/** A comma list of names; a double-quoted name keeps case and may hold commas, spaces, slashes. */
function splitNames(text: string): string[] | null {
  const names: string[] = [];
  let i = 0;
  const s = text;
  for (;;) {
    while (i < s.length && /\s/.test(s[i])) i++;
    let name = '';
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length) return null;
        if (s[i] === '"') {
          if (s[i + 1] === '"') { name += '"'; i += 2; continue; }
          i++;
          break;
        }
        name += s[i++];
      }
    } else {
      while (i < s.length && s[i] !== ',' && !/\s/.test(s[i])) name += s[i++];
      if (!name) return null;
    }
    names.push(name);
    while (i < s.length && /\s/.test(s[i])) i++;
    if (i >= s.length) return names;
    if (s[i] !== ',') return null;
    i++;
  }
}

/** Does a standby reporting `applicationName` match one of the names (`*` matches any)? */
export function listed(sync: SyncNames, applicationName: string): boolean {
  return sync.names.some((n) => n === '*' || n.toLowerCase() === applicationName.toLowerCase());
}

/**
 * application_name inside a libpq connection string, in key=value form
 * (`host=10.0.0.1 user=postgres application_name='maestro'`) or URI form
 * (`postgresql://…?application_name=maestro`). Undefined when it does not set one.
 */
export function conninfoApplicationName(conninfo: string): string | undefined {
  const text = conninfo.trim();
  if (/^postgres(ql)?:\/\//i.test(text)) {
    const q = text.indexOf('?');
    if (q < 0) return undefined;
    for (const pair of text.slice(q + 1).split('&')) {
      const [k, v = ''] = pair.split('=');
      if (k === 'application_name') return decodeURIComponent(v) || undefined;
    }
    return undefined;
  }
  let value: string | undefined;
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i++;
    let key = '';
    while (i < text.length && /[A-Za-z0-9_]/.test(text[i])) key += text[i++];
    while (i < text.length && /\s/.test(text[i])) i++;
    if (!key || text[i] !== '=') return value;
    i++;
    while (i < text.length && /\s/.test(text[i])) i++;
    let v = '';
    if (text[i] === "'") {
      i++;
      while (i < text.length && text[i] !== "'") {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        v += text[i++];
      }
      i++;
    } else {
      while (i < text.length && !/\s/.test(text[i])) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        v += text[i++];
      }
    }
    if (key === 'application_name') value = v || undefined;
  }
  return value;
}
