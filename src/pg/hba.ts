/**
 * pg_hba.conf parser and matcher, so a grader can tell *why* a standby cannot connect
 * (no `replication` line, wrong address, an earlier `reject`) without asking the server.
 * Pure: `@file` inclusions, role membership and DNS are not resolved (see matchHba).
 */

export interface HbaRule {
  line: number;
  type: string;
  /** Tokens as written; a quoted token keeps its double quotes (a quoted keyword is a plain name). */
  databases: string[];
  users: string[];
  /** Address column as written: CIDR, bare IP (then `netmask` is set), `all`, `samehost`, `samenet` or a host name. */
  address?: string;
  netmask?: string;
  method: string;
  raw: string;
}
export interface HbaError { line: number; raw: string; message: string }

const TYPES = new Set(['local', 'host', 'hostssl', 'hostnossl', 'hostgssenc', 'hostnogssenc']);
// Union over 9.1–17 (krb5 is 9.1-only, scram-sha-256 10+, oauth 18).
const METHODS = new Set(['trust', 'reject', 'md5', 'password', 'scram-sha-256', 'gss', 'sspi', 'krb5', 'ident', 'peer', 'pam', 'ldap', 'radius', 'cert', 'bsd', 'oauth']);

/** Splits a line into fields, each a comma list of tokens; `#` outside quotes starts a comment. */
function splitFields(s: string): string[][] | null {
  const fields: string[][] = [];
  let i = 0;
  const skipWs = () => { while (i < s.length && /\s/.test(s[i])) i++; };
  while (true) {
    skipWs();
    if (i >= s.length || s[i] === '#') return fields;
    const items: string[] = [];
    for (;;) {
      let item = '';
      let inQ = false;
      for (; i < s.length; i++) {
        const c = s[i];
        if (inQ) { item += c; if (c === '"') inQ = false; continue; }
        if (/\s/.test(c) || c === ',' || c === '#') break;
        if (c === '"') inQ = true;
        item += c;
      }
      if (inQ) return null;
      items.push(item);
      if (s[i] !== ',') break;
      i++;
      skipWs();
    }
    fields.push(items);
  }
}

