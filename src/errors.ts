import type { MessageKey } from './i18n/messages.js';

/**
 * An error a person can act on: a message key (translated when printed) plus parameters.
 * The CLI prints `t(key, params)` and exits non-zero; the stack trace only with --debug.
 */
export class LabError extends Error {
  constructor(
    readonly key: MessageKey,
    readonly params: Record<string, string | number> = {},
    /** Process exit code (2 = environment cannot be used / checked). */
    readonly exitCode = 2,
    options?: { cause?: unknown },
  ) {
    super(key, options);
    this.name = 'LabError';
  }
}
