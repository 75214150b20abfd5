/**
 * What every portal request passes before it reaches an env: the Host it was sent to, the Origin of
 * a page that sends it (WebSocket and POST: another site's page cannot drive a student's terminal),
 * and per-secret limits (requests, terminals), so one link cannot starve the server.
 */

/** `host:port` values this server answers to: the listen address, and names given with --public-host. */
export function allowedHosts(listen: string, port: number, publicHosts: readonly string[]): Set<string> {
  const hosts = new Set<string>();
  const add = (h: string) => hosts.add(h.includes(':') && !h.startsWith('[') ? h.toLowerCase() : `${h.toLowerCase()}:${port}`);
  if (listen === '127.0.0.1' || listen === 'localhost') {
    add('127.0.0.1');
    add('localhost');
  } else if (listen !== '0.0.0.0' && listen !== '::') {
    add(listen.includes(':') ? `[${listen}]` : listen);
  }
  for (const h of publicHosts) add(h);
  return hosts;
}

export function hostAllowed(hostHeader: string | undefined, hosts: Set<string>): boolean {
  return !!hostHeader && hosts.has(hostHeader.toLowerCase());
}

/** The Origin must be this server as the browser reached it (scheme and an allowed host). */
export function originAllowed(origin: string | undefined, scheme: 'http' | 'https', hosts: Set<string>): boolean {
  if (!origin) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== `${scheme}:`) return false;
  const port = url.port || (scheme === 'https' ? '443' : '80');
  return hosts.has(`${url.hostname.toLowerCase()}:${port}`) || hosts.has(`[${url.hostname.toLowerCase()}]:${port}`);
}

/** A token bucket per key: `rate` per second, bursts up to `burst`. */
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private rate: number, private burst: number) {}

  take(key: string, now = Date.now()): boolean {
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
