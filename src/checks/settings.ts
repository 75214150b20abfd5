/**
 * Settings graded on the *running* server, with the config files consulted only to explain a
 * failure: right in the file but not in effect → "reinicie"; a file with a syntax error (a wrapped
 * line) → the server kept its old configuration.
 */
import type { ConfError } from '../pg/conf.js';
import { fail, pass, type CheckContext, type CheckOutcome } from './types.js';

/**
 * Lines of a config file PostgreSQL cannot read, as `N: text | N: text`. A long line is cut
 * between words (never inside a path or a value), and only the first few lines are listed.
 */
export function errorLines(errors: ConfError[], max = 4): string {
  const one = (raw: string) => {
    const text = raw.trim();
    if (text.length <= 100) return text;
    const at = text.lastIndexOf(' ', 100);
    return `${text.slice(0, at > 40 ? at : 100)} …`;
  };
  const shown = errors.slice(0, max).map((e) => `${e.line}: ${one(e.raw)}`);
  return errors.length > max ? `${shown.join(' | ')} | (+${errors.length - max})` : shown.join(' | ');
}

export interface SettingRule {
  name: string;
  /** Human-readable expectation, shown as evidence. */
  expected: string;
  ok: (value: string) => boolean;
}

export async function gradeSettings(ctx: CheckContext, role: string, rules: SettingRule[]): Promise<CheckOutcome> {
  const running = await ctx.probes.settings(role);
  const wrong: string[] = [];
  const pending: string[] = [];
  const seen: string[] = [];
  for (const rule of rules) {
    const value = running.get(rule.name) ?? '';
    seen.push(`${rule.name}=${value || "''"}`);
    if (rule.ok(value)) continue;
    const inFile = await ctx.probes.fileSetting(role, rule.name);
    if (inFile !== undefined && rule.ok(inFile)) pending.push(rule.name);
    else wrong.push(`${rule.name} = ${value || "''"} → ${rule.expected}`);
  }
  if (!wrong.length && !pending.length) return pass({ settings: seen.join(', ') });
  // A file the server cannot read explains any difference better than "restart" would.
  const file = `${ctx.profile.confDir}/postgresql.conf`;
  if (!(await ctx.probes.readableByPostgres(role, file))) return fail('conf-unreadable', { file, wrong: [...wrong, ...pending].join(', ') });
  const { main } = await ctx.probes.configFiles(role);
  const syntax = main?.errors ?? [];
  if (syntax.length) {
    return fail('conf-syntax', {
      file: `${ctx.profile.confDir}/postgresql.conf`,
      lines: errorLines(syntax),
      wrong: [...wrong, ...pending].join(', '),
    });
  }
  if (wrong.length) return fail('wrong-value', { wrong: wrong.join(', '), pending: pending.join(', ') || '—' });
  return fail('pending-restart', { pending: pending.join(', ') });
}

/** Sizes as PostgreSQL reads them ('128MB', '128', '1GB') in MB. */
export function sizeInMb(value: string): number {
  const m = /^\s*(\d+)\s*(kB|MB|GB|TB)?\s*$/i.exec(value.replace(/'/g, ''));
  if (!m) return NaN;
  const mult: Record<string, number> = { kb: 1 / 1024, mb: 1, gb: 1024, tb: 1024 * 1024 };
  return Number(m[1]) * mult[(m[2] ?? 'MB').toLowerCase()];
}

export const isOn = (v: string) => ['on', 'true', 'yes', '1'].includes(v.trim().toLowerCase());

export function listensOn(value: string, ip: string): boolean {
  const parts = value.split(',').map((p) => p.trim().toLowerCase());
  return parts.includes('*') || parts.includes('0.0.0.0') || parts.includes(ip);
}
