/**
 * Rosters: the class list an instructor exports from a spreadsheet or from Moodle's participants page.
 * One strict CSV reader (RFC 4180: quoted fields, doubled quotes, CRLF, a BOM) and a header that must
 * be recognised, so a quoted "Pérez, Ana" is one name and an unknown header never becomes a student.
 */
import { createHash } from 'node:crypto';
import { LabError } from '../errors.js';
import { candidateSubnets, MAX_ENV_NAME } from './naming.js';

/** One student of a roster; `env` is always set (from the entorno column, or the class and legajo). */
export interface Student {
  env: string;
  name?: string;
  email?: string;
  legajo?: string;
  /** Line of the roster file (1-based), for messages. */
  line: number;
}

export type RosterColumn = 'env' | 'name' | 'email' | 'legajo';

/** Header names accepted for each column (compared without case, accents or surrounding spaces). */
export const COLUMN_ALIASES: Record<RosterColumn, string[]> = {
  env: ['entorno', 'env', 'alumno', 'usuario', 'user', 'student'],
  name: ['nombre', 'name', 'apellido y nombre', 'nombre completo', 'apellido, nombre', 'full name'],
  email: ['email', 'e-mail', 'correo', 'mail', 'direccion de correo', 'correo electronico', 'email address'],
  legajo: ['legajo', 'lu', 'id', 'idnumber', 'numero de id', 'id number'],
};

/** What the header message lists: each column with its aliases. */
export function knownColumns(): string {
  return (Object.keys(COLUMN_ALIASES) as RosterColumn[])
    .map((c) => { const [first, ...rest] = COLUMN_ALIASES[c]; return rest.length ? `${first} (${rest.join(', ')})` : first; })
    .join('; ');
}

const fold = (s: string) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').trim().toLowerCase().replace(/\s+/g, ' ');

/**
 * RFC 4180 with the usual spreadsheet latitude: the separator is `,` (or `;` / tab, as Spanish-locale
 * spreadsheets save, chosen from the header line), a record ends in CRLF or LF. Strict otherwise: a
 * quote inside an unquoted field, text after a closing quote and an unterminated quote are errors
 * naming the line. Returns records with the line each one starts on.
 */
export function parseCsv(text: string, separator?: string): { fields: string[]; line: number }[] {
  const src = text.replace(/^\uFEFF/, '');
  const sep = separator ?? detectSeparator(src);
  const records: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let start = 1;
  let i = 0;
  let quoted = false; // the current field started with a quote
  let afterQuote = false; // its closing quote was seen
  const endField = () => { fields.push(field); field = ''; quoted = false; afterQuote = false; };
  const endRecord = () => { endField(); records.push({ fields, line: start }); fields = []; start = line; };
  while (i < src.length) {
    const c = src[i];
    if (quoted && !afterQuote) {
      if (c === '"') {
        if (src[i + 1] === '"') { field += '"'; i += 2; continue; }
        afterQuote = true; i++; continue;
      }
      if (c === '\n') line++;
      field += c; i++; continue;
    }
    if (c === sep) { endField(); i++; continue; }
    if (c === '\r' && src[i + 1] === '\n') { line++; i += 2; endRecord(); continue; }
    if (c === '\n') { line++; i++; endRecord(); continue; }
    if (afterQuote) throw new LabError('csv.afterQuote', { line });
    if (c === '"') {
      if (field !== '') throw new LabError('csv.strayQuote', { line });
      quoted = true; i++; continue;
    }
    field += c; i++;
  }
  if (quoted && !afterQuote) throw new LabError('csv.unterminated', { line: start });
  if (field !== '' || fields.length || quoted) endRecord();
  return records;
}

/** The separator used on the first line outside quotes: `,` unless only `;` or tabs are there. */
function detectSeparator(src: string): string {
  let inQuotes = false;
  const seen = new Set<string>();
  for (const c of src) {
    if (c === '"') inQuotes = !inQuotes;
    else if (!inQuotes && (c === '\n' || c === '\r')) break;
    else if (!inQuotes && (c === ',' || c === ';' || c === '\t')) seen.add(c);
  }
  return seen.has(',') || !seen.size ? ',' : seen.has(';') ? ';' : '\t';
}

/**
 * Reads a roster. The header is required and every column in it must be recognised (see
 * COLUMN_ALIASES); blank lines and lines starting with # are skipped. An env name comes from the
 * entorno column, or else from the legajo, scoped by the class (`<class>-<legajo>`). Nothing is cut
 * or dropped silently: a name that cannot be an env name, two students with the same env, e-mail or
 * legajo, stop the whole roster.
 */
