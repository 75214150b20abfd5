/** Where the light engine client connects: as dockerode would, or not at all (then dockerode does everything). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDockerHost } from '../../src/docker/engine.js';

describe('Docker engine endpoint', () => {
  it('uses the platform socket by default and DOCKER_HOST when set', () => {
    expect(parseDockerHost(undefined, 'linux')).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(parseDockerHost(undefined, 'win32')).toEqual({ socketPath: '//./pipe/docker_engine' });
    expect(parseDockerHost('unix:///home/ana/.docker/run/docker.sock', 'darwin')).toEqual({ socketPath: '/home/ana/.docker/run/docker.sock' });
    expect(parseDockerHost('npipe:////./pipe/docker_engine', 'win32')).toEqual({ socketPath: '\\\\.\\pipe\\docker_engine' });
    expect(parseDockerHost('tcp://127.0.0.1:2375', 'linux')).toEqual({ host: '127.0.0.1', port: 2375 });
  });

  it('leaves ssh engines, and TLS ones without a client certificate, to dockerode', () => {
    expect(parseDockerHost('tcp://127.0.0.1:2376', 'linux', '1', '/nonexistent/pglab-certs')).toBeUndefined();
    expect(parseDockerHost('ssh://ana@server', 'linux')).toBeUndefined();
  });

  it('speaks TLS itself with DOCKER_CERT_PATH\'s ca.pem, cert.pem and key.pem (a Swarm manager)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pglab-certs-'));
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(path.join(dir, f), f);
    expect(parseDockerHost('tcp://10.0.0.5:2376', 'linux', '1', dir)).toEqual({
      host: '10.0.0.5', port: 2376, tls: { ca: Buffer.from('ca.pem'), cert: Buffer.from('cert.pem'), key: Buffer.from('key.pem') },
    });
    rmSync(dir, { recursive: true });
  });
});
