/**
 * A short-lived probe container: the env's own image (its binaries as built, not maestro's or
 * esclavo's, where the student is root), on the env's network, created by lab and removed at once.
 * For network facts that must be proven from outside the servers (an SSH key exchange, a login).
 */
import { dockerClient, withTimeout } from './client.js';
import { createContainer, inspectContainer, removeContainer, startContainer } from './objects.js';
import { nodeOf, routeObjects } from './route.js';
import { writeTar } from './tar.js';

export interface ProbeFile { name: string; content: Buffer; mode?: number; dir?: boolean }

/** The probe's files as one archive for putArchive (see tar.ts). */
export function tarOf(files: ProbeFile[]): Buffer {
  return writeTar(files.map((f) => ({ name: f.name, data: f.content, mode: f.mode ?? 0o600, dir: f.dir })));
}

/**
 * Runs `script` (fixed text; `args` arrive as positional parameters) in a new container of `image`
 * on `network`, with `files` placed in /tmp/pglab-probe first. Its stdout (bounded) and exit code;
 * the container is removed whatever happens. With `pidOf`, the probe joins that container's pid
 * namespace instead, with no network and, of all capabilities, only CAP_SYS_PTRACE and
 * CAP_DAC_READ_SEARCH (to read what the server's processes run: /proc/<pid>/exe, maps, environ, root).
 */
export async function runProbeContainer(
  opts: {
    image: string; network: string; env: string; script: string; args: string[]; files?: ProbeFile[]; timeoutMs: number; maxOutput?: number;
    pidOf?: string;
    /** A container of the env: the probe runs on the same engine (its Swarm node, src/docker/route.ts). */
    near?: string;
  },
):
  Promise<{ exitCode: number; stdout: string }> {
  const docker = dockerClient(opts.pidOf ?? opts.near);
  const container = await docker.createContainer({
    Image: opts.image,
    Entrypoint: ['bash', '-c', opts.script, 'pglab-probe'],
    Cmd: opts.args,
    User: 'root',
    Labels: { 'pglab.throwaway': 'probe', 'pglab.probe.env': opts.env },
    HostConfig: opts.pidOf
      ? { NetworkMode: 'none', PidMode: `container:${opts.pidOf}`, CapDrop: ['ALL'], CapAdd: ['SYS_PTRACE', 'DAC_READ_SEARCH'], AutoRemove: false }
      : { NetworkMode: opts.network, AutoRemove: false },
  });
  try {
    if (opts.files?.length) {
      await container.putArchive(tarOf([{ name: 'pglab-probe/', content: Buffer.alloc(0), mode: 0o700, dir: true }, ...opts.files.map((f) => ({ ...f, name: `pglab-probe/${f.name}` }))]), { path: '/tmp' });
    }
    await withTimeout(container.start(), opts.timeoutMs, 'probe container start');
    const status = await withTimeout(container.wait(), opts.timeoutMs, 'probe container') as { StatusCode: number };
    const logs = (await container.logs({ stdout: true, stderr: false, tail: 2000 })) as unknown as Buffer;
    return { exitCode: status.StatusCode, stdout: demux(logs).slice(0, opts.maxOutput ?? 256 * 1024) };
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
}

function demux(buf: Buffer): string {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length && (buf[i] === 1 || buf[i] === 2) && buf[i + 1] === 0) {
    const len = buf.readUInt32BE(i + 4);
    if (buf[i] === 1) parts.push(buf.subarray(i + 8, i + 8 + len));
    i += 8 + len;
  }
  return (i === 0 ? buf : Buffer.concat(parts)).toString('utf8');
}

/**
 * A long-lived inspector of an image: a container of lab's own in the host's pid namespace (no
 * network, no volumes, read-only root, of all capabilities only CAP_SYS_PTRACE,
 * CAP_DAC_READ_SEARCH and CAP_SYS_CHROOT), into which lab execs scripts about a server's processes
 * (server-identity.pl) and files (file-reader.pl). Cheaper than a
 * probe container per look (~0.1 s instead of ~0.5 s), and out of the student's sight: a probe
 * joined to the server's pid namespace can be seen, stopped or killed from inside the server, one in
 * the host's cannot (processes of a child namespace do not see their parent's). One per image (its
 * files are what the servers' are compared with), made on first use and left running (a sleep).
 */
/** Bumped when the inspector's container changes (2: CAP_SYS_CHROOT, for the file reader). */
const INSPECTOR_KIND = '2';

export async function ensureInspector(image: string, timeoutMs: number, near?: string): Promise<string> {
  // On a Swarm, the node of the server looked at (`near`): a pid means something on its own host only.
  const node = nodeOf(near);
  const name = `pglab-inspector-${image.replace(/^sha256:/, '').slice(0, 12)}${node ? `-${node.replace(/[^\w.-]/g, '_')}` : ''}`;
  if (node) routeObjects(node, [name]);
  let info = await inspectContainer(name);
  // One made before it could chroot (file-reader.pl): made again.
  if (info && info.labels['pglab.inspector.kind'] !== INSPECTOR_KIND) {
    await removeContainer(name);
    info = undefined;
  }
  if (info?.state === 'running') return name;
  // Made by a concurrent look first (409, createContainer says false): started all the same.
  if (!info) {
    await createContainer({
      name, Image: image, User: 'root',
      Entrypoint: ['sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'],
      Labels: { 'pglab.inspector': image, 'pglab.inspector.kind': INSPECTOR_KIND },
      HostConfig: {
        NetworkMode: 'none', PidMode: 'host', CapDrop: ['ALL'], CapAdd: ['SYS_PTRACE', 'DAC_READ_SEARCH', 'SYS_CHROOT'],
        ReadonlyRootfs: true, Tmpfs: { '/tmp': 'rw,size=16m' }, SecurityOpt: ['no-new-privileges'],
        RestartPolicy: { Name: 'unless-stopped' }, Memory: 256 * 1024 * 1024, PidsLimit: 64,
      },
    });
  }
  await withTimeout(startContainer(name), timeoutMs, 'inspector start');
  return name;
}
