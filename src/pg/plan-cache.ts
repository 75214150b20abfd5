/**
 * The plan cache: which facts an earlier run of the same step asked for, so the next run can ask
 * for all of them at once (one docker exec per server) before its checks do.
 *
 * It holds facts, never commands: a kind ("settings", "listDir"), a role and the fact's arguments
 * (a path, a database). The command of each fact is the facts API's own code (probes.ts). The file
 * is in the user's cache and may be edited or torn, so every entry is validated before use, and the
 * only SQL it may name is a read the allow-list below accepts: the SQL of a check would otherwise be
 * run as the cache says, by psql as postgres, a superuser.
 *
 * One small JSON file (PGLAB_CACHE_DIR, else $XDG_CACHE_HOME/pglab, else ~/.cache/pglab). Losing it
 * costs speed only.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { userCacheDir } from '../paths.js';
import path from 'node:path';

/** Facts a plan may name, with the arguments each takes. */
export const FACT_KINDS = {
  readiness: [],
  sql: ['sql', 'database'],
  settings: [],
  inRecovery: [],
  readFile: ['path', 'bytes', 'user'],
  readable: ['path'],
  listDir: ['path'],
  stat: ['path'],
  controldata: [],
  timeline: [],
  processes: [],
  configFiles: [],
  startupBlockers: [],
  recording: [],
  databases: [],
  userTables: [],
  serverTimes: [],
  // The observer's records after a look now (its role: the env's first server, whose running it needs).
  observation: [],
  // Reads by the inspector (or the engine's archive API): in the first batch when planned.
  archive: ['path', 'limits'],
  fileInfo: ['path', 'bytes'],
} as const satisfies Record<string, readonly ArgKind[]>;

type ArgKind = 'sql' | 'database' | 'path' | 'bytes' | 'user' | 'limits';
export type FactKind = keyof typeof FACT_KINDS;

/** One fact a run asked for: enough to ask for it again through the facts API. */
export interface PlannedFact { kind: FactKind; role: string; args: (string | number)[] }

/** The largest file a plan may ask to read ahead (the facts API's own limit). */
const MAX_BYTES = 16 * 1024 * 1024 + 1;

/**
 * Functions a cached query may call: reads of the catalog, the statistics views, WAL positions and
 * plain expressions. Anything else (lo_import, pg_read_file, set_config, dblink, query_to_xml, a
 * quoted identifier…) keeps the query out of the plan: the check then runs it when it asks.
 */
const READ_FUNCTIONS = new Set([
  // SQL keywords followed by a parenthesis
  'select', 'from', 'where', 'and', 'or', 'not', 'in', 'exists', 'any', 'all', 'as', 'on', 'then', 'else', 'when', 'case', 'filter', 'over',
  // expressions
  'coalesce', 'nullif', 'greatest', 'least', 'cast', 'extract', 'lower', 'upper', 'length', 'substr', 'substring', 'trim', 'split_part',
  'encode', 'decode', 'convert_to', 'convert_from', 'to_char', 'to_hex', 'md5', 'host', 'abs', 'round', 'floor', 'ceil', 'now',
  'count', 'sum', 'min', 'max', 'avg', 'string_agg', 'array_agg', 'bool_and', 'bool_or',
  // server state
  'pg_is_in_recovery', 'pg_postmaster_start_time', 'pg_conf_load_time', 'current_setting', 'version', 'current_database',
  'pg_current_xlog_location', 'pg_current_wal_lsn', 'pg_current_xlog_insert_location', 'pg_current_wal_insert_lsn',
  'pg_last_xlog_receive_location', 'pg_last_wal_receive_lsn', 'pg_last_xlog_replay_location', 'pg_last_wal_replay_lsn',
  'pg_last_xact_replay_timestamp', 'pg_xlogfile_name', 'pg_walfile_name', 'pg_xlogfile_name_offset', 'pg_walfile_name_offset',
  'pg_xlog_location_diff', 'pg_wal_lsn_diff', 'pg_is_xlog_replay_paused', 'pg_is_wal_replay_paused',
  'pg_control_system', 'pg_control_checkpoint', 'pg_stat_get_wal_senders', 'pg_stat_get_wal_receiver', 'pg_stat_get_archiver',
  'pg_backend_pid', 'pg_tablespace_location', 'pg_relation_size', 'pg_database_size',
]);

/** Words that make a SELECT more than a read (SELECT … INTO creates a table; FOR UPDATE locks rows). */
const NOT_A_READ = /\b(into|for|insert|update|delete|merge|create|drop|alter|truncate|copy|grant|revoke|lock|call|do|execute|prepare|listen|notify|set|reset|load|vacuum|analyze|cluster|reindex|checkpoint|discard|comment|security|import)\b/i;

/**
 * May a cached plan run this query ahead of the checks? One plain SELECT (or SHOW of a setting)
 * calling only READ_FUNCTIONS; no second statement, comment, quoted identifier, dollar quote or
 * backslash (psql reads a merged session's text, where a backslash is a psql command). `known`:
 * fixed queries of the facts API itself, accepted as they are.
 */
