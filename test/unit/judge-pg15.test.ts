/**
 * wal-streaming's graders on PostgreSQL 15 (the modern side of every version branch), without
 * Docker: FixtureProbes with the 15 profile answers from states written the way a 15 server shows
 * them (standby.signal and settings in postgresql.auto.conf instead of recovery.conf, pid / sent_lsn
 * in pg_stat_replication, pg_walfile_name for the current timeline). Each check fails on the state
 * before the step and passes on the state after it, through the real FactProbes code.
 */
import { describe, expect, it } from 'vitest';
import type { CheckContext, CheckOutcome } from '../../src/checks/index.js';
import { labFacts } from '../../src/lab/manifest.js';
import { profileFor } from '../../src/pg/profile.js';
import { CHECKS } from '../../labs/wal-streaming/checks/index.js';
import { promotionSeen } from './support/observations.js';
import { FixtureProbes, sqlAnswers, type FixtureConfig, type RoleFixture } from './support/fixture-probes.js';

const PG = profileFor('15');
const IP = { maestro: '10.213.7.10', esclavo: '10.213.7.11' };
const FACTS = labFacts('wal-streaming');
const DATA = PG.dataDir;
const CONF = PG.confDir;
const AUTO = `${DATA}/postgresql.auto.conf`;
const SYSID = '7450000000000000001';

const entry = (name: string, type = 'f') => ({ name, size: type === 'd' ? 4096 : 42, type, owner: 'postgres', mtime: 1_800_000_000 });

function ctx15(config: FixtureConfig): CheckContext {
  return { probes: new FixtureProbes({ profile: PG, ip: IP, ...config }), profile: PG, ip: IP, facts: FACTS };
}

async function judge(name: string, config: FixtureConfig): Promise<CheckOutcome> {
  const check = CHECKS[name];
  expect(check, `${name} is registered`).toBeTypeOf('function');
  return check(ctx15(config));
}

/** What `pg_basebackup -R` plus the tutorial's step 3 leave on a 15 standby. */
const STANDBY_AUTO = [
  `primary_conninfo = 'host=${IP.maestro} port=5432 user=postgres'`,
  `restore_command = 'cp ${FACTS.archive}/%f "%p"'`,
  `archive_cleanup_command = '${PG.binDir}/pg_archivecleanup ${FACTS.archive} %r'`,
  `promote_trigger_file = '${FACTS.trigger}'`,
].join('\n');

function esclavo(opts: { signal?: boolean; recoveryConf?: boolean; auto?: string; conf?: string } = {}): RoleFixture {
  const data = [entry('PG_VERSION'), entry('postgresql.auto.conf'), ...(opts.signal ? [entry('standby.signal')] : []), ...(opts.recoveryConf ? [entry('recovery.conf')] : [])];
  return {
    readiness: 'accepting',
    files: { [`${CONF}/postgresql.conf`]: opts.conf ?? "listen_addresses = '*'\nhot_standby = on\n", [AUTO]: opts.auto ?? STANDBY_AUTO },
    dirs: { [DATA]: data, '/tmp': [] },
  };
}

describe('standby.standbyConfigured on 15 (standby.signal + settings)', () => {
  it('passes what pg_basebackup -R and step 3 leave: standby.signal and the settings in postgresql.auto.conf', async () => {
    const out = await judge('standby.standbyConfigured', { esclavo: esclavo({ signal: true }) });
    expect(out).toEqual({ status: 'pass', evidence: { signal: `${DATA}/standby.signal`, primary_conninfo: `host=${IP.maestro} port=5432 user=postgres` } });
  });

  it("fails 'no-signal' on a restored data directory without standby.signal (it would start as a primary)", async () => {
    expect(await judge('standby.standbyConfigured', { esclavo: esclavo() })).toMatchObject({ status: 'fail', reason: 'no-signal' });
  });

  it("fails 'recovery-conf-present' when a 9.1-style recovery.conf is written (15 refuses to start with it)", async () => {
    expect(await judge('standby.standbyConfigured', { esclavo: esclavo({ signal: true, recoveryConf: true }) })).toMatchObject({ status: 'fail', reason: 'recovery-conf-present' });
  });

  it("fails 'trigger' when promote_trigger_file names another file", async () => {
    const auto = STANDBY_AUTO.replace(FACTS.trigger, '/tmp/other.trigger');
    expect(await judge('standby.standbyConfigured', { esclavo: esclavo({ signal: true, auto }) })).toMatchObject({ status: 'fail', reason: 'trigger' });
  });

  it("fails 'legacy-keys' on 9.1's standby_mode copied into postgresql.conf", async () => {
    const conf = "hot_standby = on\nstandby_mode = 'on'\n";
    expect(await judge('standby.standbyConfigured', { esclavo: esclavo({ signal: true, conf }) })).toMatchObject({ status: 'fail', reason: 'legacy-keys' });
  });
});

