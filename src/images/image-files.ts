/**
 * Checksums of files inside an image (not a container): what the image shipped, which a student
 * who is root in the running container cannot edit. Read once per image in a throwaway container
 * (no network, removed at once) and cached on the host by image id.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dockerClient, withTimeout } from '../docker/client.js';
import { cacheDir } from './pg91-source.js';
import { TIMEOUTS } from '../timeouts.js';

export async function imageFileSums(imageId: string, paths: string[]): Promise<Map<string, string>> {
  const key = imageId.replace(/^sha256:/, '').slice(0, 32) + '-' + Buffer.from(paths.join('\n')).toString('base64url').slice(0, 40);
  const cacheFile = path.join(cacheDir(), 'image-sums', `${key}.json`);
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, string>));
  } catch {
    // not cached yet
  }
  const docker = dockerClient();
  const container = await docker.createContainer({
    Image: imageId,
    Entrypoint: ['sha256sum', '--'],
    Cmd: paths,
    Labels: { 'pglab.throwaway': 'image-files' },
    HostConfig: { NetworkMode: 'none' },
  });
  try {
    await withTimeout(container.start(), TIMEOUTS.imageFilesMs, 'image-files start');
    await withTimeout(container.wait(), TIMEOUTS.imageFilesMs, 'image-files wait');
    const logs = (await container.logs({ stdout: true, stderr: false })) as unknown as Buffer;
    const sums = new Map<string, string>();
    // Docker multiplexes the log stream: 8-byte frame headers before each chunk.
    for (const line of demux(logs).split('\n')) {
      const m = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line.trim());
      if (m) sums.set(m[2], m[1]);
    }
    mkdirSync(path.dirname(cacheFile), { recursive: true });
    writeFileSync(cacheFile, JSON.stringify(Object.fromEntries(sums)));
    return sums;
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
 * The md5sums the image's cached .deb files declare (the packages students install offline, see
 * docker/pg/Dockerfile), by package and path ("usr/bin/rsync"). Read once per image with the
 * image's own dpkg-deb in a throwaway container and cached by image id: what a package's files must
 * hash to, whatever the container's /var/lib/dpkg says.
 */
export async function imagePackageMd5s(imageId: string, packages: string[]): Promise<Map<string, Map<string, string>>> {
  const key = imageId.replace(/^sha256:/, '').slice(0, 32) + '-debs-' + Buffer.from(packages.join('\n')).toString('base64url').slice(0, 40);
  const cacheFile = path.join(cacheDir(), 'image-sums', `${key}.json`);
  const toMap = (o: Record<string, Record<string, string>>) => new Map(Object.entries(o).map(([p, sums]) => [p, new Map(Object.entries(sums))]));
  try {
    return toMap(JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, Record<string, string>>);
  } catch {
    // not cached yet
  }
  const docker = dockerClient();
  // Fixed script; package names are the lab manifest's and arrive as arguments.
  const script = 'for p in "$@"; do for f in /var/cache/apt/archives/"$p"_*.deb; do [ -f "$f" ] && { printf "\\036%s\\n" "$p"; dpkg-deb -I "$f" md5sums 2>/dev/null; }; done; done; true';
  const container = await docker.createContainer({
    Image: imageId,
    Entrypoint: ['sh', '-c', script, 'sh'],
    Cmd: packages,
    Labels: { 'pglab.throwaway': 'image-files' },
    HostConfig: { NetworkMode: 'none' },
  });
  try {
    await withTimeout(container.start(), TIMEOUTS.imageFilesMs, 'image-debs start');
    await withTimeout(container.wait(), TIMEOUTS.imageFilesMs, 'image-debs wait');
    const logs = (await container.logs({ stdout: true, stderr: false })) as unknown as Buffer;
    const out: Record<string, Record<string, string>> = {};
    for (const chunk of demux(logs).split('\x1e').slice(1)) {
      const [pkg, ...lines] = chunk.split('\n');
      const sums: Record<string, string> = (out[pkg] ??= {});
      for (const line of lines) {
        const m = /^([0-9a-f]{32})\s+(.+)$/.exec(line.trim());
        if (m) sums[m[2]] = m[1];
      }
    }
    mkdirSync(path.dirname(cacheFile), { recursive: true });
    writeFileSync(cacheFile, JSON.stringify(out));
    return toMap(out);
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
}
