/** The generalized topology from fixed server facts: whichever server is primary, standbys by pg_stat_replication, promotion, archiving. */
import { beforeEach, describe, expect, it } from 'vitest';
import { setLang } from '../../src/i18n/index.js';
import { archivesToShow, topology } from '../../src/lab/topology.js';
import { samplesOf } from '../../src/live/session.js';
import type { DirEntry, Probes } from '../../src/pg/probes.js';
import { profileFor } from '../../src/pg/profile.js';
import { topologySentences, topologySvg } from '../../src/render/live-html.js';
import { topologyLines } from '../../src/render/topology-text.js';
import { fakeEnv } from './support/fake-env.js';

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
const NOW = 1_800_000_000;

interface FakeServer {
  up?: boolean;
  primary: boolean;
  tli?: number;
  sysid?: string;
  lsn?: string;
  replay?: string;
  /** Standby: what its wal receiver has received (default: what it replayed). */
  receive?: string;
  archiveMode?: string;
  archiveCommand?: string;
  senders?: { addr: string; app?: string; state?: string; sent?: string; replay?: string; lag?: string }[];
  status?: DirEntry[];
  lastArchived?: string;
}

/** Probes that answer from a table of facts, shaped like the real queries' output. */
function fakeProbes(pg: '9.1' | '15', servers: Record<string, FakeServer>): Probes {
  const env = fakeEnv(pg, 'wal-streaming', Object.keys(servers).length - 1);
  const get = (role: string) => servers[role];
  return {
    env,
    profile: profileFor(pg),
    readiness: async (role: string) => (get(role).up === false ? 'down' : 'accepting'),
    sql: async (role: string) => {
      const s = get(role);
      if (s.up === false) throw new Error('down');
      const senders = (s.senders ?? []).map((w) => [w.addr, hex(w.app ?? 'walreceiver'), w.state ?? 'streaming', w.sent ?? '0/3000060', w.replay ?? '0/3000000', w.lag ?? ''].join(' ')).join(',');
      return [[s.primary ? 'f' : 't', s.primary ? s.lsn ?? '0/3000060' : '', s.primary ? '' : s.receive ?? s.replay ?? '0/3000000', s.primary ? '' : s.replay ?? '0/3000000', s.primary ? '' : '2',
        s.archiveMode ?? 'off', hex(s.archiveCommand ?? ''), s.lastArchived ?? '', s.lastArchived ? String(NOW - 30) : '', '0', '', '', String(NOW), senders]];
    },
    timeline: async (role: string) => get(role).tli ?? 1,
    controldata: async (role: string) => ({ systemIdentifier: get(role).sysid ?? '7000000000000000001', timeline: get(role).tli ?? 1 }),
    listDir: async (role: string) => get(role).status ?? [],
    // The archive destination of a failing edge (the tutorial's cleanup removed it).
    stat: async () => undefined,
  } as unknown as Probes;
}

const topo = (pg: '9.1' | '15', servers: Record<string, FakeServer>) => {
  const probes = fakeProbes(pg, servers);
  return topology({ probes, profile: probes.profile }, NOW);
};
const plain = (lines: string[]) => lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));