/** IPv4 or IPv6 text to bytes (4 or 16), or null. */
function parseIp(text: string): number[] | null {
  const s = text.replace(/%.*$/, '');
  const v4 = (t: string) => {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(t);
    const b = m?.slice(1).map(Number);
    return b && b.every((x) => x <= 255) ? b : null;
  };
  if (!s.includes(':')) return v4(s);
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    const parts = h.split(':');
    for (const [k, p] of parts.entries()) {
      if (k === parts.length - 1 && p.includes('.')) {
        const b = v4(p);
        if (!b) return null;
        out.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  return [...head, ...Array<number>(fill).fill(0), ...tail].flatMap((g) => [g >> 8, g & 0xff]);
}

function prefixMask(bits: number, len: number): number[] {
  return Array.from({ length: len }, (_, k) => (0xff << (8 - Math.max(0, Math.min(8, bits - 8 * k)))) & 0xff);
}

/** Parses pg_hba.conf; malformed lines go to `errors` (messages modelled on the server's). */
export function parseHba(text: string): { rules: HbaRule[]; errors: HbaError[] } {
  const rules: HbaRule[] = [];
  const errors: HbaError[] = [];
  text.split('\n').forEach((rawLine, idx) => {
    const raw = rawLine.replace(/\r$/, '');
    const line = idx + 1;
    const fail = (message: string) => { errors.push({ line, raw, message }); };
    const fields = splitFields(raw);
    if (fields === null) return fail('unterminated quoted string');
    if (fields.length === 0) return;
    const f = fields.map((items) => items.join(','));
    const type = f[0];
    if (!TYPES.has(type)) return fail(`invalid connection type "${type}"`);
    if (fields.length < 2) return fail('end-of-line before database specification');
    if (fields.length < 3) return fail('end-of-line before role specification');
    let k = 3;
    let address: string | undefined;
    let netmask: string | undefined;
    if (type !== 'local') {
      address = f[3];
      if (address === undefined) return fail('end-of-line before IP address specification');
      k = 4;
      if (address.includes('/')) {
        const [ip, bits] = address.split('/');
        const bytes = parseIp(ip);
        if (!bytes) return fail(`invalid IP address "${ip}"`);
        if (!/^\d+$/.test(bits) || Number(bits) > bytes.length * 8) return fail(`invalid CIDR mask in address "${address}"`);
      } else if (parseIp(address)) {
        netmask = f[4];
        if (netmask === undefined) return fail('end-of-line before netmask specification');
        const mask = parseIp(netmask);
        if (!mask || mask.length !== parseIp(address)!.length) return fail(`invalid IP mask "${netmask}"`);
        k = 5;
      }
    }
    const method = f[k];
    if (method === undefined) return fail('end-of-line before authentication method');
    if (!METHODS.has(method)) return fail(`invalid authentication method "${method}"`);
    rules.push({
      line, type, databases: fields[1], users: fields[2], ...(address !== undefined && { address }), ...(netmask !== undefined && { netmask }), method, raw,
    });
  });
  return { rules, errors };
}

const quotedName = (tok: string) => (tok.length >= 2 && tok.startsWith('"') && tok.endsWith('"') ? tok.slice(1, -1).replace(/""/g, '"') : null);

function matchesRegex(tok: string, value: string): boolean {
  try { return new RegExp(tok.slice(1)).test(value); } catch { return false; }
}

function databaseMatches(tokens: string[], database: string, user: string): boolean {
  const replication = database === 'replication';
  return tokens.some((tok) => {
    const q = quotedName(tok);
    if (q !== null) return !replication && q === database;
    if (replication) return tok === 'replication';
    if (tok === 'all') return true;
    if (tok === 'sameuser' || tok === 'samerole' || tok === 'samegroup') return database === user;
    if (tok === 'replication' || tok.startsWith('@')) return false;
    if (tok.startsWith('/')) return matchesRegex(tok, database);
    return tok === database;
  });
}

function userMatches(tokens: string[], user: string): boolean {
  return tokens.some((tok) => {
    const q = quotedName(tok);
    if (q !== null) return q === user;
    if (tok === 'all') return true;
    if (tok.startsWith('+')) return tok.slice(1) === user;
    if (tok.startsWith('@')) return false;
    if (tok.startsWith('/')) return matchesRegex(tok, user);
    return tok === user;
  });
}

function addressMatches(rule: HbaRule, ip: number[]): boolean {
  const a = rule.address;
  if (a === undefined || a === 'samehost' || a === 'samenet') return false;
  if (a === 'all') return true;
  let net: number[] | null;
  let mask: number[] | null;
  if (a.includes('/')) {
    const [addr, bits] = a.split('/');
    net = parseIp(addr);
    mask = net && prefixMask(Number(bits), net.length);
  } else {
    net = parseIp(a);
    mask = rule.netmask !== undefined ? parseIp(rule.netmask) : null;
  }
  if (!net || !mask || net.length !== ip.length || mask.length !== ip.length) return false; // host names: no DNS here
  return ip.every((b, k) => (b & mask![k]) === (net![k] & mask![k]));
}

/**
 * First rule that matches a TCP connection (host/hostssl/hostnossl) from `ip` for database `database`, user `user`,
 * as PostgreSQL evaluates it (first match wins; `all` does NOT match the `replication` pseudo-database).
 * `database: 'replication'` means a physical replication connection. What cannot be known without the server
 * never matches: `samehost`/`samenet`, host names, `@file`; `+role` and `samerole` only match the role itself.
 * `ssl` (default false, as on the 9.1 lab build without SSL) decides between hostssl and hostnossl; hostgssenc never matches.
 */
export function matchHba(rules: HbaRule[], conn: { database: string; user: string; ip: string; ssl?: boolean }): HbaRule | undefined {
  const ip = parseIp(conn.ip);
  if (!ip) return undefined;
  const ssl = conn.ssl ?? false;
  return rules.find((r) => {
    if (r.type === 'local' || r.type === 'hostgssenc') return false;
    if ((r.type === 'hostssl' && !ssl) || (r.type === 'hostnossl' && ssl)) return false;
    return addressMatches(r, ip) && databaseMatches(r.databases, conn.database, conn.user) && userMatches(r.users, conn.user);
  });
}
