/**
 * Evidence as people read it: each key the graders use gets a short label in the reader's language
 * ("archivo", "segmento WAL", "identificador de sistema"), one per line, long values cut at a word
 * boundary. The JSON reports keep the raw keys (they are the schema).
 */
import { lang } from '../i18n/index.js';

const LABELS: Record<string, [es: string, en: string]> = {
  server: ['servidor', 'server'], state: ['estado', 'state'], path: ['ruta', 'path'], file: ['archivo', 'file'],
  files: ['archivos', 'files'], lines: ['líneas con error', 'lines with errors'], line: ['línea', 'line'],
  rule: ['regla', 'rule'], missing: ['falta', 'missing'], found: ['encontrado', 'found'], wrong: ['valores incorrectos', 'wrong values'],
  pending: ['pendiente de reinicio', 'waiting for a restart'], settings: ['valores en uso', 'values in use'],
  segment: ['segmento WAL', 'WAL segment'], size: ['tamaño (bytes)', 'size (bytes)'], magic: ['magic de página', 'page magic'],
  sysid: ['identificador de sistema', 'system identifier'], maestro_sysid: ['identificador del maestro', "maestro's identifier"],
  rejected: ['descartados', 'rejected'], segments: ['segmentos', 'segments'], archived: ['archivados', 'archived'],
  archive_command: ['archive_command', 'archive_command'], destination: ['destino', 'destination'],
  pg_is_in_recovery: ['pg_is_in_recovery()', 'pg_is_in_recovery()'], timeline: ['línea de tiempo', 'timeline'],
  esclavo_timeline: ['línea de tiempo del esclavo', "esclavo's timeline"], maestro_timeline: ['línea de tiempo del maestro', "maestro's timeline"],
  history: ['historia', 'history'], branched_at: ['se separó en', 'branched at'], table: ['tabla', 'table'], tables: ['tablas', 'tables'],
  rows: ['filas', 'rows'], maestro_rows: ['filas en el maestro', 'rows on maestro'], nonce: ['valor de prueba', 'probe value'],
  lag_ms: ['demora (ms)', 'lag (ms)'], waited_ms: ['esperó (ms)', 'waited (ms)'], command: ['comando', 'command'], exit: ['código de salida', 'exit code'],
  stderr: ['mensaje', 'message'], client: ['cliente', 'client'], client_addr: ['dirección del cliente', 'client address'],
  streaming: ['streaming', 'streaming'], standby: ['standby', 'standby'], problems: ['problemas', 'problems'],
  also_checked: ['también se buscó', 'also looked for'], record_rejected_lines: ['líneas del registro descartadas', 'record lines rejected'],
  listen_addresses: ['listen_addresses en uso', 'listen_addresses in use'], in_file: ['en el archivo', 'in the file'],
  started: ['arrancó', 'started'], hba_loaded: ['pg_hba.conf leído', 'pg_hba.conf loaded'], hba_changed: ['pg_hba.conf cambió', 'pg_hba.conf changed'],
  owner: ['dueño', 'owner'], label: ['etiqueta', 'label'], start: ['inicio', 'start'], stop: ['fin', 'stop'],
  replayed_up_to: ['aplicado hasta', 'replayed up to'], backup_ended_at: ['el respaldo base terminó en', 'base backup ended at'],
  pids: ['procesos en uso', 'processes in use'], pids_limit: ['límite de procesos', 'process limit'],
  error: ['error', 'error'], removed: ['borrado', 'removed'], installed: ['instalado', 'installed'], servers: ['servidores', 'servers'],
  missing_on: ['falta en', 'missing on'], without_sshd: ['servidores sin sshd corriendo', 'servers without sshd running'],
  ready_on_maestro: ['segmentos WAL esperando en el maestro (.ready)', 'WAL segments waiting on maestro (.ready)'],
  done_on_maestro: ['segmentos WAL ya archivados por el maestro (.done)', 'WAL segments maestro archived (.done)'],
  periods: ['veces que se vio', 'times seen'], write: ['escritura de prueba', 'test write'],
  maestro_in_recovery: ['maestro en recuperación (pg_is_in_recovery)', 'maestro in recovery (pg_is_in_recovery)'],
  esclavo_in_recovery: ['esclavo en recuperación (pg_is_in_recovery)', 'esclavo in recovery (pg_is_in_recovery)'],
  esclavo2_in_recovery: ['esclavo2 en recuperación (pg_is_in_recovery)', 'esclavo2 in recovery (pg_is_in_recovery)'],
  expected_file: ['archivo que lo pone en recuperación', 'file that puts it in recovery'],
  expected_size: ['tamaño esperado (bytes)', 'expected size (bytes)'], esclavo_sysid: ['identificador del esclavo', "esclavo's identifier"],
  esclavo2_sysid: ['identificador de esclavo2', "esclavo2's identifier"], system_identifier: ['identificador de sistema', 'system identifier'],
  systemid: ['identificador de sistema', 'system identifier'], same_system_identifier: ['mismo identificador de sistema', 'same system identifier'],
  ancestors: ['líneas de tiempo anteriores', 'earlier timelines'], primary: ['primario', 'primary'], from: ['desde', 'from'], to: ['hacia', 'to'],
  proven_by: ['comprobado por', 'proven by'], sync_standbys: ['esclavos sincrónicos', 'synchronous standbys'],
  connected_sync_standbys: ['esclavos sincrónicos conectados', 'synchronous standbys connected'], commit_ms: ['el COMMIT tardó (ms)', 'the COMMIT took (ms)'],
  database: ['base de datos', 'database'], method: ['método', 'method'], num_sync: ['cuántos sincrónicos', 'how many synchronous'],
  promoted: ['promovido', 'promoted'], trigger: ['archivo disparador', 'trigger file'], trigger_on_maestro: ['archivo disparador en el maestro', 'trigger file on maestro'],
  signal: ['archivo de standby', 'standby file'], query: ['consulta', 'query'], result: ['resultado', 'result'], statement: ['sentencia', 'statement'],
  sqlstate: ['SQLSTATE', 'SQLSTATE'], pid: ['pid', 'pid'], lsn: ['posición WAL', 'WAL position'], sent: ['enviado hasta', 'sent up to'],
  senders: ['wal senders', 'wal senders'], sshd: ['sshd', 'sshd'], type: ['tipo', 'type'], reported: ['informado por el primario', 'reported by the primary'],
  hba: ['regla de pg_hba.conf', 'pg_hba.conf rule'], backup_stop: ['fin del respaldo base', 'base backup end'], archive_status: ['archive_status', 'archive_status'],
  limit_mb: ['límite (MB)', 'limit (MB)'], maestro: ['maestro', 'maestro'], esclavo: ['esclavo', 'esclavo'],
  esclavo2: ['esclavo2', 'esclavo2'], data_dir: ['directorio de datos', 'data directory'], pg_version: ['PG_VERSION', 'PG_VERSION'],
  wal_level: ['wal_level en uso', 'wal_level in use'], commits_wait: ['los COMMIT esperan', 'COMMITs wait'],
};

