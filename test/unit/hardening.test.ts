/** Issue 17 hardening, the pure parts: container spec (no raw sockets, ::1), archive destinations and permissions. */
import { describe, expect, it } from 'vitest';
import { postgresMayWrite } from '../../src/pg/perms.js';
import { serverSpec } from '../../src/env/spec.js';
import { archiveDestination } from '../../src/lab/topology.js';

describe('lab server containers', () => {
  const spec = serverSpec({ env: 'e', role: 'maestro', image: 'pglab/pg:15', pg: '15', labels: {}, networkId: 'n', subnet: '10.213.9.0/24', dockerInit: false });
  it('run without CAP_NET_RAW (no packet sockets towards the host) and with IPv6 on the loopback only', () => {
    expect(spec.HostConfig?.CapDrop).toEqual(['NET_RAW']);
    expect(spec.HostConfig?.Privileged).toBe(false);
    expect(spec.HostConfig?.Sysctls).toEqual({ 'net.ipv6.conf.lo.disable_ipv6': '0' });
  });
});

describe('archive destination', () => {
  it('is the directory archive_command copies %f into, remote or local', () => {
    expect(archiveDestination("rsync -av %p postgres@10.213.9.11:/var/lib/postgresql/wal_archive/%f")).toBe('/var/lib/postgresql/wal_archive');
    expect(archiveDestination('scp %p esclavo:/srv/arch//%f')).toBe('/srv/arch');
    expect(archiveDestination('cp %p /tmp/a/%f')).toBe('/tmp/a');
    expect(archiveDestination('/bin/true')).toBeUndefined();
  });
  it('is writable for postgres only with write and search permission', () => {
    expect(postgresMayWrite({ owner: 'postgres', mode: 0o700 })).toBe(true);
    expect(postgresMayWrite({ owner: 'postgres', mode: 0o000 })).toBe(false);
    expect(postgresMayWrite({ owner: 'postgres', mode: 0o500 })).toBe(false);
    expect(postgresMayWrite({ owner: 'postgres', mode: 0o600 })).toBe(false);
    expect(postgresMayWrite({ owner: 'root', mode: 0o755 })).toBe(false);
    expect(postgresMayWrite({ owner: 'root', mode: 0o777 })).toBe(true);
  });
});
