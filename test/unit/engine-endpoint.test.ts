/** Where the light engine client connects: as dockerode would, or not at all (then dockerode does everything). */
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

  it('leaves TLS and ssh engines to dockerode', () => {
    expect(parseDockerHost('tcp://127.0.0.1:2376', 'linux', '1')).toBeUndefined();
    expect(parseDockerHost('ssh://ana@server', 'linux')).toBeUndefined();
  });
});
