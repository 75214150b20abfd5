/**
 * The schema of a lab manifest (labs/<id>/lab.json), checked when a lab is read instead of trusting
 * a cast: each problem names where it is (`steps[2].checks[0].points`) and what was expected, in the
 * reader's language. Structure errors stop the lab from loading; keys the engine does not know are
 * reported by `lab dev check` only (a typo there is a lost setting, not a broken lab).
 */
import { t } from '../i18n/index.js';
import { isPgMajor, PG_MAJORS } from '../pg/profile.js';

export interface SchemaProblem {
  path: string;
  message: string;
  /** Unknown keys: reported by `lab dev check`, not an error when the lab loads. */
  unknownKey?: boolean;
}

type Obj = Record<string, unknown>;

const ID = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class Walker {
  readonly problems: SchemaProblem[] = [];

  say(path: string, key: Parameters<typeof t>[0], params: Record<string, string | number> = {}, unknownKey = false): void {
    this.problems.push({ path, message: t(key, { path, ...params }), ...(unknownKey ? { unknownKey } : {}) });
  }

  object(v: unknown, path: string, known: readonly string[], required: readonly string[]): v is Obj {
    if (!isObj(v)) return void this.say(path, 'schema.object'), false;
    for (const k of required) if (!(k in v)) this.say(`${path}.${k}`, 'schema.missing');
    for (const k of Object.keys(v)) if (!known.includes(k)) this.say(`${path}.${k}`, 'schema.unknownKey', { keys: known.join(', ') }, true);
    return true;
  }

  /** A non-empty string; `form`: the message key saying what shape it must have. */
  string(v: unknown, path: string, pattern?: RegExp, form: Parameters<typeof t>[0] = 'schema.id'): v is string {
    if (v === undefined) return false;
    if (typeof v !== 'string' || !v.trim()) return void this.say(path, 'schema.string'), false;
    if (pattern && !pattern.test(v)) return void this.say(path, form, { value: v }), false;
    return true;
  }

  integer(v: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
    if (v === undefined) return;
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) this.say(path, 'schema.integer', { min, max: max === Number.MAX_SAFE_INTEGER ? '∞' : max });
  }

  oneOf(v: unknown, path: string, values: readonly string[]): void {
    if (v !== undefined && !values.includes(v as string)) this.say(path, 'schema.oneOf', { values: values.join(', ') });
  }

  /** Text in both languages: `es` required here; a missing `en` is for `lab dev check` to say. */
  text(v: unknown, path: string): void {
    if (v === undefined) return;
    if (!this.object(v, path, ['es', 'en'], ['es'])) return;
    this.string(v.es, `${path}.es`);
    if (v.en !== undefined) this.string(v.en, `${path}.en`);
  }

  array<T>(v: unknown, path: string, each: (item: unknown, path: string) => T, nonEmpty = false): void {
    if (v === undefined) return;
    if (!Array.isArray(v)) return void this.say(path, 'schema.array');
    if (nonEmpty && !v.length) this.say(path, 'schema.empty');
    v.forEach((item, i) => each(item, `${path}[${i}]`));
  }

  versions(v: unknown, path: string): void {
    this.array(v, path, (x, p) => {
      if (typeof x !== 'string' || !isPgMajor(x)) this.say(p, 'schema.version', { value: String(x), versions: PG_MAJORS.join(', ') });
    }, true);
  }
}

const CHECK_KEYS = ['id', 'check', 'points', 'title', 'expected', 'hints', 'severity', 'versions', 'supersededWhen', 'fallbacks'] as const;
const ACTION_KEYS = ['on', 'user', 'script', 'capture', 'timeoutSec', 'versions'] as const;
const STEP_KEYS = ['id', 'title', 'exercise', 'hints', 'checks', 'solution'] as const;
const LAB_KEYS = ['format', 'id', 'title', 'standbys', 'packages', 'startsFrom', 'facts', 'archiveOff', 'steps'] as const;

/** Every problem of a parsed lab.json (an empty list: a well-formed manifest). */
export function manifestProblems(data: unknown, maxStandbys: number): SchemaProblem[] {
  const w = new Walker();
  if (!w.object(data, 'lab.json', LAB_KEYS, ['format', 'id', 'title', 'steps'])) return w.problems;
  w.integer(data.format, 'format', 1);
  w.string(data.id, 'id', ID);
  w.text(data.title, 'title');
  w.integer(data.standbys, 'standbys', 1, maxStandbys);
  w.array(data.packages, 'packages', (p, path) => w.string(p, path, /^[a-z0-9][a-z0-9+.-]*$/, 'schema.package'));
  if (data.startsFrom !== undefined) w.string(data.startsFrom, 'startsFrom', ID);
  w.oneOf(data.archiveOff, 'archiveOff', [true, false] as unknown as string[]);
  if (data.facts !== undefined && w.object(data.facts, 'facts', Object.keys(data.facts as Obj), [])) {
    for (const [k, v] of Object.entries(data.facts as Obj)) {
      if (!/^[a-z][a-z0-9_]*$/.test(k)) w.say(`facts.${k}`, 'schema.factName', { value: k });
      w.string(v, `facts.${k}`);
    }
  }
  w.array(data.steps, 'steps', (step, sp) => {
    if (!w.object(step, sp, STEP_KEYS, STEP_KEYS)) return;
    w.string(step.id, `${sp}.id`, ID);
    w.text(step.title, `${sp}.title`);
    w.string(step.exercise, `${sp}.exercise`, /^[\w.-]+\.md$/, 'schema.exercise');
    w.array(step.hints, `${sp}.hints`, (h, hp) => w.text(h, hp), true);
    w.array(step.checks, `${sp}.checks`, (c, cp) => {
      if (!w.object(c, cp, CHECK_KEYS, ['id', 'check', 'points', 'title', 'expected', 'hints'])) return;
      w.string(c.id, `${cp}.id`, ID);
      w.string(c.check, `${cp}.check`);
      w.integer(c.points, `${cp}.points`, 0);
      w.text(c.title, `${cp}.title`);
      w.text(c.expected, `${cp}.expected`);
      if (w.object(c.hints, `${cp}.hints`, Object.keys(isObj(c.hints) ? c.hints : {}), ['default'])) {
        for (const [reason, h] of Object.entries(c.hints as Obj)) w.text(h, `${cp}.hints.${reason}`);
      }
      w.oneOf(c.severity, `${cp}.severity`, ['error', 'warn']);
      w.versions(c.versions, `${cp}.versions`);
      if (c.supersededWhen !== undefined) w.string(c.supersededWhen, `${cp}.supersededWhen`);
      w.array(c.fallbacks, `${cp}.fallbacks`, (f, fp) => w.string(f, fp));
    }, true);
    w.array(step.solution, `${sp}.solution`, (a, ap) => {
      if (!w.object(a, ap, ACTION_KEYS, ['on', 'user', 'script'])) return;
      w.string(a.on, `${ap}.on`, ID);
      w.oneOf(a.user, `${ap}.user`, ['root', 'postgres']);
      w.string(a.script, `${ap}.script`, /^solutions\/(?!.*\.\.)[\w./-]+\.sh$/, 'schema.script');
      if (a.capture !== undefined) w.string(a.capture, `${ap}.capture`, /^[A-Z][A-Z0-9_]*$/, 'schema.capture');
      w.integer(a.timeoutSec, `${ap}.timeoutSec`, 1, 3600);
      w.versions(a.versions, `${ap}.versions`);
    });
  }, true);
  return w.problems;
}
