/**
 * HTML for `lab web` and `lab class web`: the topology as SVG, the checklist, the chart, the
 * changes, the class board. Every string that comes from an env (table and application names,
 * evidence, archive_command, errors) goes through escapeHtml, the same escaping as the HTML
 * report; the pages are server-rendered fragments the browser only swaps in.
 */
import { lang, t } from '../i18n/index.js';
import { localTime } from '../i18n/time.js';
import type { CheckResult, StepResult } from '../lab/runner.js';
import { archivesToShow, type Topology } from '../lab/topology.js';
import type { ChartPoint } from '../pg/recorder.js';
import { escapeHtml as e, hintHtml } from './escape.js';
import { evidencePairs } from './evidence.js';
import { ageText, archiveFailingText, topologyLines } from './topology-text.js';

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

const MARK: Record<CheckResult['status'], string> = { pass: '✓', fail: '✗', warn: '!' };

/** Text for people, escaped, with its `backticks` shown as code: the hints' rule (hintHtml), for every line the pages say. */
export const codeHtml = hintHtml;
const time = (ms: number) => localTime(new Date(ms).toISOString());

// ---------------------------------------------------------------- topology

const NODE_W = 230;
const NODE_H = 84;
const GAP = 110;

/**
 * Servers in a row (primaries first), streaming edges as arrows above, archive edges as dashed
 * arrows below. Attributes (data-role, data-kind, data-edge…) name what is drawn, for tests.
 */
export function topologySvg(topo: Topology): string {
  const order = [...topo.servers].sort((a, b) => Number(!!b.primary && b.up) - Number(!!a.primary && a.up));
  const archiveNode = archivesToShow(topo).some((a) => a.state !== 'off' && !a.to);
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
      + `<text x="${x0 + 12}" y="${top + 24}" class="role">${e(s.role)}</text>`
      + `<text x="${x0 + NODE_W - 12}" y="${top + 24}" class="ip" text-anchor="end">${e(s.ip)}</text>`
      + `<text x="${x0 + 12}" y="${top + 48}">${e([state, role].filter(Boolean).join(' · '))}</text>`
      + `<text x="${x0 + 12}" y="${top + 70}" class="small">${e([tli, s.lsn ?? ''].filter(Boolean).join(' · '))}</text></g>`);
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
  // Archive edges: arcs below the row (the same edges `lab status` shows: none broken after a promotion).
  for (const a of archivesToShow(topo)) {
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
      + (failed ? `<text x="${Math.min(x1, x2)}" y="${y + 96}" class="small bad">${e(failed)}</text>` : '') + '</g>');
  }
  const said = topologySentences(topo);
  return `<svg xmlns="http://www.w3.org/2000/svg" class="topology" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${e(`${t('web.topology')}: ${said.join('; ')}`)}">${parts.join('')}</svg>`
    + `<div class="sr-only" data-text="topology"><h3>${e(t('web.topologyText'))}</h3><ul>${said.map((l) => `<li>${e(l)}</li>`).join('')}</ul></div>`;
}

/** What the drawing shows, in sentences (screen readers read these; the edges as `lab status` says them). */
export function topologySentences(topo: Topology): string[] {
  const servers = topo.servers.map((s) => {
    const state = s.up ? t('topo.up') : s.frozen ? t('topo.frozen') : t('topo.down');
    const role = s.up ? t(s.primary ? 'topo.primary' : 'topo.standby') : '';
    return [`${s.role} (${s.ip})`, state, role, s.timeline ? t('topo.timeline', { tli: s.timeline }) : ''].filter(Boolean).join(', ');
  });
  const edges = topologyLines(topo).map((l) => stripAnsi(l).replace(/\s*──▶\s*/g, ' → ').replace(/\s*──\s*/g, ' ').replace(/\s{2,}/g, ' ').trim());
  return [...servers, ...edges];
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

/** `hints: false` when the containers are stopped: every hint would say to start PostgreSQL inside one. */
export function checklistHtml(result: StepResult | undefined, opts: { hints?: boolean } = {}): string {
  if (!result) return `<p>${e(t('web.noData'))}</p>`;
  const items = result.checks.map((c) => {
    const lines = [`<span class="mark">${MARK[c.status]}</span> <span class="title">${e(c.title)}</span> <span class="pts">(${c.points}/${c.maxPoints})</span>`];
    if (c.status !== 'pass') {
      const observed = evidencePairs(c.evidence);
      lines.push(`<div class="detail"><b>${e(t('web.expected'))}:</b> ${e(c.expected)}</div>`,
        `<div class="detail"><b>${e(t('web.observed'))}:</b> ${observed.length ? observed.map((o) => e(o)).join('<br>') : '—'}</div>`);
      if (c.hint && opts.hints !== false) lines.push(`<div class="detail hint"><b>${e(t('web.hint'))}:</b> ${hintHtml(c.hint)}</div>`);
    }
    return `<li class="check ${c.status}" data-check="${e(c.id)}" data-status="${c.status}">${lines.join('')}</li>`;
  });
  // Only ✓ counts as verified: a ! is a warning, not a pass.
  const passed = result.checks.filter((c) => c.status === 'pass').length;
  return `<ul class="checks" data-step="${e(result.step)}" data-passed="${result.passed}">${items.join('')}</ul>`
    + `<p class="summary">${e(t('check.summary', { passed, total: result.checks.length, points: result.points, maxPoints: result.maxPoints }))}</p>`;
}

// ---------------------------------------------------------------- chart

/** "512 B", "3.2 kB", "16 MB": an axis label read at a glance. */
export function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} kB`;
  return `${(n / 1024 / 1024).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}

