/**
 * Issue 17 (items 1–10, 12, 14): false passes and the graders' output, judged by the real check
 * functions over captured 9.1 state (shared/fixtures/pg91, FixtureProbes) and the real runner and
 * renderers. Each case reproduced the problem before its fix.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHECKS } from '../../labs/wal-streaming/checks/index.js';
import type { CheckOutcome } from '../../src/checks/types.js';
import { setLang } from '../../src/i18n/index.js';
import { fallbackText } from '../../src/i18n/fallbacks.js';
import { signLine, verifyRecords } from '../../src/observer/records.js';
import { envFacts } from '../../src/lab/facts.js';
import { checksFor, loadLab, type Lab } from '../../src/lab/manifest.js';
import { fillHint, runStep, toResult } from '../../src/lab/runner.js';
import type { Probes } from '../../src/pg/probes.js';
import { labFacts } from '../../src/lab/manifest.js';
import { profileFor, WAL_SEGMENT_SIZE } from '../../src/pg/profile.js';

const { archive: WAL_ARCHIVE_DIR, trigger: TRIGGER_FILE } = labFacts('wal-streaming');
import type { RecordLine } from '../../src/pg/recorder.js';
import { parseServerFacts } from '../../src/lab/topology.js';
import { renderCheck, renderStep } from '../../src/render/checklist.js';
import { archiveText, streamText } from '../../src/render/topology-text.js';
import { CHECKS as FAILBACK } from '../../labs/sync-failback/checks/index.js';
import { fakeEnv } from './support/fake-env.js';
import { observed, serverSeen } from './support/observations.js';
import {
  ctx91, FixtureProbes, fx, IP91, lsLa, psqlTable, selectFrom, sqlAnswers, type CapturedTable, type FixtureConfig, type SqlRule, TOOLS_FILES,
} from './support/fixture-probes.js';

const DATA = '/var/lib/postgresql/9.1/main';
const CONF = '/etc/postgresql/9.1/main';
const PG_CONF = `${CONF}/postgresql.conf`;

beforeEach(() => setLang('es'));
afterEach(() => setLang('es'));

async function judge(name: string, config: FixtureConfig, extra?: (p: FixtureProbes) => void): Promise<CheckOutcome> {
  const probes = new FixtureProbes(config);
  extra?.(probes);
  const check = CHECKS[name] ?? FAILBACK[name];
  expect(check, name).toBeTypeOf('function');
  return check(ctx91(probes));
}

function withSettings(t: CapturedTable, values: Record<string, string>): CapturedTable {
  return { columns: t.columns, rows: t.rows.map((r) => (r.name in values ? { ...r, setting: values[r.name] } : r)) };
}

/** The check spec of `lab`'s step/check id, to turn an outcome into what students read. */
function spec(lab: Lab, step: string, id: string, pg: '9.1' | '17' = '9.1') {
  const s = lab.steps.find((x) => x.id === step)!;
  const c = checksFor(s, pg).find((x) => x.id === id);
  expect(c, `${step}/${id}`).toBeTruthy();
  return c!;
}

describe('5. "N/M verificaciones" counts only ✓', () => {
  it('a step with a warning and no pass reads 0/2, not 1/2', async () => {
    const lab = await loadLab('wal-streaming');
    const facts = envFacts(fakeEnv('9.1'));
    const warn = toResult(spec(lab, 'step-2', 'tarball-cleaned'), { status: 'fail', reason: 'leftovers', evidence: { files: '/var/lib/postgresql/base_backup.tar.gz' } }, facts, 1);
    const fail = toResult(spec(lab, 'step-2', 'clone'), { status: 'fail', reason: 'no-datadir', evidence: {} }, facts, 1);
    expect(warn.status).toBe('warn');
    const text = renderStep({ step: 'step-2', title: 'x', passed: false, points: 0, maxPoints: 3, checks: [warn, fail], durationMs: 1 }, 'x');
    expect(text).toContain('0/2 verificaciones');
  });
});

