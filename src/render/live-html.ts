/**
 * HTML for `lab web` and `lab class web`: the topology as SVG, the checklist, the chart, the
 * changes, the class board. Every string that comes from an env (table and application names,
 * evidence, archive_command, errors) goes through escapeHtml, the same escaping as the HTML
 * report; the pages are server-rendered fragments the browser only swaps in.
 */
import { lang, t } from '../i18n/index.js';
import { localTime } from '../i18n/time.js';
import type { CheckResult, StepResult } from '../lab/runner.js';
import type { Topology } from '../lab/topology.js';
import { escapeHtml as e, hintHtml } from './escape.js';
import { evidencePairs } from './evidence.js';
import { ageText, archiveFailingText } from './topology-text.js';

const MARK: Record<CheckResult['status'], string> = { pass: '✓', fail: '✗', warn: '!' };
const time = (ms: number) => localTime(new Date(ms).toISOString());

// ---------------------------------------------------------------- topology

const NODE_W = 190;
const NODE_H = 74;
const GAP = 110;

/**
 * Servers in a row (primaries first), streaming edges as arrows above, archive edges as dashed
 * arrows below. Attributes (data-role, data-kind, data-edge…) name what is drawn, for tests.
 */
export function topologySvg(topo: Topology): string {
  const order = [...topo.servers].sort((a, b) => Number(!!b.primary && b.up) - Number(!!a.primary && a.up));
  const archiveNode = topo.archives.some((a) => a.state !== 'off' && !a.to);
  const n = order.length + (archiveNode ? 1 : 0);
  const width = Math.max(760, n * NODE_W + (n - 1) * GAP + 40);
  const height = NODE_H + 230;
  const top = 110;
  const x = new Map<string, number>(order.map((s, i) => [s.role, 20 + i * (NODE_W + GAP)]));
  const archiveKey = '\u0000archive';
  if (archiveNode) x.set(archiveKey, 20 + order.length * (NODE_W + GAP));
  const parts: string[] = [];
  // Arrowheads.
  parts.push(`<defs>${['ok', 'bad', 'wait'].map((k) => `<marker id="arrow-${k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="mk-${k}"/></marker>`).join('')}</defs>`);
  for (const s of order) {
    const kind = !s.up ? (s.frozen ? 'frozen' : 'down') : s.primary ? 'primary' : 'standby';
    const state = s.up ? t('topo.up') : s.frozen ? t('topo.frozen') : t('topo.down');
    const role = s.up ? t(s.primary ? 'topo.primary' : 'topo.standby') : '';
    const tli = s.timeline ? t('topo.timeline', { tli: s.timeline }) : '';
    const x0 = x.get(s.role)!;
    parts.push(`<g class="node node-${kind}" data-role="${e(s.role)}" data-kind="${kind}" data-timeline="${e(s.timeline ?? '')}">`
      + `<title>${e(s.role)} ${e(s.ip)}${s.lsn ? ` — ${e(s.lsn)}` : ''}</title>`
      + `<rect x="${x0}" y="${top}" width="${NODE_W}" height="${NODE_H}" rx="10"/>`
      + `<text x="${x0 + 12}" y="${top + 22}" class="role">${e(s.role)}</text>`
      + `<text x="${x0 + NODE_W - 12}" y="${top + 22}" class="ip" text-anchor="end">${e(s.ip)}</text>`
      + `<text x="${x0 + 12}" y="${top + 44}">${e([state, role].filter(Boolean).join(' · '))}</text>`
      + `<text x="${x0 + 12}" y="${top + 62}" class="small">${e([tli, s.lsn ?? ''].filter(Boolean).join(' · '))}</text></g>`);
  }
  if (archiveNode) {
    const x0 = x.get(archiveKey)!;
    parts.push(`<g class="node node-archive" data-role="archive"><rect x="${x0}" y="${top}" width="${NODE_W}" height="${NODE_H}" rx="10"/><text x="${x0 + 12}" y="${top + 40}" class="role">${e(t('topo.archiveNode'))}</text></g>`);
  }
  // Streaming edges: arcs above the row.
  topo.streams.forEach((s, i) => {
    const [from, to] = [x.get(s.from), x.get(s.to)];
    if (from === undefined || to === undefined) return;
    const ok = s.state === 'streaming';
    const [x1, x2] = [from + NODE_W / 2, to + NODE_W / 2];
    // Each arc higher than the last, so their labels never sit on each other.
    const lift = 44 + Math.min(i, 2) * 30;
    const lag = [s.lagBytes !== undefined ? t('topo.lag', { bytes: s.lagBytes }) : '', s.lagS !== undefined ? t('topo.lagS', { s: Math.round(s.lagS) }) : ''].filter(Boolean).join(', ');
    parts.push(`<g class="edge" data-edge="streaming" data-from="${e(s.from)}" data-to="${e(s.to)}" data-state="${e(s.state)}">`
      + `<title>${e(s.application)} ${e(s.sentLsn ?? '')} → ${e(s.replayLsn ?? '')}</title>`
      + `<path d="M${x1},${top} C${x1},${top - lift} ${x2},${top - lift} ${x2},${top}" class="edge-${ok ? 'ok' : 'wait'}" marker-end="url(#arrow-${ok ? 'ok' : 'wait'})"/>`
      + `<text x="${(x1 + x2) / 2}" y="${top - lift * 0.75 - 5}" text-anchor="middle" class="small">${e(s.state)}${lag ? ` · ${e(lag)}` : ''}</text></g>`);
  });
  // The edges that should be there and are not: from the main primary (maestro, until a promotion)
  // to each server nothing streams to, drawn dotted and red, as `lab status` says "no funciona".
  const main = topo.promoted ? undefined : topo.primaries[0];
  for (const s of order) {
    if (!main || s.role === main || topo.streams.some((e) => e.to === s.role)) continue;
    const [x1, x2] = [x.get(main)! + NODE_W / 2, x.get(s.role)! + NODE_W / 2];
    parts.push(`<g class="edge" data-edge="streaming" data-from="${e(main)}" data-to="${e(s.role)}" data-state="off">`
      + `<path d="M${x1},${top} C${x1},${top - 50} ${x2},${top - 50} ${x2},${top}" class="edge-bad dotted" marker-end="url(#arrow-bad)"/>`
      + `<text x="${(x1 + x2) / 2}" y="${top - 46}" text-anchor="middle" class="small bad">${e(`streaming: ${t('topo.notStreaming')}`)}</text></g>`);
  }
  // Archive edges: arcs below the row.
  for (const a of topo.archives) {
    if (a.state === 'off') continue;
    const from = x.get(a.from);
    const to = x.get(a.to ?? archiveKey);
    if (from === undefined || to === undefined) continue;
    const cls = a.state === 'ok' ? 'ok' : a.state === 'failing' ? 'bad' : 'wait';
    const [x1, x2] = [from + NODE_W / 2, to + NODE_W / 2];
    const y = top + NODE_H;
    const label = a.state === 'ok' ? `${a.lastArchived ?? ''}${a.lastArchivedAgeS !== undefined ? ` (${t('topo.archivedAgo', { age: ageText(a.lastArchivedAgeS) })})` : ''}`
      : a.state === 'failing' ? archiveFailingText(a)
        : t('topo.archiveWaiting');
    const failed = a.lastFailed && a.lastFailedAgeS !== undefined ? t('topo.failedAgo', { segment: a.lastFailed, age: ageText(a.lastFailedAgeS) }) : '';
    parts.push(`<g class="edge" data-edge="archive" data-from="${e(a.from)}" data-to="${e(a.to ?? 'archive')}" data-state="${a.state}" data-segment="${e(a.lastArchived ?? '')}">`
      + `<path d="M${x1},${y} C${x1},${y + 70} ${x2},${y + 70} ${x2},${y}" class="edge-${cls} dashed" marker-end="url(#arrow-${cls})"/>`
      + `<text x="${Math.min(x1, x2)}" y="${y + 76}" class="small">${e(`${t('status.archive')}: ${label}`)}</text>`
      + (failed ? `<text x="${Math.min(x1, x2)}" y="${y + 92}" class="small bad">${e(failed)}</text>` : '') + '</g>');
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" class="topology" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${e(t('web.topology'))}">${parts.join('')}</svg>`;
}

/** What the SVG cannot say in a word: two primaries after a promotion, or none. */
export function topologyNotes(topo: Topology): string {
  const notes: string[] = [];
  const tli = (role: string) => topo.servers.find((v) => v.role === role)?.timeline ?? '?';
  if (topo.promoted) {
    const [a, b] = topo.primaries.map((r) => topo.servers.find((s) => s.role === r)!).sort((x, y) => (y.timeline ?? 0) - (x.timeline ?? 0));
    notes.push(t('topo.promoted', { promoted: a.role, tli: tli(a.role), old: b.role, oldTli: tli(b.role) }));
  } else if (!topo.primaries.length && topo.servers.some((s) => s.up)) notes.push(t('topo.noPrimary'));
  const main = topo.promoted ? undefined : topo.primaries[0];
  if (topo.archives.some((a) => a.from === main && a.state === 'off')) notes.push(`✗ ${t('topo.archiveOff', { role: main! })}`);
  const kind = (n: string) => (n.startsWith('✗') ? 'archive-off' : topo.promoted ? 'promoted' : 'no-primary');
  return notes.map((n) => `<p class="note" data-note="${kind(n)}">${e(n)}</p>`).join('');
}

// ---------------------------------------------------------------- checklist

export function checklistHtml(result: StepResult | undefined): string {
  if (!result) return `<p>${e(t('web.noData'))}</p>`;
  const items = result.checks.map((c) => {
    const lines = [`<span class="mark">${MARK[c.status]}</span> <span class="title">${e(c.title)}</span> <span class="pts">(${c.points}/${c.maxPoints})</span>`];
    if (c.status !== 'pass') {
      const observed = evidencePairs(c.evidence);
      lines.push(`<div class="detail"><b>${e(t('web.expected'))}:</b> ${e(c.expected)}</div>`,
        `<div class="detail"><b>${e(t('web.observed'))}:</b> ${observed.length ? observed.map((o) => e(o)).join('<br>') : '—'}</div>`);
      if (c.hint) lines.push(`<div class="detail hint"><b>${e(t('web.hint'))}:</b> ${hintHtml(c.hint)}</div>`);
    }
    return `<li class="check ${c.status}" data-check="${e(c.id)}" data-status="${c.status}">${lines.join('')}</li>`;
  });
  // Only ✓ counts as verified: a ! is a warning, not a pass.
  const passed = result.checks.filter((c) => c.status === 'pass').length;
  return `<ul class="checks" data-step="${e(result.step)}" data-passed="${result.passed}">${items.join('')}</ul>`
    + `<p class="summary">${e(t('check.summary', { passed, total: result.checks.length, points: result.points, maxPoints: result.maxPoints }))}</p>`;
}

// ---------------------------------------------------------------- chart

export interface ChartPoint { at: number; lagBytes?: number; waiting: number; lastArchived?: string }

/** Lag in bytes as a line, segments waiting as bars, a tick where a new segment was archived. */
export function chartSvg(history: ChartPoint[], minutes: number): string {
  const W = 640;
  const H = 140;
  const pad = 30;
  if (history.length < 2) return `<p class="small">${e(t('web.noData'))}</p>`;
  const t1 = history[history.length - 1].at;
  const t0 = t1 - minutes * 60_000;
  const px = (at: number) => pad + ((at - t0) / (t1 - t0)) * (W - 2 * pad);
  const maxLag = Math.max(1, ...history.map((p) => p.lagBytes ?? 0));
  const maxWait = Math.max(1, ...history.map((p) => p.waiting));
  const py = (v: number) => H - pad - (v / maxLag) * (H - 2 * pad);
  const line = history.filter((p) => p.lagBytes !== undefined).map((p) => `${px(p.at).toFixed(1)},${py(p.lagBytes!).toFixed(1)}`).join(' ');
  const bars = history.filter((p) => p.waiting > 0).map((p) => {
    const h = (p.waiting / maxWait) * (H - 2 * pad) * 0.5;
    return `<rect class="wait" x="${(px(p.at) - 1.5).toFixed(1)}" y="${(H - pad - h).toFixed(1)}" width="3" height="${h.toFixed(1)}"/>`;
  }).join('');
  const ticks = history.filter((p, i) => i > 0 && p.lastArchived && p.lastArchived !== history[i - 1].lastArchived)
    .map((p) => `<line class="archived" x1="${px(p.at).toFixed(1)}" x2="${px(p.at).toFixed(1)}" y1="${pad}" y2="${H - pad}"><title>${e(p.lastArchived)}</title></line>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">`
    + `<line class="axis" x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}"/>`
    + `<text x="${pad}" y="${pad - 8}" class="small">${e(`${maxLag} B`)}</text>`
    + `<text x="${pad}" y="${H - 8}" class="small">${e(time(t0))}</text><text x="${W - pad}" y="${H - 8}" class="small" text-anchor="end">${e(time(t1))}</text>`
    + bars + ticks + (line ? `<polyline class="lag" points="${line}"/>` : '') + '</svg>'
    + `<p class="legend small"><span class="k lag"></span>${e(t('web.chartLag'))} <span class="k archived"></span>${e(t('web.chartArchived'))} <span class="k wait"></span>${e(t('web.chartWaiting'))}</p>`;
}

export function changesHtml(changes: { at: number; text: string; kind: string }[]): string {
  if (!changes.length) return '';
  return `<ul class="changes">${changes.slice(-8).reverse().map((c) => `<li class="${e(c.kind)}"><span class="small">${e(time(c.at))}</span> ${e(c.text)}</li>`).join('')}</ul>`;
}

// ---------------------------------------------------------------- pages

const CSS = `body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1300px}h1{font-size:1.3em}h2{font-size:1.1em;border-bottom:1px solid #ccc}
.cols{display:flex;gap:2em;flex-wrap:wrap}.cols>section{flex:1 1 480px;min-width:0}.small{font-size:11px;fill:#555;color:#555}
svg.topology{max-width:100%;height:auto}svg .node rect{fill:#f4f4f4;stroke:#888;stroke-width:1.5}svg .node-primary rect{fill:#e5f3e5;stroke:#176117}
svg .node-standby rect{fill:#e6eef8;stroke:#2a5a9a}svg .node-down rect,svg .node-frozen rect{fill:#f8e6e6;stroke:#a00;stroke-dasharray:4 3}
svg .node-archive rect{fill:#fffbe6;stroke:#8a6d00}svg text{font-size:13px}svg text.role{font-weight:bold;font-size:15px}svg text.ip{fill:#555}
svg path.edge-ok,svg path.edge-bad,svg path.edge-wait{fill:none;stroke-width:2.5}.edge-ok{stroke:#176117}.edge-bad{stroke:#a00}.edge-wait{stroke:#b08000}
.mk-ok{fill:#176117}.mk-bad{fill:#a00}.mk-wait{fill:#b08000}
svg path.dashed{stroke-dasharray:7 5}svg path.dotted{stroke-dasharray:2 5}svg text.bad{fill:#a00}.note{background:#fff4d6;border-left:4px solid #b08000;padding:.5em .8em}
ul.checks{list-style:none;padding:0}li.check{margin:.4em 0;padding:.4em .6em;border-radius:6px;background:#f7f7f7}
li.pass .mark{color:#176117}li.fail .mark{color:#a00}li.warn .mark{color:#8a6d00}li.fail{background:#fdf0f0}.detail{font-size:.9em;margin:.2em 0 0 1.4em}
.hint{color:#333}.pts{color:#777;font-size:.85em}ul.changes{list-style:none;padding:0;font-size:.9em}ul.changes li.good{color:#176117}ul.changes li.bad{color:#a00}
svg.chart polyline.lag{fill:none;stroke:#2a5a9a;stroke-width:2}svg.chart rect.wait{fill:#d9a400}svg.chart line.archived{stroke:#176117;stroke-width:1;stroke-dasharray:2 2}
svg.chart line.axis{stroke:#999}.legend .k{display:inline-block;width:12px;height:4px;margin:0 4px 2px 10px}.legend .lag{background:#2a5a9a}.legend .archived{background:#176117}.legend .wait{background:#d9a400}
#offline{background:#a00;color:#fff;padding:.3em .6em}.exercise pre{background:#f4f4f4;padding:.6em;overflow-x:auto}.exercise code{font-size:.92em}
table.board{border-collapse:collapse}table.board td,table.board th{border:1px solid #bbb;padding:.3em .6em;text-align:center}table.board td.env{text-align:left}
td.pass{color:#176117}td.fail{color:#a00}td.none{color:#999}`;

/** The script of both pages: swap in the fragments each server-sent event carries; nothing else. */
const SCRIPT = `(function(){var el=document.body,src=el.getAttribute('data-events')+location.search;var off=document.getElementById('offline');
var es=new EventSource(src);es.onmessage=function(m){var d=JSON.parse(m.data);for(var id in d){var n=document.getElementById(id);if(n)n.innerHTML=d[id];}
if(off)off.hidden=true;document.body.setAttribute('data-updates',String(Number(document.body.getAttribute('data-updates')||0)+1));};
es.onerror=function(){if(off)off.hidden=false;};})();`;

export interface PageParts { [id: string]: string }

export function page(opts: { title: string; nonce: string; events: string; heading: string; parts: PageParts; layout: string }): string {
  let body = opts.layout;
  for (const [id, html] of Object.entries(opts.parts)) body = body.replace(`{{${id}}}`, () => html);
  return `<!DOCTYPE html><html lang="${lang()}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`
    + `<meta name="referrer" content="no-referrer"><title>${e(opts.title)}</title><style nonce="${opts.nonce}">${CSS}</style></head>`
    + `<body data-events="${e(opts.events)}" data-updates="0"><p id="offline" hidden>${e(t('web.offline'))}</p><h1>${opts.heading}</h1>${body}`
    + `<script nonce="${opts.nonce}">${SCRIPT}</script></body></html>`;
}

/** Fragments of the env page by element id (the SSE messages carry the same ids). */
export function envParts(
  snap: {
    topology?: Topology; result?: StepResult; history: ChartPoint[]; changes: { at: number; text: string; kind: string }[];
    at: number; error?: string; stepTitle: string; done?: string;
  },
  minutes: number,
): PageParts {
  return {
    status: `${e(t('web.updated', { time: time(snap.at) }))}${snap.error ? ` — <span class="bad">${e(t('watch.cycleFailed', { detail: snap.error, s: 2 }))}</span>` : ''}`,
    topology: snap.topology ? topologyNotes(snap.topology) + topologySvg(snap.topology) : `<p>${e(t('web.noData'))}</p>`,
    steptitle: e(snap.stepTitle),
    checklist: checklistHtml(snap.result) + (snap.done && snap.result?.passed ? `<p class="note">${e(snap.done)}</p>` : ''),
    chart: chartSvg(snap.history, minutes),
    changes: changesHtml(snap.changes),
  };
}

export const ENV_LAYOUT = `<p class="small" id="status">{{status}}</p><div class="cols"><section><h2>{{topologyTitle}}</h2><div id="topology">{{topology}}</div>
<h2>{{checklistTitle}}: <span id="steptitle">{{steptitle}}</span></h2><div id="checklist">{{checklist}}</div><div id="changes">{{changes}}</div>
<h2>{{chartTitle}}</h2><div id="chart">{{chart}}</div></section><section class="exercise"><h2>{{exerciseTitle}}</h2><div id="exercise">{{exercise}}</div></section></div>`;

// ---------------------------------------------------------------- class board

export interface BoardRow {
  env: string;
  /** step id → pass | fail | none */
  cells: Record<string, 'pass' | 'fail' | 'none'>;
  score: number;
  maxScore: number;
  lastActivity?: string;
  error?: string;
}

export function boardTable(steps: string[], rows: BoardRow[], token: string): string {
  const head = `<tr><th>${e(t('web.boardEnv'))}</th>${steps.map((s) => `<th>${e(s)}</th>`).join('')}<th>${e(t('web.boardScore'))}</th><th>${e(t('web.boardActivity'))}</th></tr>`;
  const body = rows.map((r) => {
    const cells = steps.map((s) => {
      const v = r.cells[s] ?? 'none';
      return `<td class="${v}" data-step="${e(s)}" data-status="${v}">${v === 'pass' ? '✓' : v === 'fail' ? '✗' : '·'}</td>`;
    }).join('');
    const activity = r.error ? `<span class="bad">${e(t('web.boardError', { detail: r.error }))}</span>` : r.lastActivity ? e(localTime(r.lastActivity)) : e(t('web.boardNever'));
    return `<tr data-env="${e(r.env)}"><td class="env"><a href="/env/${encodeURIComponent(r.env)}?token=${encodeURIComponent(token)}">${e(r.env)}</a></td>${cells}<td>${r.score}/${r.maxScore}</td><td>${activity}</td></tr>`;
  }).join('');
  return `<table class="board">${head}${body}</table>`;
}