/** Values that are words, not data: shown in the reader's language (the JSON keeps the raw value). */
const VALUES: Record<string, [es: string, en: string]> = {
  yes: ['sí', 'yes'], no: ['no', 'no'], 'sí/yes': ['sí', 'yes'], ok: ['aceptada', 'accepted'],
  settings: ['la configuración en uso', 'the settings in use'], probe: ['un COMMIT de prueba que quedó esperando', 'a test COMMIT left waiting'],
  priority: ['prioridad', 'priority'], quorum: ['quórum (ANY)', 'quorum (ANY)'], missing: ['falta', 'missing'],
};
/** Keys whose value is one of the words above (elsewhere "no" or "ok" may be data). */
const WORD_KEYS = new Set(['same_system_identifier', 'promoted', 'write', 'proven_by', 'method', 'trigger', 'recovery.conf', 'recovery.done', 'standby.signal', 'trigger_on_maestro', 'commits_wait', 'pg_version']);

/** A value as people read it: words in their language; client messages on one line (no tabs, no line breaks). */
export function evidenceValue(key: string, value: string | number): string {
  const text = String(value);
  const word = WORD_KEYS.has(key) ? VALUES[text] : undefined;
  if (word) return word[lang() === 'en' ? 1 : 0];
  return text.replace(/\s*\n\s*/g, ' ').replace(/\t/g, ' ').replace(/ {2,}/g, ' ').trim();
}

/** Cuts a long value at a word boundary, never mid-word. */
export function clip(text: string, max = 160): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  // Whole items of a " | " list first (lines of a file), then words.
  const item = cut.lastIndexOf(' | ');
  if (item > max / 3) return cut.slice(0, item).trimEnd() + ' | …';
  const at = Math.max(cut.lastIndexOf(' '), cut.lastIndexOf(','), cut.lastIndexOf('|'));
  return (at > max / 2 ? cut.slice(0, at) : cut).trimEnd() + ' …';
}

export function evidenceLabel(key: string): string {
  const l = LABELS[key];
  // Unknown keys stay as the grader wrote them: a setting or column name reads best as itself.
  return l ? l[lang() === 'en' ? 1 : 0] : key;
}

/** "label: value" pairs, for one line (reports) or one per line (terminal). */
export function evidencePairs(evidence: Record<string, string | number>): string[] {
  return Object.entries(evidence).map(([k, v]) => `${evidenceLabel(k)}: ${clip(evidenceValue(k, v))}`);
}
