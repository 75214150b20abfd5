/** The generalized topology from fixed server facts: whichever server is primary, standbys by pg_stat_replication, promotion, archiving. */
import { beforeEach, describe, expect, it } from 'vitest';
import { setLang } from '../../src/i18n/index.js';
import { topology } from '../../src/lab/topology.js';
import { controlFacts } from '../../src/pg/controldata.js';
import { FactProbes, type ControlFacts, type DirEntry, type ExecResult } from '../../src/pg/probes.js';
import type { Readiness } from '../../src/pg/readiness.js';
import { topologySvg } from '../../src/render/live-html.js';
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
  archiveMode?: string;
  archiveCommand?: string;
  senders?: { addr: string; app?: string; state?: string; sent?: string; replay?: string; lag?: string }[];
  status?: DirEntry[];
  lastArchived?: string;
}

/** Probes that answer from a table of facts, shaped like the real queries' output; anything else is a test bug. */
class TableProbes extends FactProbes {
  constructor(pg: '9.1' | '15', private readonly servers: Record<string, FakeServer>) {
    super(fakeEnv(pg, 'wal-streaming', Object.keys(servers).length - 1));
  }

  private get(role: string): FakeServer {
    return this.servers[role];
  }

  override exec(role: string, argv: string[]): Promise<ExecResult> {
    throw new Error(`TableProbes: no exec on ${role} (${argv.join(' ')}): topology asks for facts only`);
  }

  override async readiness(role: string): Promise<Readiness> {
    return this.get(role).up === false ? 'down' : 'accepting';
  }

  override async sql(role: string): Promise<string[][]> {
    const s = this.get(role);
    if (s.up === false) throw new Error('down');
    const senders = (s.senders ?? []).map((w) => [w.addr, hex(w.app ?? 'walreceiver'), w.state ?? 'streaming', w.sent ?? '0/3000060', w.replay ?? '0/3000000', w.lag ?? ''].join(' ')).join(',');
    return [[s.primary ? 'f' : 't', s.primary ? s.lsn ?? '0/3000060' : '', s.primary ? '' : s.replay ?? '0/3000000', s.primary ? '' : s.replay ?? '0/3000000', s.primary ? '' : '2',
      s.archiveMode ?? 'off', hex(s.archiveCommand ?? ''), s.lastArchived ?? '', s.lastArchived ? String(NOW - 30) : '', '0', '', '', String(NOW), senders]];
  }

  override async timeline(role: string): Promise<number> {
    return this.get(role).tli ?? 1;
  }

  override async controldata(role: string): Promise<ControlFacts> {
    return { ...controlFacts(''), systemIdentifier: this.get(role).sysid ?? '7000000000000000001', timeline: this.get(role).tli ?? 1 };
  }

  override async listDir(role: string): Promise<DirEntry[]> {
    return this.get(role).status ?? [];
  }
}

function fakeProbes(pg: '9.1' | '15', servers: Record<string, FakeServer>): TableProbes {
  return new TableProbes(pg, servers);
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
});
