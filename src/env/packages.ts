/**
 * Package memory: what the student installed with apt (the lab manifest's `packages`, e.g. ssh and
 * rsync) is written to the server's state volume at `lab down`; the image's init reinstalls it
 * offline at the next `lab up`, so a container recreated from the image keeps the student's work.
 */
import { execInContainer } from '../docker/client.js';
import { TIMEOUTS } from '../timeouts.js';

/** Read by the image's init (docker/pg): one package name per line. */
const PACKAGES_FILE = '/var/lib/pglab/packages';

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
