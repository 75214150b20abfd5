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
};

/** Cuts a long value at a word boundary, never mid-word. */
export function clip(text: string, max = 160): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const at = Math.max(cut.lastIndexOf(' '), cut.lastIndexOf(','), cut.lastIndexOf('|'));
  return (at > max / 2 ? cut.slice(0, at) : cut).trimEnd() + ' …';
}

export function evidenceLabel(key: string): string {
  const l = LABELS[key];
  return l ? l[lang() === 'en' ? 1 : 0] : key.replace(/_/g, ' ');
}

/** "label: value" pairs, for one line (reports) or one per line (terminal). */
export function evidencePairs(evidence: Record<string, string | number>): string[] {
  return Object.entries(evidence).map(([k, v]) => `${evidenceLabel(k)}: ${clip(String(v))}`);
}
