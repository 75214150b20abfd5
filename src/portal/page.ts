/**
 * HTML of the portal's two pages. No inline script: the pages load /assets/portal.js (CSP
 * `script-src 'self'`), and what the script needs (its base path, the terminals it may open, its
 * words) travels in data- attributes. Every string from an env or a roster goes through escapeHtml.
 */
import { lang, localized, t } from '../i18n/index.js';
import type { StepSpec } from '../lab/manifest.js';
import { escapeHtml as e } from '../render/escape.js';

export interface StepMark { id: string; title: string; status?: 'pass' | 'fail' | 'warn' | string }

const MARK: Record<string, string> = { pass: '✓', fail: '✗', warn: '!' };

/** The words portal.js shows, in the page's language. */
function clientWords(): Record<string, string> {
  return {
    connecting: t('portal.term.connecting'),
    reconnecting: t('portal.term.reconnecting'),
    lost: t('portal.term.lost'),
    newTerminal: t('portal.term.new'),
    checking: t('portal.check.running'),
    checkFailed: t('portal.check.failed'),
    grading: t('portal.grade.running'),
    gradeFailed: t('portal.grade.failed'),
  };
}

function head(title: string): string {
  return `<!DOCTYPE html><html lang="${lang()}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`
    + `<meta name="referrer" content="no-referrer"><title>${e(title)}</title>`
    + '<link rel="stylesheet" href="/assets/xterm.css"><link rel="stylesheet" href="/assets/portal.css">'
    + '<script src="/assets/xterm.js" defer></script><script src="/assets/addon-fit.js" defer></script><script src="/assets/portal.js" defer></script></head>';
}

export function progressHtml(steps: StepMark[], current: string, base: string): string {
  const items = steps.map((s) => {
    const mark = MARK[s.status ?? ''] ?? '·';
    const cls = s.status === 'pass' ? 'pass' : s.status === 'fail' ? 'fail' : 'none';
    const here = s.id === current ? ' aria-current="step"' : '';
    return `<li class="${cls}"><a href="${e(base)}/?step=${encodeURIComponent(s.id)}"${here}><span aria-hidden="true">${mark}</span> ${e(s.title)}</a></li>`;
  });
  return `<ol class="steps">${items.join('')}</ol>`;
}

export interface StudentPageOptions {
  /** /s/<secret> or /i/<secret>/env/<env> */
  base: string;
  env: string;
  who?: string;
  pg: string;
  labTitle: string;
  ips: { role: string; ip: string }[];
  step: StepSpec;
  steps: StepMark[];
  exercise: string;
  /** Terminals this page may open: every server, as root or postgres; none on the instructor's read-only view. */
  terminals: { server: string; users: string[] }[];
  readOnly: boolean;
}

export function studentPage(o: StudentPageOptions): string {
  const title = t('portal.student.title', { env: o.env });
  const ips = o.ips.map((s) => `${e(s.role)} <code>${e(s.ip)}</code>`).join(' · ');
  const tabs = o.terminals.flatMap((s) => s.users.map((u) => `<button type="button" role="tab" class="tab" data-server="${e(s.server)}" data-user="${e(u)}" aria-selected="false">${e(s.server)} (${e(u)})</button>`));
  const work = o.readOnly
    ? `<p class="note">${e(t('portal.readOnly'))}</p>`
    : `<div id="tabs" role="tablist" aria-label="${e(t('portal.term.tabs'))}">${tabs.join('')}</div><div id="terminals"></div>`;
  return `${head(title)}<body data-base="${e(o.base)}" data-step="${e(o.step.id)}" data-words="${e(JSON.stringify(clientWords()))}">`
    + `<header><h1>${e(title)}${o.who ? ` <small>${e(o.who)}</small>` : ''}</h1><p class="small">PostgreSQL ${e(o.pg)} · ${e(o.labTitle)} · ${ips}</p></header>`
    + `<nav aria-label="${e(t('portal.progress'))}"><h2>${e(t('portal.progress'))}</h2><div id="progress">${progressHtml(o.steps, o.step.id, o.base)}</div></nav>`
    + '<main class="cols">'
    + `<section class="exercise" aria-label="${e(localized(o.step.title))}"><article id="exercise">${o.exercise}</article></section>`
    + `<section class="work"><h2>${e(t('portal.terminals'))}</h2>${work}`
    + `<h2>${e(t('portal.check.title'))}</h2><button type="button" id="check">${e(t('portal.check.button', { step: o.step.id }))}</button><div id="checklist" aria-live="polite"></div>`
    + `<h2>${e(t('web.topology'))}</h2><div id="topology" aria-live="polite"></div></section></main></body></html>`;
}

export interface InstructorRow { env: string; name?: string; email?: string; link: string; state: string }

/** The board: one row per env; step cells and the grade are filled by "Calcular notas" (lab grade's own result). */
export function instructorPage(o: { className: string; base: string; rows: InstructorRow[]; steps: { id: string; title: string }[] }): string {
  const title = t('portal.instructor.title', { class: o.className });
  const stepCells = o.steps.map((s) => `<td class="step" data-step="${e(s.id)}">·</td>`).join('');
  const rows = o.rows.map((r) => `<tr data-env="${e(r.env)}"><td><a href="${e(r.link)}">${e(r.env)}</a></td><td>${e(r.name ?? '')}</td><td>${e(r.email ?? '')}</td><td>${e(r.state)}</td>${stepCells}<td class="score">—</td></tr>`);
  const head2 = [t('portal.col.env'), t('portal.col.name'), t('portal.col.email'), t('portal.col.state')].map((h) => `<th scope="col">${e(h)}</th>`).join('')
    + o.steps.map((s, i) => `<th scope="col" title="${e(s.title)}">${i + 1}</th>`).join('') + `<th scope="col">${e(t('portal.col.score'))}</th>`;
  return `${head(title)}<body data-base="${e(o.base)}" data-words="${e(JSON.stringify(clientWords()))}"><header><h1>${e(title)}</h1></header><main>`
    + `<p><button type="button" id="grade">${e(t('portal.grade.button'))}</button> <span id="gradestatus" aria-live="polite"></span></p>`
    + `<table id="board"><thead><tr>${head2}</tr></thead><tbody>${rows.join('')}</tbody></table>`
    + `<p class="small">${e(t('portal.exports'))} <a href="${e(o.base)}/report.csv" download>CSV</a> · <a href="${e(o.base)}/report.json" download>JSON</a> · <a href="${e(o.base)}/report.html">HTML</a></p>`
    + '</main></body></html>';
}
