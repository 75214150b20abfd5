import { performance } from 'node:perf_hooks';

/**
 * PGLAB_PROBE_TRACE=1: one line on stderr per traced phase, in ms since the process started
 * (`+start..end label`), beside the probe transport's line per docker exec: what a run really costs.
 */
export async function traced<T>(label: string, fn: () => Promise<T>): Promise<T> {
  if (!process.env.PGLAB_PROBE_TRACE) return fn();
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    process.stderr.write(`phase ${label} +${Math.round(t0)}..${Math.round(performance.now())}ms\n`);
  }
}