export function parseRosterStudents(text: string, file = 'roster.csv', className?: string): Student[] {
  const records = parseCsv(text).filter((r) => !(r.fields.length === 1 && (r.fields[0].trim() === '' || r.fields[0].trimStart().startsWith('#'))));
  if (!records.length) throw new LabError('class.rosterEmpty', { file });
  const header = records[0];
  const columns: Partial<Record<RosterColumn, number>> = {};
  const unknown: string[] = [];
  header.fields.forEach((raw, index) => {
    const name = fold(raw);
    const column = (Object.keys(COLUMN_ALIASES) as RosterColumn[]).find((c) => COLUMN_ALIASES[c].includes(name));
    if (!column) unknown.push(raw.trim() || `(${index + 1})`);
    else if (columns[column] !== undefined) throw new LabError('class.rosterHeaderTwice', { file, column: raw.trim() });
    else columns[column] = index;
  });
  if (unknown.length) throw new LabError('class.rosterHeader', { file, unknown: unknown.join('", "'), known: knownColumns() }, 2);
  if (columns.env === undefined && columns.legajo === undefined) throw new LabError('class.rosterNoEnv', { file, known: knownColumns() }, 2);
  const body = records.slice(1);
  if (!body.length) throw new LabError('class.rosterEmpty', { file });
  const max = candidateSubnets().length;
  if (body.length > max) throw new LabError('class.tooMany', { count: body.length, max });
  const students = body.map(({ fields, line }) => {
    if (fields.length !== header.fields.length) throw new LabError('class.rosterColumns', { file, line, found: fields.length, expected: header.fields.length }, 2);
    const cell = (c: RosterColumn) => (columns[c] === undefined ? undefined : fields[columns[c]!].trim() || undefined);
    const legajo = cell('legajo');
    const email = cell('email');
    if (email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(email)) throw new LabError('class.rosterEmail', { file, line, email }, 2);
    const envCell = cell('env');
    let env: string;
    if (envCell !== undefined) env = rosterEnvName(envCell, line);
    else if (legajo !== undefined) env = rosterEnvName(className ? `${className}-${legajo}` : legajo, line);
    else throw new LabError('class.rosterNameUnusable', { line, name: '' });
    return { env, line, ...(cell('name') ? { name: cell('name') } : {}), ...(email ? { email } : {}), ...(legajo ? { legajo } : {}) } as Student;
  });
  for (const key of ['env', 'email', 'legajo'] as const) {
    const seen = new Map<string, Student>();
    for (const s of students) {
      const v = s[key]?.toLowerCase();
      if (!v) continue;
      const first = seen.get(v);
      if (first) throw new LabError(key === 'env' ? 'class.duplicate' : 'class.rosterDuplicate', { name: s[key]!, column: key, line: s.line, first: first.line });
      seen.set(v, s);
    }
  }
  return students;
}

export function rosterEnvName(cell: string, line: number): string {
  const name = slug(cell);
  // Only accents and spaces are turned into something else; any other character stops the roster
  // (dropping it silently turned `rel-😀` into `rel`, another env).
  const bad = [...name].find((c) => !/[a-z0-9_-]/.test(c));
  if (bad || !name) throw new LabError('class.rosterNameUnusable', { line, name: cell });
  if (name.length > MAX_ENV_NAME) throw new LabError('class.rosterNameTooLong', { line, name: cell, length: name.length });
  return name;
}

/** "José Pérez" → "jose-perez": accents off, lower case, spaces to '-'; never cut (see parseRosterStudents). */
function slug(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim().replace(/\s+/g, '-').replace(/^[-_]+|[-_]+$/g, '');
}

/** Class names: they go into env names and Docker labels, so the env-name alphabet and at most 16 characters. */
export const MAX_CLASS_NAME = 16;
export function className(raw: string): string {
  if (!new RegExp(`^[a-z0-9][a-z0-9-]{0,${MAX_CLASS_NAME - 1}}$`).test(raw)) throw new LabError('class.badName', { name: raw, max: MAX_CLASS_NAME }, 2);
  return raw;
}

/**
 * The subnet a student's env prefers (used when free): derived from the legajo, so two students'
 * envs have different addresses and a configuration copied from a classmate (pg_hba.conf,
 * archive_command, primary_conninfo naming their IPs) does not work here and fails the graders.
 */
export function studentSubnet(legajo: string): string {
  const subnets = candidateSubnets();
  const n = createHash('sha256').update(legajo.trim().toLowerCase()).digest().readUInt32BE(0);
  return subnets[n % subnets.length];
}

/** A legajo given on the command line: digits, letters, '/', '.', '-' (UNLu's are like 123456 or 12345/6), at most 32. */
export function studentId(raw: string): string {
  const v = raw.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9/.-]{0,31}$/.test(v)) throw new LabError('up.badStudent', { value: raw }, 2);
  return v;
}