export function readOnlySql(query: string, known: ReadonlySet<string> = new Set()): boolean {
  if (known.has(query)) return true;
  if (query.length > 4000 || /[;\\"$\0]|--|\/\*/.test(query)) return false;
  // Literals out: what is left is the statement's own words (a literal calls nothing without a
  // function that runs SQL text, and none of those is allowed).
  let bare = '';
  for (let i = 0; i < query.length; i++) {
    if (query[i] !== "'") {
      bare += query[i];
      continue;
    }
    const end = query.indexOf("'", i + 1);
    if (end < 0) return false;
    // '' inside a literal is a quote: the literal goes on.
    i = end;
    while (query[i + 1] === "'") {
      const next = query.indexOf("'", i + 2);
      if (next < 0) return false;
      i = next;
    }
    bare += "''";
  }
  if (/^\s*SHOW\s+[a-z_][a-z0-9_.]*\s*$/i.test(bare)) return true;
  if (!/^\s*SELECT\b/i.test(bare) || NOT_A_READ.test(bare)) return false;
  for (const m of bare.matchAll(/([a-z_][a-z0-9_$]*)\s*\(/gi)) {
    if (!READ_FUNCTIONS.has(m[1].toLowerCase())) return false;
  }
  // A schema-qualified call (pg_catalog.f, other.f) is a call of f in that schema: only pg_catalog's.
  for (const m of bare.matchAll(/([a-z_][a-z0-9_]*)\s*\.\s*[a-z_][a-z0-9_]*\s*\(/gi)) if (m[1].toLowerCase() !== 'pg_catalog') return false;
  return true;
}

/** ArchiveLimits as JSON: only its own keys, each a bounded whole number (a read the facts API itself would make). */
function isLimits(v: unknown): boolean {
  if (typeof v !== 'string' || v.length > 200) return false;
  let o: unknown;
  try {
    o = JSON.parse(v);
  } catch {
    return false;
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) return false;
  const max: Record<string, number> = { maxEntries: 5000, maxDataPerFile: MAX_BYTES, maxStreamBytes: 64 * 1024 * 1024, stopAfter: 5000 };
  return Object.entries(o).every(([k, n]) => Object.hasOwn(max, k) && Number.isInteger(n) && (n as number) >= 0 && (n as number) <= max[k]);
}

const isPath = (v: unknown) => typeof v === 'string' && v.startsWith('/') && v.length <= 4096 && !v.includes('\0');

/** A well-formed fact whose arguments are what its kind takes (roles are checked against the env by the caller). */
export function validFact(f: unknown, knownSql?: ReadonlySet<string>): f is PlannedFact {
  if (!f || typeof f !== 'object') return false;
  const { kind, role, args } = f as Partial<PlannedFact>;
  if (typeof kind !== 'string' || !Object.hasOwn(FACT_KINDS, kind) || typeof role !== 'string' || !/^[a-z][a-z0-9]{0,30}$/.test(role)) return false;
  const spec: readonly ArgKind[] = FACT_KINDS[kind as FactKind];
  if (!Array.isArray(args) || args.length !== spec.length) return false;
  return spec.every((k, i) => {
    const v = args[i];
    switch (k) {
      case 'sql': return typeof v === 'string' && readOnlySql(v, knownSql);
      case 'database': return typeof v === 'string' && v.length <= 63 && !v.includes('\0');
      case 'path': return isPath(v);
      case 'bytes': return Number.isInteger(v) && (v as number) > 0 && (v as number) <= MAX_BYTES;
      case 'user': return v === 'root' || v === 'postgres';
      case 'limits': return isLimits(v);
    }
  });
}

/** Plans of earlier runs, by env/lab/step@pg. */
class PlanStore {
  private loaded?: Record<string, unknown>;
  private pending = new Map<string, () => PlannedFact[]>();

  private file(): string {
    return path.join(userCacheDir(), 'plans.json');
  }

  private all(): Record<string, unknown> {
    if (!this.loaded) {
      try {
        const data = JSON.parse(readFileSync(this.file(), 'utf8')) as unknown;
        this.loaded = data && typeof data === 'object' && !Array.isArray(data) ? data as Record<string, unknown> : {};
      } catch {
        this.loaded = {};
      }
    }
    return this.loaded;
  }

  /** The valid facts of a plan (entries of an older format, or edited ones, are dropped). */
  get(key: string, knownSql?: ReadonlySet<string>): PlannedFact[] {
    const plan = this.all()[key];
    return Array.isArray(plan) ? plan.filter((f) => validFact(f, knownSql)).slice(0, 200) : [];
  }

  saveOnExit(key: string, plan: () => PlannedFact[]): void {
    if (!this.pending.size) process.once('beforeExit', () => this.save());
    this.pending.set(key, plan);
  }

  save(): void {
    if (!this.pending.size) return;
    const all = { ...this.all() };
    for (const [key, plan] of this.pending) {
      delete all[key];
      all[key] = plan().slice(0, 200);
    }
    // The most recently used plans (a class of 250 envs × 6 steps stays around a few MiB).
    const keys = Object.keys(all);
    for (const key of keys.slice(0, Math.max(0, keys.length - 2000))) delete all[key];
    this.pending.clear();
    try {
      const file = this.file();
      mkdirSync(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(all));
      renameSync(tmp, file);
      this.loaded = all;
    } catch {
      // A read-only home: the next run is just not primed.
    }
  }
}

export const PLANS = new PlanStore();
