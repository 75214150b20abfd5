/**
 * Instructor report formats from one GradeReport: text, json, md, html (self-contained, every
 * student-controlled string escaped), csv (one row per env, for a gradebook), junit (CI autograders).
 * Text, md and html show times in local time; json, csv and junit keep ISO (UTC) for machines.
 */
import type { CopyFlag, EnvGrade, GradeReport } from '../lab/grade.js';
import type { StudentInfo } from '../env/env.js';
import type { CheckResult } from '../lab/runner.js';
import { formatEvidence } from '../render/checklist.js';
import { escapeHtml, hintHtml } from '../render/escape.js';
import { lang, t } from '../i18n/index.js';
import { localTime } from '../i18n/time.js';

export const FORMATS = ['text', 'json', 'md', 'html', 'csv', 'junit', 'moodle'] as const;
export type ReportFormat = (typeof FORMATS)[number];

/** Labels of the human-readable formats, in the current language (machine formats keep English keys). */
const L = () => ({
  env: t('report.env'), score: t('report.score'), step: t('report.step'), check: t('report.check'), status: t('report.status'),
  points: t('report.points'), evidence: t('report.evidence'), hint: t('report.hint'), graded: t('report.graded'), pg: t('report.pg'),
  image: t('report.image'), firstPassed: t('report.firstPassed'), error: t('report.error'), before: t('report.before'), solved: t('report.solved'), solvedCounted: t('check.solved'),
});

const MARK: Record<CheckResult['status'], string> = { pass: '✓', fail: '✗', warn: '!' };

export interface RenderOptions {
  /** moodle: the grade a full score is worth (Moodle's grade item maximum). */
  scale?: number;
}

export function renderReport(report: GradeReport, format: ReportFormat, opts: RenderOptions = {}): string {
  switch (format) {
    case 'moodle': return toMoodle(report, opts.scale ?? DEFAULT_SCALE);
    case 'json': return JSON.stringify(report, null, 2) + '\n';
    case 'text': return toText(report);
    case 'md': return toMarkdown(report);
    case 'html': return toHtml(report);
    case 'csv': return toCsv(report);
    case 'junit': return toJunit(report);
  }
}

function scoreLine(g: EnvGrade): string {
  return `${g.score}/${g.maxScore} (${g.percentage}%)`;
}

/** "Pérez, Ana <ana@x> (legajo 123)"; '' when nothing is known. */
export function studentLine(s: StudentInfo | undefined): string {
  if (!s) return '';
  const parts = [s.name, s.email ? `<${s.email}>` : undefined, s.legajo ? `(${t('report.legajo')} ${s.legajo})` : undefined].filter(Boolean);
  return parts.join(' ');
}

/** One flag in words: "mismo identificador de sistema (7312…) que alumno02 (Gómez, Luis)". */
export function flagText(f: CopyFlag): string {
  const who = f.withStudent?.name ?? f.withStudent?.legajo;
  const key = f.kind === 'wal-segment' ? 'report.flagWal' : f.kind === 'env-identity' ? 'report.flagEnv' : 'report.flagSysid';
  return t(key, { value: f.value, with: who ? `${f.with} (${who})` : f.with });
}

const missingText = (m: NonNullable<GradeReport['missing']>[number]) => (m.reason === 'no-handin' ? t('handin.missing') : t('report.missingEnv', { env: m.env }));

const flagsOf = (g: EnvGrade) => (g.flags ?? []).map(flagText);

function toText(report: GradeReport): string {
  const l = L();
  const out: string[] = [];
  for (const g of report.envs) {
    out.push(`${l.env} ${g.env}${g.handin ? ` (${g.handin})` : ''} — ${l.pg} ${g.pg || '—'} — ${l.score} ${scoreLine(g)} — ${l.graded} ${localTime(g.gradedAt)}`);
    if (g.student) out.push(`  ${t('report.student')}: ${studentLine(g.student)}`);
    for (const f of flagsOf(g)) out.push(`  ⚠ ${t('report.flags')}: ${f}`);
    if (g.error) out.push(`  ${l.error}: ${g.error}`);
    for (const s of g.steps) {
      out.push(`  ${s.passed ? '✓' : '✗'} ${s.title}: ${s.points}/${s.maxPoints}${s.firstPassed ? ` (${l.firstPassed} ${localTime(s.firstPassed)})` : ''}${s.solvedAt ? ` — ${s.earnedPoints === undefined ? l.solvedCounted : l.solved}` : ''}`);
      for (const c of s.checks) {
        out.push(`      ${MARK[c.status]} ${c.title} [${c.points}/${c.maxPoints}] ${formatEvidence(c.evidence)}${c.passedBefore ? ` — ${l.before} ${localTime(c.passedBefore)}` : ''}`);
      }
    }
    out.push('');
  }
  for (const m of report.missing ?? []) out.push(`${missingText(m)} — ${studentLine(m.student)}`, '');
  return out.join('\n');
}

