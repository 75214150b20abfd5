/**
 * pg_controldata output, the one place that tells a cluster's identity (system identifier),
 * its role (production vs archive recovery) and its timeline without a running server.
 * Labels are the English ones (run it with LANG=C); controlFacts also knows the Spanish labels
 * seen in the es_AR captures, since students may read a localized copy.
 */

/** `Label:   value` lines to a label → value map (labels trimmed, first `:` splits). */
export function parseControldata(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m && m[1].trim()) out[m[1].trim()] = m[2].trim();
  }
  return out;
}

const LABELS = {
  systemIdentifier: ['Database system identifier', 'Identificador de sistema'],
  clusterState: ['Database cluster state', 'Estado del sistema de base de datos'],
  timeline: ["Latest checkpoint's TimeLineID", 'TimeLineID del último checkpoint'],
  walSegmentSize: ['Bytes per WAL segment', 'Bytes por segmento WAL'],
} as const;

/** Spanish states observed in the es_AR captures, mapped to the English wording; others pass through. */
const STATE_ES: Record<string, string> = {
  'en producción': 'in production',
  'en recuperación desde archivo': 'in archive recovery',
};

export function controlFacts(text: string): { systemIdentifier?: string; clusterState?: string; timeline?: number; walSegmentSize?: number } {
  const map = parseControldata(text);
  const get = (labels: readonly string[]) => labels.map((l) => map[l]).find((v) => v !== undefined);
  const int = (v?: string) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
  const state = get(LABELS.clusterState);
  const facts: { systemIdentifier?: string; clusterState?: string; timeline?: number; walSegmentSize?: number } = {};
  const sysid = get(LABELS.systemIdentifier);
  if (sysid !== undefined) facts.systemIdentifier = sysid;
  if (state !== undefined) facts.clusterState = STATE_ES[state] ?? state;
  const tli = int(get(LABELS.timeline));
  if (tli !== undefined) facts.timeline = tli;
  const seg = int(get(LABELS.walSegmentSize));
  if (seg !== undefined) facts.walSegmentSize = seg;
  return facts;
}
