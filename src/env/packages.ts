/**
 * Package memory: what the student installed with apt (the lab manifest's `packages`, e.g. ssh and
 * rsync) is written to the server's state volume at `lab down`; the image's init reinstalls it
 * offline at the next `lab up`, so a container recreated from the image keeps the student's work.
 */
import { execInContainer } from '../docker/client.js';
import { lineage } from '../lab/manifest.js';
import { TIMEOUTS } from '../timeouts.js';

/** Read by the image's init (docker/pg): one package name per line. */
const PACKAGES_FILE = '/var/lib/pglab/packages';

/**
 * The packages a lab's students install, with those of the labs it starts from (an env that went on
 * into a later lab still runs the ssh and rsync its archive_command needs). Empty when no manifest
 * lists any, or the lab is unknown to this checkout.
 */
export function labPackages(lab: string): string[] {
  return [...new Set(lineage(lab).flatMap((m) => m.packages ?? []))];
}

/** Writes which of `packages` are installed in the (running) container; quiet when it cannot ask. */
export async function rememberPackages(container: string, packages: string[]): Promise<void> {
  if (!packages.length) return;
  const r = await execInContainer(container, ['dpkg-query', '-W', '-f=${Package} ${db:Status-Status}\n', ...packages], { timeoutMs: TIMEOUTS.packagesQueryMs })
    .catch(() => undefined);
  if (!r) return;
  const installed = r.stdout.toString().split('\n')
    .map((l) => l.split(' ')).filter(([, status]) => status === 'installed').map(([p]) => p);
  await execInContainer(container, ['sh', '-c', `cat > ${PACKAGES_FILE}`], { stdin: installed.join('\n') + '\n', timeoutMs: TIMEOUTS.packagesWriteMs });
}