/** Markdown table cells: escape pipes and HTML-significant characters, keep one line. */
function mdCell(s: string | number): string {
  return String(s).replace(/[\\|`*_<>]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');
}

function toMarkdown(report: GradeReport): string {
  const l = L();
  const out = [`# ${mdCell(report.labTitle)}`, '', `${l.graded}: ${localTime(report.gradedAt)}`, '', `| ${l.env} | ${l.pg} | ${l.score} | % |`, '|---|---|---|---|'];
  for (const g of report.envs) out.push(`| ${mdCell(g.env)} | ${g.pg} | ${g.score}/${g.maxScore} | ${g.percentage} |`);
  for (const g of report.envs) {
    out.push('', `## ${mdCell(g.env)} — ${scoreLine(g)}`, '', `${l.pg} ${g.pg} · ${l.image} ${mdCell(g.imageId ?? '—')} · ${l.graded} ${localTime(g.gradedAt)}`);
    if (g.student) out.push('', `${mdCell(t('report.student'))}: ${mdCell(studentLine(g.student))}`);
    for (const f of flagsOf(g)) out.push('', `**⚠ ${mdCell(t('report.flags'))}:** ${mdCell(f)}`);
    if (g.error) out.push('', `**${l.error}:** ${mdCell(g.error)}`);
    for (const s of g.steps) {
      out.push('', `### ${mdCell(s.title)} — ${s.points}/${s.maxPoints}${s.solvedAt ? ` — ${mdCell(s.earnedPoints === undefined ? l.solvedCounted : l.solved)}` : ''}`, '', `| | ${l.check} | ${l.points} | ${l.evidence} |`, '|---|---|---|---|');
      for (const c of s.checks) out.push(`| ${MARK[c.status]} | ${mdCell(c.title)} | ${c.points}/${c.maxPoints} | ${mdCell(formatEvidence(c.evidence))}${c.passedBefore ? ` (${mdCell(l.before)} ${localTime(c.passedBefore)})` : ''} |`);
    }
  }
  for (const m of report.missing ?? []) out.push('', `## ${mdCell(m.env)} — ${mdCell(missingText(m))}`, '', mdCell(studentLine(m.student)));
  return out.join('\n') + '\n';
}

function toHtml(report: GradeReport): string {
  const l = L();
  const e = escapeHtml;
  const css = `body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%}
td,th{border:1px solid #bbb;padding:.3em .5em;text-align:left;vertical-align:top;font-size:.9em}th{background:#eee}
.pass{color:#176117}.fail{color:#a00}.warn{color:#8a6d00}.ev{font-family:monospace;font-size:.85em;word-break:break-all}
h2{border-bottom:2px solid #444;padding-bottom:.2em;page-break-before:always}h2:first-of-type{page-break-before:auto}
.summary td:nth-child(3),.summary td:nth-child(4){text-align:right}@media print{body{margin:0}}`;
  const parts = [`<!DOCTYPE html><html lang="${lang()}"><head><meta charset="utf-8"><title>${e(report.labTitle)}</title><style>${css}</style></head><body>`,
    `<h1>${e(report.labTitle)}</h1><p>${e(l.graded)}: ${e(localTime(report.gradedAt))}</p>`,
    `<table class="summary"><tr><th>${e(l.env)}</th><th>${e(l.pg)}</th><th>${e(l.score)}</th><th>%</th></tr>`,
    ...report.envs.map((g) => `<tr><td>${e(g.env)}</td><td>${e(g.pg)}</td><td>${g.score}/${g.maxScore}</td><td>${g.percentage}</td></tr>`),
    '</table>'];
  for (const g of report.envs) {
    parts.push(`<h2>${e(g.env)} — ${e(scoreLine(g))}</h2><p>${e(l.pg)} ${e(g.pg)} · ${e(l.image)} <span class="ev">${e(g.imageId ?? '—')}</span> · ${e(l.graded)} ${e(localTime(g.gradedAt))}</p>`);
    if (g.student) parts.push(`<p>${e(t('report.student'))}: ${e(studentLine(g.student))}</p>`);
    for (const f of flagsOf(g)) parts.push(`<p class="warn"><b>⚠ ${e(t('report.flags'))}:</b> ${e(f)}</p>`);
    if (g.error) parts.push(`<p class="fail"><b>${e(l.error)}:</b> ${e(g.error)}</p>`);
    for (const s of g.steps) {
      parts.push(`<h3>${e(s.title)} — ${s.points}/${s.maxPoints}${s.firstPassed ? ` <small>(${e(l.firstPassed)} ${e(localTime(s.firstPassed))})</small>` : ''}${s.solvedAt ? ` <small>(${e(s.earnedPoints === undefined ? l.solvedCounted : l.solved)})</small>` : ''}</h3>`,
        `<table><tr><th></th><th>${e(l.check)}</th><th>${e(l.points)}</th><th>${e(l.evidence)}</th><th>${e(l.hint)}</th></tr>`);
      for (const c of s.checks) {
        const ev = Object.entries(c.evidence).map(([k, v]) => `${e(k)}=${e(v)}`).join('<br>') + (c.passedBefore ? `<br><i>${e(l.before)} ${e(localTime(c.passedBefore))}</i>` : '');
        parts.push(`<tr><td class="${c.status}">${MARK[c.status]}</td><td>${e(c.title)}</td><td>${c.points}/${c.maxPoints}</td><td class="ev">${ev || '—'}</td><td>${c.status === 'pass' ? '' : hintHtml(c.hint ?? '')}</td></tr>`);
      }
      parts.push('</table>');
    }
  }
  for (const m of report.missing ?? []) parts.push(`<h2>${e(m.env)} — ${e(missingText(m))}</h2><p>${e(studentLine(m.student))}</p>`);
  parts.push('</body></html>');
  return parts.join('\n') + '\n';
}

/** RFC 4180 quoting; a leading = + - @ is neutralised so a spreadsheet never runs it as a formula. */
export function csvCell(v: string | number | undefined): string {
  let s = String(v ?? '');
  if (/^[=+\-@]/.test(s) && !/^-?\d/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function toCsv(report: GradeReport): string {
  const stepIds = [...new Set(report.envs.flatMap((g) => g.steps.map((s) => s.step)))];
  // Student columns and the alerts go last, so the columns older reports had keep their places.
  const header = ['env', 'pg', 'score', 'maxScore', 'percentage', ...stepIds, 'gradedAt', 'error', 'legajo', 'nombre', 'email', 'alertas'];
  const rows = report.envs.map((g) => [g.env, g.pg, g.score, g.maxScore, g.percentage,
    ...stepIds.map((id) => { const s = g.steps.find((x) => x.step === id); return s ? s.points : ''; }), g.gradedAt, g.error ?? '',
    g.student?.legajo ?? '', g.student?.name ?? '', g.student?.email ?? '', flagsOf(g).join('; ')]);
  for (const m of report.missing ?? []) {
    rows.push([m.env, '', '', '', '', ...stepIds.map(() => ''), '', missingText(m), m.student.legajo ?? '', m.student.name ?? '', m.student.email ?? '', '']);
  }
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

const xml = (s: string | number | undefined) => escapeHtml(s).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

function toJunit(report: GradeReport): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const all = report.envs.flatMap((g) => g.steps.flatMap((s) => s.checks));
  out.push(`<testsuites name="${xml(report.lab)}" tests="${all.length}" failures="${all.filter((c) => c.status === 'fail').length}">`);
  for (const g of report.envs) {
    const checks = g.steps.flatMap((s) => s.checks);
    out.push(`  <testsuite name="${xml(g.env)}" tests="${checks.length || 1}" failures="${checks.filter((c) => c.status === 'fail').length + (g.error ? 1 : 0)}" timestamp="${xml(g.gradedAt)}">`);
    out.push(`    <properties><property name="pg" value="${xml(g.pg)}"/><property name="score" value="${g.score}"/><property name="maxScore" value="${g.maxScore}"/><property name="imageId" value="${xml(g.imageId ?? '')}"/>${g.student?.legajo ? `<property name="legajo" value="${xml(g.student.legajo)}"/>` : ''}${g.student?.email ? `<property name="email" value="${xml(g.student.email)}"/>` : ''}${flagsOf(g).map((f) => `<property name="alerta" value="${xml(f)}"/>`).join('')}</properties>`);
    if (g.error) out.push(`    <testcase classname="${xml(g.env)}" name="environment"><error message="${xml(g.error)}"/></testcase>`);
    for (const s of g.steps) {
      for (const c of s.checks) {
        out.push(`    <testcase classname="${xml(`${g.env}.${s.step}`)}" name="${xml(c.id)}" time="${(c.durationMs / 1000).toFixed(3)}">`);
        if (c.status === 'fail') out.push(`      <failure message="${xml(c.title)}">${xml(`${formatEvidence(c.evidence)}\n${c.hint ?? ''}`)}</failure>`);
        if (c.status === 'warn') out.push(`      <system-out>${xml(`warning: ${formatEvidence(c.evidence)}`)}</system-out>`);
        out.push('    </testcase>');
      }
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}

export const DEFAULT_SCALE = 10;

/** A grade on Moodle's scale: two decimals at most, with a decimal point whatever the locale. */
export function scaled(score: number, maxScore: number, scale: number): string {
  if (!maxScore) return '0';
  return String(Math.round((score / maxScore) * scale * 100) / 100);
}

/**
 * Where the points were lost, in plain words a student reads in Moodle: a step with no check passed
 * in one line, else each check that lost points; then the flags.
 */
export function feedbackFor(g: EnvGrade): string {
  const parts: string[] = [];
  if (g.error) parts.push(t('moodle.notGraded', { error: g.error }));
  for (const s of g.steps) {
    const label = s.title.split(' — ')[0];
    const lost = s.maxPoints - s.points;
    if (!lost) continue;
    if (s.points === 0 && s.checks.length > 1) { parts.push(t('moodle.stepNone', { step: label, lost })); continue; }
    for (const c of s.checks) {
      const cl = c.maxPoints - c.points;
      if (cl > 0) parts.push(t('moodle.checkLost', { step: label, check: c.title, lost: cl }));
    }
  }
  if (!parts.length && !g.error) parts.push(t('moodle.full', { score: g.score, max: g.maxScore }));
  for (const f of flagsOf(g)) parts.push(`${t('moodle.alert')}: ${f}`);
  return parts.join(' · ');
}

/**
 * Moodle's CSV grade import (Calificaciones → Importar → Archivo CSV): UTF-8, comma-separated,
 * quoted where needed; the user is found by e-mail or ID number (legajo), and a row whose
 * identifier matches nobody aborts the whole import, so every roster student has a row: without an
 * env it has an empty grade (Moodle: no grade) and a comment saying why. One grade column per lab
 * (scaled to `scale`, decimal point) and one feedback column per lab.
 */
function toMoodle(report: GradeReport, scale: number): string {
  const labs = [...new Set(report.envs.map((g) => g.lab))].sort();
  if (!labs.length) labs.push(report.lab);
  const header = [t('moodle.colName'), t('moodle.colEmail'), t('moodle.colLegajo'), ...labs.flatMap((lab) => [lab, `${lab} ${t('moodle.colFeedback')}`])];
  const rows: (string | number)[][] = [];
  for (const g of report.envs) {
    rows.push([g.student?.name ?? g.env, g.student?.email ?? '', g.student?.legajo ?? '',
      ...labs.flatMap((lab) => (lab === g.lab ? [g.error ? '' : scaled(g.score, g.maxScore, scale), feedbackFor(g)] : ['', '']))]);
  }
  for (const m of report.missing ?? []) {
    const why = m.reason === 'no-handin' ? t('moodle.noHandin') : report.className ? t('moodle.noEnvInClass', { env: m.env, class: report.className }) : t('moodle.noEnv', { env: m.env });
    rows.push([m.student.name ?? m.env, m.student.email ?? '', m.student.legajo ?? '', ...labs.flatMap(() => ['', why])]);
  }
  return [header, ...rows].map((r) => r.map(moodleCell).join(',')).join('\r\n') + '\r\n';
}

/** Like csvCell, but nothing is prefixed: Moodle matches e-mails and legajos exactly, and grades must stay numbers. */
function moodleCell(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}
