/**
 * Parser for the GUC file syntax shared by postgresql.conf and 9.1's recovery.conf.
 *
 * It follows the token rules of PostgreSQL's guc-file.l (9.1 to 17 use the same ones) so that a line
 * the server rejects is reported here too, but unlike the server it keeps going after an error,
 * so a grader can point at every broken line (the PDF's wrapped lines produce several).
 * `include` directives are returned as ordinary entries; nothing is read from disk.
 */

export interface ConfEntry { key: string; value: string; line: number; raw: string }
export interface ConfError { line: number; raw: string; message: string }
export interface ParsedConf { entries: ConfEntry[]; errors: ConfError[] }

type TokKind = 'id' | 'qid' | 'string' | 'unquoted' | 'integer' | 'real' | 'equals';
interface Tok { kind: TokKind; text: string }

// guc-file.l: LETTER is [A-Za-z_\200-\377]; any non-ASCII character counts as a letter.
const UNQUOTED_RE = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff\-._:/]*/y;
const ID_RE = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*$/;
const QID_RE = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*\.[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*$/;
const STRING_RE = /'(?:[^'\\\n]|\\.|'')*'/y;
const INTEGER_RE = /[-+]?(?:0x[0-9A-Fa-f]+|\d+)[A-Za-z]*/y;
const REAL_RE = /[-+]?\d*\.\d*(?:[Ee][-+]?\d+)?/y;

function sticky(re: RegExp, s: string, at: number): string | null {
  re.lastIndex = at;
  const m = re.exec(s);
  return m ? m[0] : null;
}

/** Splits one line into tokens; stops at the first character the server's lexer would reject. */
function tokenize(s: string): { toks: Tok[]; error?: string } {
  const toks: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === '#') break;
    if (c === '=') { toks.push({ kind: 'equals', text: c }); i++; continue; }
    if (c === "'") {
      const m = sticky(STRING_RE, s, i);
      if (!m) return { toks, error: 'unterminated quoted string' };
      toks.push({ kind: 'string', text: m }); i += m.length; continue;
    }
    const word = sticky(UNQUOTED_RE, s, i);
    if (word) {
      // flex takes the longest match; on a tie ID wins over QUALIFIED_ID over UNQUOTED_STRING.
      const kind: TokKind = ID_RE.test(word) ? 'id' : QID_RE.test(word) ? 'qid' : 'unquoted';
      toks.push({ kind, text: word }); i += word.length; continue;
    }
    const int = sticky(INTEGER_RE, s, i) ?? '';
    const real = sticky(REAL_RE, s, i) ?? '';
    if (int || real) {
      const kind: TokKind = int.length >= real.length ? 'integer' : 'real';
      const text = kind === 'integer' ? int : real;
      toks.push({ kind, text }); i += text.length; continue;
    }
    return { toks, error: 'syntax error' };
  }
  return { toks };
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Removes the quotes and resolves `''` and backslash escapes the way the server does (`\"` → `"`). */
function unquote(tok: string): string {
  const s = tok.slice(1, -1);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "'" && s[i + 1] === "'") { out += "'"; i++; continue; }
    if (c !== '\\' || i + 1 >= s.length) { out += c; continue; }
    const n = s[++i];
    if (n in ESCAPES) out += ESCAPES[n];
    else if (/[0-7]/.test(n)) {
      let oct = n;
      while (oct.length < 3 && /[0-7]/.test(s[i + 1] ?? '')) oct += s[++i];
      out += String.fromCharCode(parseInt(oct, 8) & 0xff);
    } else out += n;
  }
  return out;
}

const VALUE_KINDS: ReadonlySet<TokKind> = new Set(['id', 'string', 'integer', 'real', 'unquoted']);

/** Parses postgresql.conf / recovery.conf text. Keys are lower-cased (GUC names are case-insensitive). */
export function parseConf(text: string): ParsedConf {
  const entries: ConfEntry[] = [];
  const errors: ConfError[] = [];
  text.split('\n').forEach((rawLine, idx) => {
    const raw = rawLine.replace(/\r$/, '');
    const line = idx + 1;
    const { toks, error } = tokenize(raw);
    const fail = (message: string) => errors.push({ line, raw, message });
    if (toks.length === 0) { if (error) fail(error); return; }
    const [name, ...rest] = toks;
    if (name.kind !== 'id' && name.kind !== 'qid') return fail('syntax error');
    if (rest[0]?.kind === 'equals') rest.shift();
    const value = rest.shift();
    if (!value) return fail(error ?? 'syntax error');
    if (!VALUE_KINDS.has(value.kind) || rest.length > 0) return fail('syntax error');
    if (error) return fail(error);
    entries.push({ key: name.text.toLowerCase(), value: value.kind === 'string' ? unquote(value.text) : value.text, line, raw });
  });
  return { entries, errors };
}

/** The effective setting: like the server, the last occurrence of a key wins. */
export function confGet(conf: ParsedConf, key: string): ConfEntry | undefined {
  const k = key.toLowerCase();
  for (let i = conf.entries.length - 1; i >= 0; i--) if (conf.entries[i].key === k) return conf.entries[i];
  return undefined;
}

/**
 * Spots the PDF's line break typed as a space inside an rsync/scp remote target
 * (`postgres@10.91.1.11: /var/lib/...`): rsync then sees two arguments and fails with
 * `Unexpected remote arg`, so archiving stalls although the setting looks almost right.
 */
export function looksLikeWrappedArchiveCommand(value: string): 'space-after-colon' | null {
  if (/(?:^|\s)[^\s@:'"]+@[^\s@:'"]+:[ \t]+(?:\S|$)/.test(value)) return 'space-after-colon';
  if (/\b(?:rsync|scp)\b/.test(value) && /(?:^|\s)[A-Za-z0-9][\w.-]*:[ \t]+(?:\S|$)/.test(value)) return 'space-after-colon';
  return null;
}