/** Colours of the primaries' series, in order (each at least 4.5:1 on white: lines and their legend text). */
const SERIES = ['#1f4e8c', '#8a3b00', '#5b2a86'];

/**
 * One lag line per primary (bytes sent that its standbys had not received), its segments waiting as
 * bars and a tick where that primary archived a new segment; labelled axes. With no streaming in
 * the window it says so instead of drawing a flat line that means nothing.
 */
export function chartSvg(history: ChartPoint[], minutes: number): string {
  // Fits one of the page's two columns at full width (about 600 px), so it is drawn at its own size.
  const W = 600;
  const H = 220;
  const [left, right, top, bottom] = [64, 16, 20, 44];
  if (history.length < 2) return `<p class="small">${e(t('web.noData'))}</p>`;
  const t1 = history[history.length - 1].at;
  const t0 = t1 - minutes * 60_000;
  const px = (at: number) => left + ((at - t0) / (t1 - t0)) * (W - left - right);
  const roles = [...new Set(history.map((p) => p.role))];
  // By class, not a style attribute: the page's CSP allows only its own stylesheet.
  const series = (role: string) => `s${roles.indexOf(role) % SERIES.length}`;
  const lagged = history.filter((p) => p.lagBytes !== undefined);
  // At least 64 kB tall: reading two servers a few ms apart can catch a probe's write sent and not yet
  // received (a few hundred bytes), which must look like the nothing it is, not fill the chart.
  const maxLag = Math.max(64 * 1024, ...lagged.map((p) => p.lagBytes!));
  const maxWait = Math.max(1, ...history.map((p) => p.waiting));
  const py = (v: number) => H - bottom - (v / maxLag) * (H - top - bottom);
  const parts: string[] = [];
  parts.push(`<line class="axis" x1="${left}" y1="${H - bottom}" x2="${W - right}" y2="${H - bottom}"/><line class="axis" x1="${left}" y1="${top}" x2="${left}" y2="${H - bottom}"/>`);
  parts.push(`<text x="${left - 6}" y="${top + 5}" class="small" text-anchor="end">${e(bytesText(maxLag))}</text><text x="${left - 6}" y="${H - bottom + 5}" class="small" text-anchor="end">0</text>`);
  parts.push(`<text class="small axis-label" transform="translate(14 ${(top + H - bottom) / 2}) rotate(-90)" text-anchor="middle">${e(t('web.chartLagAxis'))}</text>`);
  parts.push(`<text x="${left}" y="${H - bottom + 20}" class="small">${e(time(t0))}</text><text x="${W - right}" y="${H - bottom + 20}" class="small" text-anchor="end">${e(time(t1))}</text>`);
  parts.push(`<text x="${(left + W - right) / 2}" y="${H - 6}" class="small axis-label" text-anchor="middle">${e(t('web.chartTimeAxis'))}</text>`);
  for (const role of roles) {
    const mine = history.filter((p) => p.role === role);
    for (const p of mine.filter((q) => q.waiting > 0)) {
      const h = (p.waiting / maxWait) * (H - top - bottom) * 0.5;
      parts.push(`<rect class="wait" data-role="${e(role)}" x="${(px(p.at) - 1.5).toFixed(1)}" y="${(H - bottom - h).toFixed(1)}" width="3" height="${h.toFixed(1)}"/>`);
    }
    // A tick only where this primary's own last archived segment changed.
    mine.forEach((p, i) => {
      if (i === 0 || !p.lastArchived || p.lastArchived === mine[i - 1].lastArchived) return;
      parts.push(`<line class="archived" data-role="${e(role)}" x1="${px(p.at).toFixed(1)}" x2="${px(p.at).toFixed(1)}" y1="${top}" y2="${H - bottom}"><title>${e(`${role}: ${p.lastArchived}`)}</title></line>`);
    });
    // The line breaks where nothing streamed (no point is drawn for a moment without a standby).
    const runs: ChartPoint[][] = [];
    mine.forEach((p, i) => {
      if (p.lagBytes === undefined) return;
      if (i > 0 && mine[i - 1].lagBytes !== undefined && runs.length) runs[runs.length - 1].push(p);
      else runs.push([p]);
    });
    for (const run of runs) {
      const pts = run.map((p) => `${px(p.at).toFixed(1)},${py(p.lagBytes!).toFixed(1)}`).join(' ');
      parts.push(run.length > 1 ? `<polyline class="lag ${series(role)}" data-role="${e(role)}" points="${pts}"/>`
        : `<circle class="lag ${series(role)}" data-role="${e(role)}" cx="${px(run[0].at).toFixed(1)}" cy="${py(run[0].lagBytes!).toFixed(1)}" r="2.5"/>`);
    }
  }
  if (!lagged.length) parts.push(`<text x="${(left + W - right) / 2}" y="${(top + H - bottom) / 2}" class="nostream" text-anchor="middle" data-note="no-streaming">${e(t('web.chartNoStreaming'))}</text>`);
  const legend = [
    ...roles.filter((r) => lagged.some((p) => p.role === r)).map((r) => `<span class="k ${series(r)}"></span>${e(t('web.chartSeries', { role: r }))}`),
    `<span class="k archived"></span>${e(t('web.chartArchived'))}`,
    `<span class="k wait"></span>${e(t('web.chartWaiting'))}`,
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${e(t('web.chartLagAxis'))}">${parts.join('')}</svg>`
    + `<p class="legend small">${legend.join(' ')}</p>`;
}

export function changesHtml(changes: { at: number; text: string; kind: string }[]): string {
  if (!changes.length) return '';
  return `<ul class="changes">${changes.slice(-8).reverse().map((c) => `<li class="${e(c.kind)}"><span class="small">${e(time(c.at))}</span> ${e(c.text)}</li>`).join('')}</ul>`;
}

// ---------------------------------------------------------------- pages

/**
 * Colours meet WCAG AA on the backgrounds they sit on (test/unit/live.test.ts measures them): 4.5:1
 * for text, 3:1 for lines, marks and bars. The diagrams are drawn at their own size (scrolled, never
 * shrunk), so their text stays at least 14 px.
 */
export const CSS = `body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1300px}h1{font-size:1.3em}h2{font-size:1.1em;border-bottom:1px solid #ccc}
.cols{display:flex;gap:2em;flex-wrap:wrap}.cols>section{flex:1 1 480px;min-width:0}.small{font-size:14px;color:#555}svg .small{fill:#555}
.diagram{overflow-x:auto}.diagram svg{display:block;max-width:none}.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
svg .node rect{fill:#f4f4f4;stroke:#767676;stroke-width:1.5}svg .node-primary rect{fill:#e5f3e5;stroke:#176117}
svg .node-standby rect{fill:#e6eef8;stroke:#2a5a9a}svg .node-down rect,svg .node-frozen rect{fill:#f8e6e6;stroke:#a00;stroke-dasharray:4 3}
svg .node-archive rect{fill:#fffbe6;stroke:#7a5c00}svg text{font-size:15px;fill:#222}svg text.role{font-weight:bold;font-size:17px}svg text.ip{fill:#555}svg text.small{font-size:14px}
svg path.edge-ok,svg path.edge-bad,svg path.edge-wait{fill:none;stroke-width:2.5}.edge-ok{stroke:#176117}.edge-bad{stroke:#a00}.edge-wait{stroke:#8a6500}
.mk-ok{fill:#176117}.mk-bad{fill:#a00}.mk-wait{fill:#8a6500}
svg path.dashed{stroke-dasharray:7 5}svg path.dotted{stroke-dasharray:2 5}svg text.bad,.bad{fill:#a00;color:#a00}.note{background:#fff4d6;border-left:4px solid #8a6500;padding:.5em .8em}
ul.checks{list-style:none;padding:0}li.check{margin:.4em 0;padding:.4em .6em;border-radius:6px;background:#f7f7f7}
li.pass .mark{color:#176117}li.fail .mark{color:#a00}li.warn .mark{color:#7a5c00}li.fail{background:#fdf0f0}.detail{font-size:.9em;margin:.2em 0 0 1.4em}
.hint{color:#333}.pts{color:#555;font-size:.85em}ul.changes{list-style:none;padding:0;font-size:.9em}ul.changes li.good{color:#176117}ul.changes li.bad{color:#a00}
code{background:#eee;padding:0 .2em;border-radius:3px;font-size:.92em}
svg.chart .lag{fill:none;stroke-width:2}svg.chart circle.lag{stroke:none}svg.chart .s0{stroke:#1f4e8c}svg.chart circle.s0{fill:#1f4e8c}svg.chart .s1{stroke:#8a3b00}svg.chart circle.s1{fill:#8a3b00}
svg.chart .s2{stroke:#5b2a86}svg.chart circle.s2{fill:#5b2a86}svg.chart rect.wait{fill:#8a6500}svg.chart line.archived{stroke:#176117;stroke-width:1.5;stroke-dasharray:3 2}
svg.chart line.axis{stroke:#767676}svg.chart text.nostream{font-size:15px;fill:#222}
.legend .k{display:inline-block;width:14px;height:6px;margin:0 4px 2px 10px}.legend .s0{background:#1f4e8c}.legend .s1{background:#8a3b00}.legend .s2{background:#5b2a86}
.legend .archived{background:#176117}.legend .wait{background:#8a6500}
#offline,#gone{background:#a00;color:#fff;padding:.3em .6em}#gone code{color:#222}.exercise pre{background:#f4f4f4;padding:.6em;overflow-x:auto}
table.board{border-collapse:collapse}table.board td,table.board th{border:1px solid #bbb;padding:.3em .6em;text-align:center}table.board td.env,table.board td.student{text-align:left}
td.pass{color:#176117}td.fail,td.partial{color:#a00}td.none{color:#595959}`;

/**
 * The script of both pages: swap in the fragments each server-sent event carries; nothing else.
 * A stream the browser gave up on (a refused reconnection) asks /alive why: 401/403 means `lab web`
 * restarted with another token, and the page says so instead of "retrying" forever.
 */
const SCRIPT = `(function(){var el=document.body,src=el.getAttribute('data-events')+location.search;var off=document.getElementById('offline');
var gone=document.getElementById('gone'),es;
function open(){es=new EventSource(src);es.onmessage=function(m){var d=JSON.parse(m.data);for(var id in d){var n=document.getElementById(id);if(n)n.innerHTML=d[id];}
if(off)off.hidden=true;document.body.setAttribute('data-updates',String(Number(document.body.getAttribute('data-updates')||0)+1));};
es.onerror=function(){if(off)off.hidden=false;if(es.readyState!==2)return;
fetch('/alive'+location.search,{cache:'no-store'}).then(function(r){if(r.status===401||r.status===403){if(off)off.hidden=true;if(gone)gone.hidden=false;document.body.setAttribute('data-state','token-changed');}
else setTimeout(open,3000);},function(){setTimeout(open,3000);});};}
open();})();`;

export interface PageParts { [id: string]: string }

export function page(opts: { title: string; nonce: string; events: string; heading: string; parts: PageParts; layout: string }): string {
  let body = opts.layout;
  for (const [id, html] of Object.entries(opts.parts)) body = body.replace(`{{${id}}}`, () => html);
  return `<!DOCTYPE html><html lang="${lang()}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`
    + `<meta name="referrer" content="no-referrer"><title>${e(opts.title)}</title><style nonce="${opts.nonce}">${CSS}</style></head>`
    + `<body data-events="${e(opts.events)}" data-updates="0"><p id="offline" role="status" hidden>${e(t('web.offline'))}</p><p id="gone" role="alert" hidden>${codeHtml(t('web.tokenChanged'))}</p><h1>${opts.heading}</h1>${body}`
    + `<script nonce="${opts.nonce}">${SCRIPT}</script></body></html>`;
}

/** Fragments of the env page by element id (the SSE messages carry the same ids). */
export function envParts(
  snap: {
    env?: { name: string; servers: { role: string; state: string }[] }; topology?: Topology; result?: StepResult; history: ChartPoint[];
    changes: { at: number; text: string; kind: string }[]; at: number; error?: string; stepTitle: string; done?: string;
  },
  minutes: number,
): PageParts {
  // A stopped container is started with `lab up`, not from inside it: said before the checklist, whose hints assume it runs.
  const stopped = (snap.env?.servers ?? []).filter((s) => s.state !== 'running').map((s) => s.role);
  const stoppedNote = stopped.length ? `<p class="note" data-note="stopped">${codeHtml(t('web.stopped', { roles: stopped.join(', '), env: snap.env!.name }))}</p>` : '';
  return {
    status: `${e(t('web.updated', { time: time(snap.at) }))}${snap.error ? ` — <span class="bad">${e(t('watch.cycleFailed', { detail: snap.error, s: 2 }))}</span>` : ''}`,
    topology: snap.topology ? topologyNotes(snap.topology) + topologySvg(snap.topology) : `<p>${e(t('web.noData'))}</p>`,
    steptitle: e(snap.stepTitle),
    checklist: stoppedNote + checklistHtml(snap.result, { hints: !stopped.length }) + (snap.done && snap.result?.passed ? `<p class="note">${codeHtml(snap.done)}</p>` : ''),
    chart: chartSvg(snap.history, minutes),
    changes: changesHtml(snap.changes),
  };
}

// The topology spans the page (drawn at its own size, its text stays legible); the checklist and the exercise side by side below.
export const ENV_LAYOUT = `<p class="small" id="status">{{status}}</p><h2>{{topologyTitle}}</h2><div id="topology" class="diagram">{{topology}}</div>
<div class="cols"><section><h2>{{checklistTitle}}: <span id="steptitle">{{steptitle}}</span></h2><div id="checklist">{{checklist}}</div><div id="changes">{{changes}}</div>
<h2>{{chartTitle}}</h2><div id="chart" class="diagram">{{chart}}</div></section><section class="exercise"><h2>{{exerciseTitle}}</h2><div id="exercise">{{exercise}}</div></section></div>`;

// ---------------------------------------------------------------- class board

export interface BoardCell {
  /** pass: every check; partial: some points; none: no points yet (never ✗ from a mere look). */
  status: 'pass' | 'partial' | 'none';
  points: number;
  maxPoints: number;
}

export interface BoardRow {
  env: string;
  /** The student's name, when the class knows it. */
  student?: string;
  /** step id → what `lab grade` gives that step now */
  cells: Record<string, BoardCell>;
  score: number;
  maxScore: number;
  /** The last record the student's own runs wrote (ISO). */
  lastActivity?: string;
  error?: string;
}

export function boardTable(steps: string[], rows: BoardRow[], token: string): string {
  const students = rows.some((r) => r.student);
  const head = `<tr><th scope="col">${e(t('web.boardEnv'))}</th>${students ? `<th scope="col">${e(t('web.boardStudent'))}</th>` : ''}`
    + `${steps.map((s) => `<th scope="col">${e(s)}</th>`).join('')}<th scope="col">${e(t('web.boardScore'))}</th><th scope="col">${e(t('web.boardActivity'))}</th></tr>`;
  const body = rows.map((r) => {
    const cells = steps.map((s) => {
      const c = r.cells[s] ?? { status: 'none', points: 0, maxPoints: 0 };
      const text = c.status === 'pass' ? '✓' : c.status === 'partial' ? `${c.points}/${c.maxPoints}` : '·';
      return `<td class="${c.status}" data-step="${e(s)}" data-status="${c.status}" title="${e(`${s}: ${c.points}/${c.maxPoints}`)}">${e(text)}</td>`;
    }).join('');
    const activity = r.lastActivity ? e(localTime(r.lastActivity)) : e(t('web.boardNever'));
    const error = r.error ? `<br><span class="bad" data-error="1">${codeHtml(t('web.boardError', { detail: r.error }))}</span>` : '';
    return `<tr data-env="${e(r.env)}"><td class="env"><a href="/env/${encodeURIComponent(r.env)}?token=${encodeURIComponent(token)}">${e(r.env)}</a>${error}</td>`
      + `${students ? `<td class="student">${e(r.student ?? '')}</td>` : ''}${cells}<td>${r.score}/${r.maxScore}</td><td>${activity}</td></tr>`;
  }).join('');
  return `<table class="board">${head}${body}</table><p class="legend small">${codeHtml(t('web.boardLegend'))}</p>`;
}