describe('6. evidence reads in Spanish, with the course words', () => {
  /** English words and internal names the issue found in Spanish output. */
  const FORBIDDEN = [
    /tableKeptOnClone|archivedToEsclavo|streamedFromMaestro|maestroReplayedEsclavoTimeline|[a-z]+[A-Z][a-z]+[A-Z]?/,
    /missing-on-esclavo|not-clone|not-recorded|no-history|two-primaries|never-streamed/,
    /ready on maestro|done on maestro|ready_on_maestro|done_on_maestro|\bperiods\b|write: ok|in recovery|max wal senders/,
    /sí\/yes|\byes\b|\bo\/or\b|\bor\b|expected file|expected_file|\barchive:/, /\t/, /mensaje: \s/,
  ];
  /** The evidence part of a rendered check (the title, "Esperado" and "Pista" are the lab's own text). */
  const scan = (text: string) => {
    const plain = text.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((l) => !/^(✓|✗|!) |^ {4}(Esperado|Pista):/.test(l)).join('\n');
    for (const re of FORBIDDEN) expect(plain, `${re} in:\n${plain}`).not.toMatch(re);
  };

  it('evidence of real checks over the 9.1 captures, rendered as students read it, has none of the English/internal tokens', async () => {
    const wal = await loadLab('wal-streaming');
    const facts = envFacts(fakeEnv('9.1'));
    const settings = psqlTable(fx('pg_settings-maestro.unaligned.txt'));
    const render = (step: string, id: string, o: CheckOutcome) => renderCheck(toResult(spec(wal, step, id), o, facts, 1));
    const outs: string[] = [];
    // archive evidence: segments waiting / archived on maestro (was "ready on maestro: 1").
    const status = lsLa(fx('es/extra-archive_command-space-archive_status.txt'), `${DATA}/pg_xlog/archive_status`);
    outs.push(render('step-2', 'segments', await judge('shipping.segmentsArrived', {
      maestro: { controldata: fx('pg_controldata-maestro.txt'), dirs: status },
      esclavo: { dirs: { '/var/lib/postgresql/wal_archive': [] } },
    })));
    // listen_addresses wrong: "'*' o '…, localhost'" (was o/or).
    outs.push(render('step-2', 'listen', await judge('shipping.listenAddresses', {
      maestro: { readiness: 'accepting', files: { [PG_CONF]: fx('postgresql.conf-maestro-original.txt') } },
      sql: sqlAnswers([selectFrom('pg_settings', withSettings(settings, { listen_addresses: 'localhost' }), 'maestro')]),
    }, (p) => Object.assign(p, { readableByPostgres: async () => true }))));
    // promotion evidence (was sí/yes) and the write probe (was "write: ok").
    const promoted: FixtureConfig = {
      esclavo: { readiness: 'accepting', controldata: fx('pg_controldata-esclavo-promoted.txt'), dirs: { ...lsLa(fx('datadir-esclavo-after-promotion.txt'), DATA), '/tmp': [] }, files: { [`${DATA}/pg_xlog/00000002.history`]: fx('timeline-00000002.history') } },
      maestro: { readiness: 'accepting', controldata: fx('pg_controldata-maestro.txt'), dirs: { '/tmp': [] } },
      sql: sqlAnswers([
        { query: 'SELECT pg_is_in_recovery()', rows: [['f']] },
        { query: /pg_xlogfile_name/, rows: [['000000020000000000000004']] },
        { query: /pglab_write_probe/, rows: [] },
      ]),
      exec: (_role, argv) => ({ exitCode: argv.includes(TRIGGER_FILE) ? 1 : 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), timedOut: false }),
    };
    outs.push(render('step-6', 'promoted-properly', { ...(await judge('promotion.promotedProperly', promoted)), status: 'fail', reason: 'trigger-left' }));
    // esclavo not in recovery: was "expected file: …".
    outs.push(render('step-4', 'esclavo-recovery', await judge('startup.esclavoInRecovery', {
      esclavo: { readiness: 'accepting' }, sql: sqlAnswers([{ query: 'SELECT pg_is_in_recovery()', rows: [['f']] }]),
    })));
    // sshd not running (was "servidores: maestro, esclavo"); a client error with libpq's tab.
    outs.push(render('step-1', 'sshd', await judge('prep.sshdRunning', { maestro: { ps: '1 /bin/sh\n' }, esclavo: { ps: '1 /bin/sh\n' } })));
    outs.push(render('step-1', 'ssh-batch', await judge('prep.passwordlessSsh', {
      maestro: { files: TOOLS_FILES },
      ssh: {
        sshd: { maestro: { answered: true, matches: true }, esclavo: { answered: false, matches: false } },
        login: { exit: 255, stderr: 'ssh: connect to host 10.91.1.11 port 22: Connection refused\n\tIs the server running\n', keys: 1, knownHosts: true },
      },
    })));
    // The fallbacks' names and reasons (was "tableKeptOnClone: missing-on-esclavo").
    outs.push(render('step-5', 'student-table', { status: 'fail', reason: 'no-table', evidence: { tables: '—', also_checked: [fallbackText('observed.tableKeptOnClone', 'missing-on-esclavo'), fallbackText('observed.archivedToEsclavo', 'not-observed'), fallbackText('observed.streamedFromMaestro', 'not-observed')].join('; ') } }));
    // Recorder evidence (was "periods: 1") and sync-failback's evidence (was "maestro in recovery: f", "max wal senders").
    outs.push(render('step-5', 'wal-sender', { status: 'pass', source: 'observer', evidence: { streaming: 'maestro → esclavo (10.91.1.11) 19:18–19:20', periods: 1 } }));
    const sf = await loadLab('sync-failback');
    const sfRender = (step: string, id: string, o: CheckOutcome) => renderCheck(toResult(spec(sf, step, id), o, facts, 1));
    outs.push(sfRender('step-1', 'maestro-standby', { status: 'fail', reason: 'maestro-primary', evidence: { maestro_in_recovery: 'f', maestro_timeline: 1, esclavo_timeline: 2 } }));
    outs.push(sfRender('step-1', 'streaming', { status: 'fail', reason: 'no-wal-senders', evidence: { server: 'esclavo', max_wal_senders: 0, listen_addresses: 'localhost' } }));
    outs.push(sfRender('step-3', 'maestro-primary', { status: 'fail', reason: 'two-primaries', evidence: { maestro_timeline: 3, ancestors: '2', same_system_identifier: 'yes', history: `${DATA}/pg_xlog/00000003.history`, esclavo_timeline: 2 } }));
    outs.push(sfRender('step-2', 'commit-waits', { status: 'pass', evidence: { primary: 'esclavo', synchronous_standby_names: 'maestro', synchronous_commit: 'on', proven_by: 'settings', sync_standbys: 'maestro' } }));
    for (const o of outs) scan(o);
    const all = outs.join('\n');
    expect(all).toContain('servidores sin sshd corriendo: maestro, esclavo');
    expect(all).toContain("'*' o '10.91.1.10, localhost'");
    expect(all).toContain('archivo disparador: no');
    expect(all).toContain('mensaje: ssh: connect to host 10.91.1.11 port 22: Connection refused Is the server running');
    expect(all).toContain('tu tabla con sus filas en el esclavo y en el maestro (no está en el esclavo)');
    expect(all).toContain('mismo identificador de sistema: sí');
    expect(all).toContain('max_wal_senders: 0');
    // The JSON keeps raw values: only what people read is translated.
    expect((await judge('promotion.promotedProperly', promoted)).evidence).toMatchObject({ 'recovery.done': 'yes', trigger: 'no' });
  });

  it('tableKeptOnClone says "no table" (not "missing on esclavo") when maestro has none either', async () => {
    const out = await judge('observed.tableKeptOnClone', {
      maestro: { readiness: 'accepting', controldata: fx('pg_controldata-maestro.txt'), tables: new Map([['postgres:public.t', 0]]) },
      esclavo: { readiness: 'accepting', controldata: fx('pg_controldata-esclavo.txt'), tables: new Map() },
    });
    expect(out).toMatchObject({ status: 'fail', reason: 'no-table' });
  });
});