describe('streaming.replicationView on 15 (pid, sent_lsn)', () => {
  const view = (rows: string[][]) => ({ maestro: { readiness: 'accepting' as const }, sql: sqlAnswers([{ role: 'maestro', query: 'SELECT pid, host(client_addr), state, sent_lsn FROM pg_stat_replication', rows }]) });

  it('passes a streaming row from the esclavo, reported with 15\'s column names', async () => {
    expect(await judge('streaming.replicationView', view([['4242', IP.esclavo, 'streaming', '0/3000148']]))).toEqual({
      status: 'pass', evidence: { pid: '4242', client_addr: IP.esclavo, state: 'streaming', sent_lsn: '0/3000148' },
    });
  });

  it("fails 'none' with no standby connected, and 'not-streaming' while it catches up", async () => {
    expect(await judge('streaming.replicationView', view([]))).toMatchObject({ status: 'fail', reason: 'none' });
    expect(await judge('streaming.replicationView', view([['4242', IP.esclavo, 'catchup', '0/3000148']]))).toMatchObject({ status: 'fail', reason: 'not-streaming' });
  });
});

describe('promotion on 15 (standby.signal consumed, timeline from pg_walfile_name)', () => {
  /** A running primary's timeline is the first 8 hex digits of its current WAL file. */
  const primaryOn = (tli: number) => sqlAnswers([
    { role: 'esclavo', query: 'SELECT pg_is_in_recovery()', rows: [['f']] },
    { role: 'esclavo', query: 'SELECT pg_walfile_name(pg_current_wal_lsn())', rows: [[`${tli.toString(16).padStart(8, '0')}0000000000000003`]] },
  ]);
  const controldata = (tli: number) => `Database system identifier:           ${SYSID}\nLatest checkpoint's TimeLineID:       ${tli}\n`;
  const promoted = (opts: { signal?: boolean; trigger?: boolean; tli: number }): FixtureConfig => ({
    maestro: { controldata: controldata(1) },
    esclavo: {
      readiness: 'accepting', controldata: controldata(opts.tli),
      dirs: { [DATA]: [entry('PG_VERSION'), ...(opts.signal ? [entry('standby.signal')] : [])], '/tmp': opts.trigger ? [entry('postgres-failover.trigger')] : [] },
    },
    sql: primaryOn(opts.tli),
    // What earns the promotion: the observer saw esclavo streaming as a standby, then leave recovery.
    observation: promotionSeen(SYSID, IP.esclavo),
  });

  it('promotedProperly passes: standby.signal consumed, trigger file removed by the server, timeline 2', async () => {
    expect(await judge('promotion.promotedProperly', promoted({ tli: 2 }))).toEqual({ status: 'pass', evidence: { timeline: 2, 'standby.signal': 'no', trigger: 'no', observed: '1 → 2' } });
  });

  it("promotedProperly fails 'hand-deleted' when standby.signal was removed by hand and the server restarted (same timeline)", async () => {
    expect(await judge('promotion.promotedProperly', promoted({ tli: 1 }))).toMatchObject({ status: 'fail', reason: 'hand-deleted' });
  });

  it("promotedProperly fails 'trigger-ignored' while standby.signal is there and the trigger file waits", async () => {
    const cfg = promoted({ tli: 1, signal: true, trigger: true });
    cfg.sql = sqlAnswers([{ role: 'esclavo', query: 'SELECT pg_is_in_recovery()', rows: [['t']] }]);
    expect(await judge('promotion.promotedProperly', cfg)).toMatchObject({ status: 'fail', reason: 'trigger-ignored' });
  });

  it("timelineAdvanced reads 15's pg_wal/00000002.history and fails 'no-history' on an empty one", async () => {
    const history = `${DATA}/pg_wal/00000002.history`;
    const cfg = promoted({ tli: 2 });
    cfg.esclavo!.files = { [history]: '1\t0/3000148\tno recovery target specified\n' };
    expect(await judge('promotion.timelineAdvanced', cfg)).toMatchObject({ status: 'pass', evidence: { esclavo_timeline: 2, history, branched_at: '0/3000148' } });
    cfg.esclavo!.files = { [history]: '' };
    expect(await judge('promotion.timelineAdvanced', cfg)).toMatchObject({ status: 'fail', reason: 'no-history' });
  });
});