describe('topology', () => {
  beforeEach(() => setLang('es'));

  it('maestro streaming to esclavo: one primary, one edge with its lag, archive to esclavo by its IP', async () => {
    const t = await topo('15', {
      maestro: { primary: true, lsn: '0/3000060', archiveMode: 'on', archiveCommand: 'rsync -a %p postgres@10.213.7.11:/var/lib/postgresql/wal_archive/%f', lastArchived: '000000010000000000000002', senders: [{ addr: '10.213.7.11', replay: '0/3000000' }] },
      esclavo: { primary: false },
    });
    expect(t.primaries).toEqual(['maestro']);
    expect(t.streams).toMatchObject([{ from: 'maestro', to: 'esclavo', state: 'streaming', lagBytes: 0x60 }]);
    expect(t.archives).toMatchObject([{ from: 'maestro', to: 'esclavo', state: 'ok', lastArchived: '000000010000000000000002', lastArchivedAgeS: 30 }]);
    expect(t.promoted).toBe(false);
    const lines = plain(topologyLines(t));
    expect(lines.some((l) => /^maestro ──envío de WAL \(archive\)──▶ esclavo .*✓ funciona \(último segmento WAL archivado: 000000010000000000000002\)/.test(l))).toBe(true);
    expect(lines.some((l) => /^maestro ──streaming──▶ esclavo .*✓ funciona \(0\/3000060; demora 96 bytes/.test(l))).toBe(true);
  });

  it('a fresh env: two unrelated servers, maestro is the one to stream from, archiving off', async () => {
    const t = await topo('15', { maestro: { primary: true, sysid: '1' }, esclavo: { primary: true, sysid: '2' } });
    expect(t.promoted).toBe(false);
    const lines = plain(topologyLines(t));
    expect(lines).toContainEqual(expect.stringMatching(/^maestro ──streaming──▶ esclavo .*✗ no funciona/));
    expect(lines).toContainEqual(expect.stringMatching(/✗ archive_mode no está activo en el maestro/));
    expect(lines.join('\n')).not.toMatch(/en el esclavo/);
    expect(topologySvg(t)).toContain('data-edge="streaming" data-from="maestro" data-to="esclavo" data-state="off"');
  });

  it('after a fail-back: esclavo is primary, maestro and esclavo2 stream from it', async () => {
    const t = await topo('15', {
      maestro: { primary: false, tli: 2 },
      esclavo: { primary: true, tli: 2, senders: [{ addr: '10.213.7.10' }, { addr: '10.213.7.12', state: 'catchup' }] },
      esclavo2: { primary: false, tli: 2 },
    });
    expect(t.primaries).toEqual(['esclavo']);
    expect(t.streams.map((e) => `${e.from}>${e.to}:${e.state}`)).toEqual(['esclavo>maestro:streaming', 'esclavo>esclavo2:catchup']);
    const lines = plain(topologyLines(t));
    expect(lines).toContainEqual(expect.stringMatching(/^esclavo {2}──streaming──▶ maestro .*✓ funciona/));
    expect(lines).toContainEqual(expect.stringMatching(/^esclavo {2}──streaming──▶ esclavo2 .*… catchup/));
    const svg = topologySvg(t);
    expect(svg).toContain('data-role="esclavo" data-kind="primary"');
    expect(svg).toContain('data-role="maestro" data-kind="standby"');
    expect(svg).toContain('data-edge="streaming" data-from="esclavo" data-to="esclavo2" data-state="catchup"');
  });

  it('after a promotion: two primaries of one cluster on different timelines, said plainly', async () => {
    const t = await topo('9.1', { maestro: { primary: true, tli: 1, sysid: '77' }, esclavo: { primary: true, tli: 2, sysid: '77' } });
    expect(t.promoted).toBe(true);
    const lines = plain(topologyLines(t));
    expect(lines[0]).toBe('esclavo fue promovido: ahora hay dos primarios. esclavo acepta escrituras en la línea de tiempo 2; maestro sigue en la 1 y ya no le envía nada.');
    expect(lines.join('\n')).not.toMatch(/streaming──▶/);
    setLang('en');
    expect(plain(topologyLines(t))[0]).toMatch(/^esclavo was promoted: there are now two primaries/);
  });

  it('a server down and a standby nobody streams to', async () => {
    const t = await topo('15', { maestro: { primary: true }, esclavo: { primary: false, up: false } });
    expect(t.servers.find((s) => s.role === 'esclavo')).toMatchObject({ up: false });
    expect(plain(topologyLines(t))).toContainEqual(expect.stringMatching(/^maestro ──streaming──▶ esclavo .*✗ no funciona/));
    expect(topologySvg(t)).toContain('data-role="esclavo" data-kind="down"');
  });

  it('archiving fails when a segment waits longer than the threshold', async () => {
    const ready = (name: string, age: number): DirEntry => ({ name: `${name}.ready`, size: 0, type: 'f', owner: 'postgres', mtime: NOW - age });
    const t = await topo('9.1', {
      maestro: { primary: true, archiveMode: 'on', archiveCommand: '/bin/false', status: [ready('000000010000000000000003', 200), ready('000000010000000000000004', 10)] },
      esclavo: { primary: false },
    });
    expect(t.archives[0]).toMatchObject({ state: 'failing', waiting: 2, oldestWaitingS: 200, to: undefined });
    expect(plain(topologyLines(t))).toContainEqual(expect.stringMatching(/^maestro ──envío de WAL \(archive\)──▶ archivo .*✗ falla: 2 segmentos WAL esperando en el maestro/));
  });

  it('student text from the servers is escaped in the SVG (application_name)', async () => {
    const hostile = `<script>document.title='pwned'</script><img src=x onerror=alert(1)>`;
    const t = await topo('15', { maestro: { primary: true, senders: [{ addr: '10.213.7.11', app: hostile, state: `<b>x</b>` }] }, esclavo: { primary: false } });
    expect(t.streams[0].application).toBe(hostile);
    const svg = topologySvg(t);
    expect(svg).toContain('&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(svg).not.toContain('<script');
    expect(svg).not.toContain('<img');
    expect(svg).not.toContain('<b>');
  });

  it('the chart\'s lag is the received position: 9.1 reports replay every 10 s, a probe write or a segment switch is not lag', async () => {
    // maestro switched segments (0/4000000); pg_stat_replication still has esclavo's replay from
    // before, but esclavo's own receiver already has everything.
    const t = await topo('9.1', {
      maestro: { primary: true, lsn: '0/4000000', senders: [{ addr: '10.213.7.11', sent: '0/4000000', replay: '0/3000148' }] },
      esclavo: { primary: false, receive: '0/4000000', replay: '0/3000148' },
    });
    expect(t.streams[0].lagBytes).toBe(0x4000000 - 0x3000148); // what the edge label used to chart: ~16 MB
    expect(t.streams[0].receiveLagBytes).toBe(0);
    expect(samplesOf(t, 1)).toEqual([{ at: 1, role: 'maestro', lagBytes: 0, waiting: 0, lastArchived: undefined }]);
  });

  it('one chart sample per primary after a promotion, each with its own archive', async () => {
    const t = await topo('15', {
      maestro: { primary: true, tli: 1, sysid: '77', archiveMode: 'on', archiveCommand: 'cp %p /x/%f', lastArchived: '000000010000000000000005' },
      esclavo: { primary: true, tli: 2, sysid: '77', archiveMode: 'on', archiveCommand: 'cp %p /x/%f', lastArchived: '000000020000000000000006' },
    });
    expect(samplesOf(t, 1).map((p) => [p.role, p.lastArchived, p.lagBytes])).toEqual([['maestro', '000000010000000000000005', undefined], ['esclavo', '000000020000000000000006', undefined]]);
  });

  it('after a promotion and the cleanup, a broken archive is an expected consequence: the page hides it as lab status does', async () => {
    const ready = (name: string, age: number): DirEntry => ({ name: `${name}.ready`, size: 0, type: 'f', owner: 'postgres', mtime: NOW - age });
    const t = await topo('9.1', {
      maestro: { primary: true, tli: 1, sysid: '77', archiveMode: 'on', archiveCommand: 'rsync -a %p postgres@10.213.7.11:/var/lib/postgresql/wal_archive/%f',
        status: [ready('000000010000000000000007', 300)] },
      esclavo: { primary: true, tli: 2, sysid: '77' },
    });
    expect(t.archives[0].state).toBe('failing');
    expect(archivesToShow(t)).toEqual([]);
    const svg = topologySvg(t);
    expect(svg).not.toContain('data-edge="archive"');
    expect(svg).not.toMatch(/falla/);
    expect(plain(topologyLines(t)).join('\n')).not.toMatch(/falla/);
  });

  it('gives screen readers the topology in words (label and a text list)', async () => {
    const t = await topo('15', {
      maestro: { primary: true, senders: [{ addr: '10.213.7.11' }] },
      esclavo: { primary: false },
    });
    const said = topologySentences(t);
    expect(said).toContainEqual(expect.stringMatching(/^maestro \(10\.\d+\.\d+\.10\), en marcha, primario, línea de tiempo 1$/));
    expect(said).toContainEqual(expect.stringMatching(/^maestro streaming → esclavo ✓ funciona/));
    const svg = topologySvg(t);
    expect(svg).toMatch(/role="img" aria-label="Topología: maestro \(/);
    expect(svg).toMatch(/<div class="sr-only" data-text="topology"><h3>La topología en texto<\/h3><ul><li>maestro/);
    expect(svg).not.toMatch(/\x1b/);
  });
});
