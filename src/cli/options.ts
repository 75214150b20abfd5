/** Numeric command-line options: checked before anything is created, with the accepted range in the message. */
import { MAX_STANDBYS } from '../env/naming.js';
import { LabError } from '../errors.js';

/** Standbys per env: maestro + up to 4 esclavos (addresses .11–.14; more is not a lab any more). */
export const STANDBYS = { min: 1, max: MAX_STANDBYS } as const;
/** Envs created at once by `class up`: each one is a few docker calls and an initdb; 16 saturates any class server. */
export const PARALLEL = { min: 1, max: 16 } as const;
/** Envs in one class: one 10.213.x.0/24 subnet each, 250 in the pool (naming.candidateSubnets). */
export const CLASS_SIZE = { min: 1, max: 250 } as const;
/** Moodle's grade maximum: 100 unless the site raised gradepointmax (its import refuses larger grades). */
export const SCALE = { min: 1, max: 100 } as const;

/**
 * A whole number in [min, max], written plainly: "2" yes; "abc", "-1", "0", "1.5", "1e1", " 2", "+3" no
 * (Number() would accept several of those and turn "abc" into NaN).
 */
export function parseIntOption(raw: string | number | undefined, option: string, range: { min: number; max: number }): number {
  const text = String(raw ?? '');
  const value = /^[0-9]{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(value >= range.min && value <= range.max)) {
    throw new LabError('cli.badInteger', { option, value: text, min: range.min, max: range.max }, 2);
  }
  return value;
}