describe('7. hints name only the env\'s own promote command', () => {
  it('9.1 says touch the trigger file, 17 says pg_ctl promote; no "(17: …)" asides', async () => {
    const lab = await loadLab('wal-streaming');
    const six = lab.steps.find((s) => s.id === 'step-6')!;
    for (const pg of ['9.1', '17'] as const) {
      const facts = envFacts(fakeEnv(pg));
      const texts = [
        ...six.hints.map((h) => fillHint(h.es, facts)),
        ...checksFor(six, pg).flatMap((c) => Object.values(c.hints).map((h) => fillHint(h.es, facts))),
      ];
      const all = texts.join('\n');
      expect(all).not.toMatch(/\(17:|17: `|9\.1, 13 y 15/);
      if (pg === '9.1') {
        expect(all).not.toContain('pg_ctl promote');
        expect(all).toContain(`touch ${TRIGGER_FILE}`);
      } else {
        expect(all).toContain('/usr/lib/postgresql/17/bin/pg_ctl promote -D /var/lib/postgresql/17/main');
        expect(all).not.toContain('touch /tmp');
      }
    }
  });
});

describe('8. step 3 accepts listen_addresses = \'*\' as step 2 does', () => {
  it("'*' in the file listens on maestro's IP: pass", async () => {
    const conf = fx('postgresql.conf-maestro-final.txt').replace(/^listen_addresses = .*$/m, "listen_addresses = '*'");
    expect(conf).toMatch(/^listen_addresses = '\*'$/m);
    const out = await judge('standby.maestroListensInFile', { maestro: { files: { [PG_CONF]: conf } } });
    expect(out).toMatchObject({ status: 'pass', evidence: { listen_addresses: '*' } });
  });

  it('localhost alone still fails', async () => {
    const conf = fx('postgresql.conf-maestro-final.txt').replace(/^listen_addresses = .*$/m, "listen_addresses = 'localhost'");
    expect((await judge('standby.maestroListensInFile', { maestro: { files: { [PG_CONF]: conf } } })).reason).toBe('no-own-ip');
  });
});

describe('9. a wrapped archive_command line: step 2 warns that the next restart will fail', () => {
  const captured = psqlTable(fx('pg_settings-maestro.unaligned.txt'));
  const finalConf = fx('postgresql.conf-maestro-final.txt');
  // The experiment of extra-archive_command-linebreak-*: the line break kept inside the quoted value.
  const lineBroken = finalConf.replace(/^archive_command = .*$/m, "archive_command = 'rsync -av %p postgres@10.91.1.11: \n/var/lib/postgresql/wal_archive/%f'");
  // rsync and ssh installed on both, and a segment already archived (archive-settings asks for both).
  const archived = { [WAL_ARCHIVE_DIR]: [{ name: '000000010000000000000002', size: WAL_SEGMENT_SIZE, type: 'f', owner: 'postgres', mtime: 0 }] };
  const config = (conf: string): FixtureConfig => ({
    maestro: { readiness: 'accepting', files: { ...TOOLS_FILES, [PG_CONF]: conf } }, esclavo: { files: TOOLS_FILES, dirs: archived },
    sql: sqlAnswers([selectFrom('pg_settings', captured, 'maestro')]),
  });

  it('the old server still runs the right settings (restart refused, exit 0): the settings checks pass', async () => {
    expect(fx('extra-archive_command-linebreak-restart-output.txt')).toMatch(/No PostgreSQL clusters exist[\s\S]*\[exit status 0\]/);
    for (const name of ['shipping.walSettings', 'shipping.archiveSettings']) expect((await judge(name, config(lineBroken))).status, name).toBe('pass');
  });

  it('confReadable fails conf-syntax, shown as ! with the whole lines and a hint that says the restart did not happen', async () => {
    const out = await judge('shipping.confReadable', config(lineBroken));
    expect(out).toMatchObject({ status: 'fail', reason: 'conf-syntax', evidence: { file: PG_CONF } });
    expect(out.evidence!.lines).toBe("183: archive_command = 'rsync -av %p postgres@10.91.1.11: | 184: /var/lib/postgresql/wal_archive/%f'");
    const lab = await loadLab('wal-streaming');
    const r = toResult(spec(lab, 'step-2', 'conf-readable'), out, envFacts(fakeEnv('9.1')), 1);
    expect(r.status).toBe('warn');
    expect(r.hint).toContain('No PostgreSQL clusters exist');
    expect(r.hint).toMatch(/sigue corriendo el servidor viejo/);
  });

  it('passes the final file, and says "not edited" on the original one', async () => {
    expect((await judge('shipping.confReadable', config(finalConf))).status).toBe('pass');
    expect((await judge('shipping.confReadable', config(fx('postgresql.conf-maestro-original.txt')))).reason).toBe('not-edited');
  });
});

describe('10. sshd, error lines, the two -c, an empty table', () => {
  it('a long broken line is listed whole up to a word, never cut inside a path', async () => {
    const long = `archive_command = 'rsync -av --timeout=10 %p postgres@10.91.1.11:/var/lib/postgresql/wal_archive/%f && echo copiado a /var/lib/postgresql/wal_archive`;
    const conf = fx('postgresql.conf-maestro-final.txt').replace(/^archive_command = .*$/m, long);
    const out = await judge('shipping.confReadable', { maestro: { readiness: 'accepting', files: { [PG_CONF]: conf } } });
    const line = String(out.evidence!.lines);
    // Cut at 100 characters, between words: the path stays whole.
    expect(line).toBe("183: archive_command = 'rsync -av --timeout=10 %p postgres@10.91.1.11:/var/lib/postgresql/wal_archive/%f …");
  });

  it('an empty table: "0 filas", and on 9.1 the hint names the two -c', async () => {
    const out = await judge('streaming.studentTableReplicated', { maestro: { tables: new Map([['postgres:public.prueba_replicacion', 0]]) } });
    expect(out).toEqual({ status: 'fail', reason: 'no-table-two-c', evidence: { tables: 'postgres:public.prueba_replicacion (0 filas)' } });
    expect(fx('psql-multiple-c-option.txt')).toContain('second_c');
    const lab = await loadLab('wal-streaming');
    const r = toResult(spec(lab, 'step-5', 'student-table'), out, envFacts(fakeEnv('9.1')), 1);
    expect(r.hint).toMatch(/dos `-c`.*solo el último/);
    expect(renderCheck(r)).toContain('tablas: postgres:public.prueba_replicacion (0 filas)');
  });
});

/** The env observer's records of a promotion (signed and verified as the real ones are). */
function observedPromotion() {
  const key = 'e'.repeat(64);
  const server = (n: number, at: number, role: string, f: Record<string, string | number>) => signLine(key, { n, at, t: 'server', role, up: 1, rec: 'f', tli: 1, sysid: '1', snd: '', wr: '', arch: 1, lsn: '0/3000000', rcv: '', ...f });
  return verifyRecords(server(1, 1, 'maestro', { snd: '10.91.1.11/streaming/async' }) + server(2, 1, 'esclavo', { rec: 't' }) + server(3, 2, 'esclavo', { tli: 2 }), key);
}

describe('12. a trigger file touched on maestro', () => {
  const standby: FixtureConfig = {
    esclavo: { readiness: 'accepting', controldata: fx('pg_controldata-esclavo.txt'), dirs: lsLa(fx('datadir-esclavo-after-rsync.txt')), files: { [`${DATA}/recovery.conf`]: fx('recovery.conf') } },
    maestro: { readiness: 'accepting', controldata: fx('pg_controldata-maestro.txt'), files: { [TRIGGER_FILE]: '' } },
    sql: sqlAnswers([{ query: 'SELECT pg_is_in_recovery()', rows: [['t']] }]),
    exec: (role, argv) => ({ exitCode: role === 'esclavo' && argv.includes(TRIGGER_FILE) ? 1 : 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), timedOut: false }),
  };

  it('esclavo not promoted, the trigger on maestro: promotedProperly says where it went', async () => {
    const probes = new FixtureProbes(standby);
    // stat of the trigger: absent on esclavo (exec fails), present on maestro (a file in the fixture).
    Object.assign(probes, { stat: async (role: string, p: string) => (p === TRIGGER_FILE ? (role === 'maestro' ? { type: 'f', owner: 'postgres', mtime: 0, size: 0 } : undefined) : p.endsWith('recovery.conf') ? { type: 'f', owner: 'postgres', mtime: 0, size: 1 } : undefined) });
    const out = await CHECKS['promotion.promotedProperly'](ctx91(probes));
    expect(out).toMatchObject({ status: 'fail', reason: 'trigger-on-maestro', evidence: { trigger_on_maestro: 'yes' } });
    const lab = await loadLab('wal-streaming');
    const r = toResult(spec(lab, 'step-6', 'promoted-properly'), out, envFacts(fakeEnv('9.1')), 1);
    expect(r.hint).toMatch(/archivo disparador está en el maestro.*servidor equivocado/);
  });

  it('after the promotion, a trigger left on maestro is a ! that says it would promote maestro in the next lab', async () => {
    const probes = new FixtureProbes({
      esclavo: { readiness: 'accepting', controldata: fx('pg_controldata-esclavo-promoted.txt') },
      maestro: { readiness: 'accepting', controldata: fx('pg_controldata-maestro.txt') },
      sql: sqlAnswers([{ query: 'SELECT pg_is_in_recovery()', rows: [['f']] }, { query: /pg_xlogfile_name/, rows: [['000000020000000000000004']] }]),
      // The observer saw esclavo stream from maestro, then leave recovery on timeline 2.
      observation: observedPromotion(),
    });
    Object.assign(probes, { stat: async (role: string, p: string) => (role === 'maestro' && p === TRIGGER_FILE ? { type: 'f', owner: 'postgres', mtime: 0, size: 0 } : undefined) });
    const out = await CHECKS['promotion.noTriggerOnMaestro'](ctx91(probes));
    expect(out).toMatchObject({ status: 'fail', reason: 'present' });
    const lab = await loadLab('wal-streaming');
    const r = toResult(spec(lab, 'step-6', 'no-trigger-on-maestro'), out, envFacts(fakeEnv('9.1')), 1);
    expect(r.status).toBe('warn');
    expect(r.hint).toMatch(/en el lab siguiente el maestro vuelve como esclavo y se promueve apenas arranca/);
  });
});

describe('14. "El esclavo está en marcha" needs esclavo running as a standby', () => {
  it('a fresh env (esclavo a primary of its own): fail not-standby', async () => {
    const out = await judge('startup.esclavoUp', { esclavo: { readiness: 'accepting' }, sql: sqlAnswers([{ query: 'SELECT pg_is_in_recovery()', rows: [['f']] }]) });
    expect(out).toMatchObject({ status: 'fail', reason: 'not-standby' });
  });

  it('a standby passes; so does one without hot_standby (rejecting queries)', async () => {
    expect((await judge('startup.esclavoUp', { esclavo: { readiness: 'accepting' }, sql: sqlAnswers([{ query: 'SELECT pg_is_in_recovery()', rows: [['t']] }]) })).status).toBe('pass');
    expect((await judge('startup.esclavoUp', { esclavo: { readiness: 'rejecting' } })).status).toBe('pass');
  });
});

describe('4. an empty data directory: repeat the base backup, not "start it"', () => {
  it('runStep adds the missing PG_VERSION to a down server and the hint says to repeat the base backup', async () => {
    const lab = await loadLab('sync-failback');
    const env = fakeEnv('9.1', 'sync-failback', 2);
    const probes = new FixtureProbes({
      maestro: { readiness: 'down', dirs: { [DATA]: [] }, controldata: null },
      esclavo: { readiness: 'accepting', controldata: fx('pg_controldata-esclavo-promoted.txt') },
      sql: sqlAnswers([{ query: 'SELECT pg_is_in_recovery()', rows: [['f']] }, { query: /pg_xlogfile_name/, rows: [['000000020000000000000004']] }]),
    });
    Object.assign(probes, { env, ip: (role: string) => env.servers.find((s) => s.role === role)!.ip, recording: async () => undefined });
    const step = { ...lab.steps[0], checks: lab.steps[0].checks.filter((c) => c.id === 'maestro-standby') };
    const r = await runStep(env, lab, step, { probes: probes as unknown as Probes, progress: async () => ({ checks: {} }) as never });
    const c = r.checks[0];
    expect(c.evidence).toMatchObject({ server: 'maestro', pg_version: 'missing', data_dir: DATA });
    expect(c.hint).toMatch(/repetí el respaldo base/);
    expect(c.hint).not.toMatch(/arrancalo como root/);
  });
});

describe('1. sync-failback step 1 / step 3: a history through timeline 2 is not a standby', () => {
  // maestro restored from esclavo's base backup without standby_mode: a primary on timeline 3.
  const HISTORY3 = '1\t0/3000090\tno recovery target specified\n2\t0/5000000\tno recovery target specified\n';
  const sysid = /Database system identifier:\s+(\d+)/.exec(fx('pg_controldata-esclavo-promoted.txt'))![1];
  const base = (esclavoInRecovery: boolean, records: { maestro: RecordLine[]; esclavo: RecordLine[] }) => {
    const probes = new FixtureProbes({
      maestro: { readiness: 'accepting', controldata: fx('pg_controldata-esclavo-promoted.txt'), files: { [`${DATA}/pg_xlog/00000003.history`]: HISTORY3 } },
      esclavo: { readiness: 'accepting', controldata: fx('pg_controldata-esclavo-promoted.txt') },
      sql: sqlAnswers([
        { role: 'maestro', query: 'SELECT pg_is_in_recovery()', rows: [['f']] },
        { role: 'esclavo', query: 'SELECT pg_is_in_recovery()', rows: [[esclavoInRecovery ? 't' : 'f']] },
        { role: 'maestro', query: /pg_xlogfile_name/, rows: [['000000030000000000000006']] },
        { role: 'esclavo', query: /pg_xlogfile_name/, rows: [['000000020000000000000007']] },
      ]),
    });
    // What the env's observer saw, in its own records (the lab reads these, not the servers' own).
    const seen = (['maestro', 'esclavo'] as const).flatMap((role) => records[role].map((r) => [role, r] as const)).sort((a, b) => a[1].at - b[1].at);
    const obs = observed(seen.map(([role, r]) => serverSeen(r.at, role, r.sysid, {
      rec: r.inRecovery ? 't' : 'f', wr: r.receiver ?? '', snd: r.senders.map((x) => `${x.client}/${x.state}/async`).join(','),
    })));
    Object.assign(probes, { observation: async () => obs });
    return probes;
  };
  const rec = (at: number, r: Partial<RecordLine>): RecordLine => ({ at, up: true, sysid, walFile: '', receiveLsn: '', replayLsn: '', senders: [], receiver: '', lastArchived: '', ready: 0, ...r });

  it('two primaries (the issue\'s reproduction): step 1\'s fallback and step 3\'s maestro-primary fail', async () => {
    const probes = base(false, { maestro: [], esclavo: [] });
    expect(await FAILBACK['failback.maestroReplayedEsclavoTimeline'](ctx91(probes))).toMatchObject({ status: 'fail', reason: 'two-primaries' });
    expect(await FAILBACK['failback.maestroPrimaryAgain'](ctx91(base(false, { maestro: [], esclavo: [] })))).toMatchObject({ status: 'fail', reason: 'two-primaries' });
    expect(await FAILBACK['failback.maestroFollowsEsclavo'](ctx91(Object.assign(base(false, { maestro: [], esclavo: [] }), { stat: async () => undefined })))).toMatchObject({ status: 'fail', reason: 'recovery-ended', evidence: { maestro_timeline: 3, esclavo_timeline: 2 } });
  });

  it('esclavo rebuilt as maestro\'s standby but maestro never seen streaming from it: still no credit', async () => {
    expect(await FAILBACK['failback.maestroReplayedEsclavoTimeline'](ctx91(base(true, { maestro: [], esclavo: [] })))).toMatchObject({ status: 'fail', reason: 'never-streamed' });
  });

  it('a real switchover (maestro seen in recovery streaming from esclavo, then promoted): pass from evidence', async () => {
    const t0 = 1_790_000_000;
    const seen = {
      maestro: [rec(t0, { inRecovery: true, receiver: 'streaming' }), rec(t0 + 5, { inRecovery: true, receiver: 'streaming' })],
      esclavo: [rec(t0 + 1, { inRecovery: false, senders: [{ client: IP91.maestro, state: 'streaming', sent: '0/5000000' }] })],
    };
    expect(await FAILBACK['failback.maestroReplayedEsclavoTimeline'](ctx91(base(true, seen)))).toMatchObject({ status: 'pass', source: 'evidence' });
    expect(await FAILBACK['failback.maestroPrimaryAgain'](ctx91(base(true, seen)))).toMatchObject({ status: 'pass' });
  });
});

describe('2. step 3: every COMMIT on maestro would wait', () => {
  const HISTORY3 = '1\t0/3000090\tno recovery target specified\n2\t0/5000000\tno recovery target specified\n';
  const run = (app: string, commit = 'on') => {
    const rules: SqlRule[] = [
      { query: 'SELECT pg_is_in_recovery()', rows: [['f']] },
      { query: /pg_xlogfile_name/, rows: [['000000030000000000000006']] },
      { query: /FROM pg_settings/, rows: [['synchronous_standby_names', 'esclavo', '']] },
      { query: /FROM pg_stat_replication/, rows: [[IP91.esclavo, app, 'streaming', app === 'esclavo' ? 'sync' : 'async', '0/6000000']] },
      { query: /FROM pg_database/, rows: [[Buffer.from('postgres').toString('hex')]] },
      { query: 'SHOW synchronous_commit', rows: [[commit]] },
    ];
    return FAILBACK['failback.commitsComplete'](ctx91(new FixtureProbes({ maestro: { readiness: 'accepting', files: { [`${DATA}/pg_xlog/00000003.history`]: HISTORY3 } }, sql: sqlAnswers(rules) })));
  };

  it('esclavo connected as walreceiver, list "esclavo": fail commits-wait', async () => {
    expect(await run('walreceiver')).toMatchObject({ status: 'fail', reason: 'commits-wait', evidence: { synchronous_standby_names: 'esclavo', database: 'postgres', synchronous_commit: 'on' } });
  });

  it('esclavo connected as esclavo: pass; synchronous_commit = local everywhere: commits do not wait, pass', async () => {
    expect((await run('esclavo')).status).toBe('pass');
    expect((await run('walreceiver', 'local')).status).toBe('pass');
  });

  it('a fresh env (maestro the first lab\'s primary on timeline 1): fail not-switched', async () => {
    const out = await FAILBACK['failback.commitsComplete'](ctx91(new FixtureProbes({
      maestro: { readiness: 'accepting' }, sql: sqlAnswers([{ query: 'SELECT pg_is_in_recovery()', rows: [['f']] }, { query: /pg_xlogfile_name/, rows: [['000000010000000000000006']] }]),
    })));
    expect(out).toMatchObject({ status: 'fail', reason: 'not-switched' });
  });
});

describe('4. step 4 on 9.1: a list 9.1 refuses', () => {
  it("'ANY 1 (esclavo, esclavo2)' in the file, the old value running: the hint says 9.1 reads a plain list", async () => {
    const conf = `${fx('postgresql.conf-maestro-final.txt')}\nsynchronous_standby_names = 'ANY 1 (esclavo, esclavo2)'\n`;
    const probes = new FixtureProbes({
      maestro: { readiness: 'accepting', files: { [PG_CONF]: conf } },
      sql: sqlAnswers([
        { query: 'SELECT pg_is_in_recovery()', rows: [['f']] },
        { query: /FROM pg_settings/, rows: [['synchronous_standby_names', 'esclavo', '']] },
        { query: /FROM pg_stat_replication/, rows: [[IP91.esclavo, 'esclavo', 'streaming', 'sync', '0/6000000'], ['10.91.1.12', 'esclavo2', 'streaming', 'async', '0/6000000']] },
      ]),
    });
    Object.assign(probes, { ip: (role: string) => (role === 'esclavo2' ? '10.91.1.12' : (IP91 as Record<string, string>)[role]) });
    const out = await FAILBACK['failback.twoStandbyList'](ctx91(probes));
    expect(out).toMatchObject({ status: 'fail', reason: 'file-unparsable-plain-list', evidence: { synchronous_standby_names: 'esclavo', in_file: 'ANY 1 (esclavo, esclavo2)' } });
    const lab = await loadLab('sync-failback');
    const r = toResult(spec(lab, 'step-4', 'two-standby-list'), out, envFacts(fakeEnv('9.1', 'sync-failback', 2)), 1);
    expect(r.hint).toContain("synchronous_standby_names = 'esclavo, esclavo2'");
    expect(r.hint).toMatch(/PostgreSQL 9\.1 solo entiende una lista simple/);
  });

  it('lab 2 step 1 text no longer says "two ways" and then "only one" on 9.1', async () => {
    const { readFileSync } = await import('node:fs');
    for (const lang of ['es', 'en']) {
      const text = readFileSync(new URL(`../../exercises/sync-failback/${lang}/step-1.md`, import.meta.url), 'utf8');
      const v91 = text.replace(/::: only 13,15,17[\s\S]*?\n:::\n/g, '');
      expect(v91).not.toMatch(/Hay dos caminos|There are two ways/);
      expect(v91).not.toMatch(/hay uno solo|only one/);
    }
  });
});

describe('3. lab status: sync state, and archiving off as the lab asks', () => {
  it('parses sync_state and shows it on the edge', () => {
    const facts = parseServerFacts(['f', '0/6000000', '', '', '', 'off', '', '', '', '', '', '', '1790000000', `${IP91.esclavo} 657363 streaming 0/6000000 0/6000000  sync,${IP91.maestro} 6d61 streaming 0/6000000 0/6000000  potential`, '']);
    expect(facts.senders.map((s) => s.sync)).toEqual(['sync', 'potential']);
    expect(streamText({ from: 'maestro', to: 'esclavo', state: 'streaming', application: 'esclavo', sync: 'sync' })).toContain('sincrónico (sync)');
    expect(streamText({ from: 'maestro', to: 'esclavo2', state: 'streaming', application: 'esclavo2', sync: 'potential' })).toContain('potential');
  });

  it('archive_mode off is neutral when the lab asks for it, ✗ otherwise', async () => {
    const off = { from: 'esclavo', state: 'off' as const, waiting: 0 };
    expect(archiveText(off, { archiveOffExpected: true })).toContain('apagado (como pide el lab)');
    expect(archiveText(off, { archiveOffExpected: true })).not.toContain('✗');
    expect(archiveText(off)).toContain('✗');
    const { labAsksArchiveOff } = await import('../../src/lab/manifest.js');
    expect(labAsksArchiveOff('sync-failback')).toBe(true);
    expect(labAsksArchiveOff('wal-streaming')).toBe(false);
  });
});

it('profiles used above exist', () => {
  expect(profileFor('9.1').recoveryConfFile).toBe(true);
});

describe('6. hints on the web page show backticks as code', () => {
  it('escapes first, then turns `…` into <code>', async () => {
    const { hintHtml } = await import('../../src/render/escape.js');
    expect(hintHtml('Como root: `rm <x> && echo "y"` y listo')).toBe('Como root: <code>rm &lt;x&gt; &amp;&amp; echo &quot;y&quot;</code> y listo');
  });
});
