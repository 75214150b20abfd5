/**
 * The real graders judging real PostgreSQL 9.1 state: every fact comes from the captures in
 * shared/fixtures/pg91 (README there), served by FixtureProbes. Each check passes on the state the
 * tutorial produced and fails, with the reason that picks the right hint, on a real or minimally
 * edited broken state. Both runs are used: English (top level) and Spanish (`es/`, other system
 * identifiers, Spanish pg_controldata labels, `ls` month names and psql footers).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CHECKS } from '../../labs/wal-streaming/checks/index.js';
import type { CheckOutcome } from '../../src/checks/types.js';
import { labFacts } from '../../src/lab/manifest.js';
import { profileFor, WAL_SEGMENT_SIZE } from '../../src/pg/profile.js';
import type { Observation } from '../../src/observer/records.js';
import { observed, promotionSeen as promotionSeenFrom, serverSeen } from './support/observations.js';

const { archive: WAL_ARCHIVE_DIR, trigger: TRIGGER_FILE } = labFacts('wal-streaming');
import type { DirEntry } from '../../src/pg/probes.js';
import {
  ctx91, FixtureProbes, fx, fxBuffer, IP91, lsLa, psqlTable, selectFrom, sqlAnswers,
  type CapturedTable, type FixtureConfig, type RoleFixture, type SqlRule,
} from './support/fixture-probes.js';

const DATA = '/var/lib/postgresql/9.1/main';
const CONF = '/etc/postgresql/9.1/main';
const XLOG = `${DATA}/pg_xlog`;
const RECOVERY_CONF = `${DATA}/recovery.conf`;
const HBA = `${CONF}/pg_hba.conf`;
const PG_CONF = `${CONF}/postgresql.conf`;
const HISTORY_NAME = '000000010000000000000003.00000020.backup';
const TLI2_HISTORY = `${XLOG}/00000002.history`;

/** Values read off the captures by eye, so the assertions do not just echo the parsers. */
const RUNS = [
  { run: 'en', dir: '', other: 'es/', sysid: '7712552863478153215', initialEsclavoSysid: '7712552863478579191', senderPid: 600, senderPort: 54398, receiverPid: 916 },
  { run: 'es', dir: 'es/', other: '', sysid: '7712553997349453567', initialEsclavoSysid: '7712553997349748479', senderPid: 620, senderPort: 58764, receiverPid: 912 },
] as const;

const server = serverSeen;
/** The archiver seen shipping the run's sampled segment, and that segment arriving in esclavo's archive. */
function archivingSeen(dir: string, sysid: string): Observation {
  const seg = fx(`${dir}wal-segment-first-page.name.txt`).trim();
  const head = fxBuffer(`${dir}wal-segment-first-page.bin`).subarray(0, 40).toString('hex');
  return observed([server(1, 'maestro', sysid), { at: 2, t: 'shipped', role: 'maestro', seg, how: 'done' }, { at: 3, t: 'arrived', role: 'esclavo', seg, size: WAL_SEGMENT_SIZE, head }]);
}
const promotionSeen = (sysid: string) => promotionSeenFrom(sysid, IP91.esclavo);

async function judge(name: string, config: FixtureConfig): Promise<CheckOutcome> {
  const check = CHECKS[name];
  expect(check, `${name} is registered`).toBeTypeOf('function');
  return check(ctx91(new FixtureProbes(config)));
}

/** Rows of one column of a captured psql result, as the probe's SQL would return them. */
const column = (t: CapturedTable, name: string): string[][] => t.rows.map((r) => [r[name]]);

/** A captured table with some values replaced (name → setting), for pg_settings-style tables. */
function withSettings(t: CapturedTable, values: Record<string, string>): CapturedTable {
  for (const name of Object.keys(values)) expect(t.rows.some((r) => r.name === name), `${name} captured`).toBe(true);
  return { columns: t.columns, rows: t.rows.map((r) => (r.name in values ? { ...r, setting: values[r.name] } : r)) };
}

/** Comments out every line that is not blank or a comment already (wrapped fragments included). */
const commentOutAll = (text: string) => text.split('\n').map((l) => (l.trim() && !l.trimStart().startsWith('#') ? `#${l}` : l)).join('\n');

describe.each(RUNS)('standby.standbyConfigured on 9.1 recovery.conf ($run)', ({ dir }) => {
  const withRecoveryConf = (text: string) => judge('standby.standbyConfigured', { esclavo: { files: { [RECOVERY_CONF]: text } } });

  it('passes the recovery.conf the standby really started with', async () => {
    const out = await withRecoveryConf(fx(`${dir}recovery.conf`));
    expect(out).toEqual({
      status: 'pass',
      evidence: { path: RECOVERY_CONF, settings: 'standby_mode, primary_conninfo, trigger_file, restore_command, archive_cleanup_command' },
    });
  });

  it("fails 'syntax' on the PDF-wrapped file, naming the line 9.1 refused first", async () => {
    const out = await withRecoveryConf(fx(`${dir}extra-recovery.conf-pdf-wrapped.txt`));
    expect(out.status).toBe('fail');
    expect(out.reason).toBe('syntax');
    expect(out.evidence?.path).toBe(RECOVERY_CONF);
    const lines = String(out.evidence?.lines).split(' | ');
    // `connect`, `backup.`, the unterminated archive_cleanup_command and its continuation.
    expect(lines.map((l) => parseInt(l, 10))).toEqual([4, 18, 21, 22]);
    expect(lines[0]).toBe('4: connect');
    expect(lines[1]).toBe('18: backup.');
    expect(lines[3]).toBe("22: /var/lib/postgresql/wal_archive/ %r'");
    // The server's FATAL (English or Spanish) names the same first line.
    const serverLine = /(?:line|línea) (\d+)/.exec(fx(`${dir}extra-recovery.conf-pdf-wrapped-log.txt`))?.[1];
    expect(serverLine).toBe('4');
  });

  it("fails 'standby-mode' when every line of that file is commented out", async () => {
    const out = await withRecoveryConf(commentOutAll(fx(`${dir}extra-recovery.conf-pdf-wrapped.txt`)));
    expect(out).toEqual({
      status: 'fail',
      reason: 'standby-mode',
      evidence: { path: RECOVERY_CONF, problems: 'standby_mode=—, primary_conninfo, restore_command=—, archive_cleanup_command=—, trigger_file=—' },
    });
  });

  it("fails 'conninfo-host' when primary_conninfo points at the esclavo itself", async () => {
    const text = fx(`${dir}recovery.conf`);
    expect(text).toContain('host=10.91.1.10 ');
    const out = await withRecoveryConf(text.replace('host=10.91.1.10 ', 'host=10.91.1.11 '));
    expect(out).toEqual({ status: 'fail', reason: 'conninfo-host', evidence: { path: RECOVERY_CONF, problems: 'host=10.91.1.11' } });
  });

  it("fails 'missing' on the data directory as restored, before recovery.conf was written", async () => {
    const out = await judge('standby.standbyConfigured', { esclavo: { dirs: lsLa(fx(`${dir}datadir-esclavo-after-rsync.txt`)) } });
    expect(out).toEqual({ status: 'fail', reason: 'missing', evidence: { path: RECOVERY_CONF } });
  });
});

describe.each(RUNS)('standby.hbaReplicationRule on 9.1 pg_hba.conf ($run)', ({ dir }) => {
  const withHba = (text: string) => judge('standby.hbaReplicationRule', { maestro: { files: { [HBA]: text } } });
  const final = fx(`${dir}pg_hba.conf-maestro-final.txt`);

  it('passes the final pg_hba.conf, citing the appended line', async () => {
    const appended = fx(`${dir}pg_hba.conf-maestro.diff`).split('\n').find((l) => /^\+host/.test(l))!.slice(1);
    const out = await withHba(final);
    expect(out).toEqual({ status: 'pass', evidence: { line: 104, rule: appended } });
    expect(appended).toBe('host    replication   postgres       10.91.1.11/32       trust');
  });

  it("fails 'no-rule' on the original file (replication lines commented out)", async () => {
    const out = await withHba(fx(`${dir}pg_hba.conf-maestro-original.txt`));
    expect(out).toEqual({ status: 'fail', reason: 'no-rule', evidence: { path: HBA, esclavo: IP91.esclavo } });
  });

  it("fails 'wrong-address' when the rule names 10.91.1.99/32", async () => {
    const out = await withHba(final.replace('10.91.1.11/32', '10.91.1.99/32'));
    expect(out).toEqual({
      status: 'fail',
      reason: 'wrong-address',
      evidence: { line: 104, rule: 'host    replication   postgres       10.91.1.99/32       trust', esclavo: IP91.esclavo },
    });
  });
});

describe.each(RUNS)('shipping.segmentsArrived on the 9.1 archive ($run)', ({ dir, other, sysid }) => {
  const segment = fx(`${dir}wal-segment-first-page.name.txt`).trim();
  const archive = lsLa(fx(`${dir}wal_archive-listing.txt`), WAL_ARCHIVE_DIR);
  const withPage = (page: Buffer, maestroControldata = fx(`${dir}pg_controldata-maestro.txt`), observation: Observation | null = archivingSeen(dir, sysid)) =>
    judge('shipping.segmentsArrived', {
      esclavo: { dirs: archive, files: { [`${WAL_ARCHIVE_DIR}/${segment}`]: page } },
      maestro: { controldata: maestroControldata },
      observation: observation ?? undefined,
    });

  it('the listing holds the sampled segment at full size', () => {
    expect(segment).toBe('000000010000000000000004');
    expect(archive[WAL_ARCHIVE_DIR].find((e) => e.name === segment)).toMatchObject({ type: 'f', size: WAL_SEGMENT_SIZE, owner: 'postgres' });
  });

  it("passes the archived segment's real first page (magic 0xD066, this maestro's sysid)", async () => {
    const out = await withPage(fxBuffer(`${dir}wal-segment-first-page.bin`));
    expect(out).toEqual({ status: 'pass', evidence: { segment, size: WAL_SEGMENT_SIZE, magic: '0xd066', sysid, segments: 1, archived_observed: 1 } });
  });

  it("fails 'not-shipped' on the same real segment when the observer never saw the archiver ship one (copied by hand)", async () => {
    for (const observation of [null, observed([server(1, 'maestro', sysid)])]) {
      const out = await withPage(fxBuffer(`${dir}wal-segment-first-page.bin`), undefined, observation);
      expect(out).toMatchObject({ status: 'fail', reason: 'not-shipped', evidence: { segment } });
    }
  });

  it("fails 'invalid' on the other run's page (same name and size, another cluster's sysid)", async () => {
    const out = await withPage(fxBuffer(`${other}wal-segment-first-page.bin`));
    expect(out).toEqual({
      status: 'fail',
      reason: 'invalid',
      evidence: { rejected: `${segment}: sysid-mismatch`, maestro_sysid: sysid, expected_size: WAL_SEGMENT_SIZE },
    });
  });

  it("fails 'invalid' on a zero-filled 8192-byte first page under a valid name", async () => {
    const out = await withPage(Buffer.alloc(8192));
    expect(out).toEqual({
      status: 'fail',
      reason: 'invalid',
      evidence: { rejected: `${segment}: bad-magic`, maestro_sysid: sysid, expected_size: WAL_SEGMENT_SIZE },
    });
  });

  it("fails 'empty' on an empty archive, counting maestro's .ready files (space-after-colon run)", async () => {
    const out = await judge('shipping.segmentsArrived', {
      esclavo: { dirs: { [WAL_ARCHIVE_DIR]: [] } },
      maestro: {
        controldata: fx(`${dir}pg_controldata-maestro.txt`),
        dirs: lsLa(fx(`${dir}extra-archive_command-space-archive_status.txt`), `${XLOG}/archive_status`),
      },
    });
    expect(out).toEqual({ status: 'fail', reason: 'empty', evidence: { path: WAL_ARCHIVE_DIR, files: 0, ready_on_maestro: 1, done_on_maestro: 5 } });
  });
});

describe.each(RUNS)('shipping.baseBackupTaken on the 9.1 archive ($run)', ({ dir, sysid }) => {
  const history = { [`${WAL_ARCHIVE_DIR}/${HISTORY_NAME}`]: fx(`${dir}backup-history-file.txt`) };
  const PG_XLOG = '/var/lib/postgresql/9.1/main/pg_xlog';
  /** `ls -la` output of one transcript command (the lines up to the next command). */
  const transcriptListing = (command: string, listDir?: string) => {
    const text = fx(`${dir}session-transcript.txt`);
    const at = text.indexOf(command);
    if (at < 0) throw new Error(`transcript has no "${command}"`);
    const chunk = text.slice(at).split('\n### ')[0].split('\n').slice(1).join('\n');
    return lsLa(chunk, listDir);
  };
  // maestro's pg_xlog + archive_status before the base backup, and pg_xlog right after pg_stop_backup.
  const beforeBackup = () => transcriptListing(`ls -la ${PG_XLOG}/ ${PG_XLOG}/archive_status/`);
  const afterStop = () => transcriptListing(`ls -la ${PG_XLOG}/; cat ${PG_XLOG}/*.backup`, PG_XLOG);
  const withArchive = (
    listing: string | undefined, files: Record<string, Buffer | string>, maestroDirs = beforeBackup(),
    observation: Observation | null = archivingSeen(dir, sysid),
  ) =>
    judge('shipping.baseBackupTaken', {
      esclavo: { dirs: listing ? lsLa(fx(`${dir}${listing}`), WAL_ARCHIVE_DIR) : { '/var/lib/postgresql': [] }, files },
      maestro: { controldata: fx(`${dir}pg_controldata-maestro.txt`), dirs: maestroDirs, files: { [`${PG_XLOG}/${HISTORY_NAME}`]: fx(`${dir}backup-history-file.txt`) } },
      observation: observation ?? undefined,
    });

  it('passes the archive after cleanup (history file kept, its start segment removed)', async () => {
    const out = await withArchive('wal_archive-listing.txt', history);
    expect(out).toEqual({ status: 'pass', evidence: { file: HISTORY_NAME, label: 'base_backup', start: '0/3000020', stop: '0/30000D8' } });
  });

  it("fails 'not-shipped' on the same history file when the observer never saw archiving (a file written by hand)", async () => {
    const out = await withArchive('wal_archive-listing.txt', history, undefined, null);
    expect(out).toMatchObject({ status: 'fail', reason: 'not-shipped', evidence: { file: HISTORY_NAME } });
  });

  it("fails 'bad-history' when the backup's start segment is archived but is not a segment of this maestro", async () => {
    const out = await withArchive('wal_archive-listing-after-basebackup.txt', { ...history, [`${WAL_ARCHIVE_DIR}/000000010000000000000003`]: Buffer.alloc(8192) });
    expect(out).toEqual({ status: 'fail', reason: 'bad-history', evidence: { files: HISTORY_NAME } });
  });

  it("fails 'never-started' before pg_start_backup (the seed's two -c in one psql run only pg_stop_backup)", async () => {
    const out = await withArchive('wal_archive-listing-after-archiving.txt', {});
    expect(out).toEqual({ status: 'fail', reason: 'never-started', evidence: { path: WAL_ARCHIVE_DIR } });
  });

  it("a history file and its .done in maestro's pg_xlog prove nothing alone (both can be written by hand; the observer's fallback judges after the cleanup)", async () => {
    const dirs = afterStop();
    dirs[`${PG_XLOG}/archive_status`] = [...beforeBackup()[`${PG_XLOG}/archive_status`], { name: `${HISTORY_NAME}.done`, size: 0, type: 'f', owner: 'postgres', mtime: 0 }];
    expect(await withArchive(undefined, {}, dirs)).toEqual({ status: 'fail', reason: 'no-archive-dir', evidence: { path: WAL_ARCHIVE_DIR } });
  });
});

describe.each(RUNS)('shipping.esclavoIsClone on 9.1 pg_controldata ($run)', ({ dir, sysid, initialEsclavoSysid }) => {
  const withControldata = (maestro: string, esclavo: string) =>
    judge('shipping.esclavoIsClone', { maestro: { controldata: fx(`${dir}${maestro}`) }, esclavo: { controldata: fx(`${dir}${esclavo}`) } });

  it('passes maestro and the restored, streaming esclavo', async () => {
    expect(await withControldata('pg_controldata-maestro.txt', 'pg_controldata-esclavo.txt')).toEqual({ status: 'pass', evidence: { sysid } });
  });

  it("fails 'not-clone' on the two freshly created clusters", async () => {
    expect(await withControldata('pg_controldata-maestro-initial.txt', 'pg_controldata-esclavo-initial.txt')).toEqual({
      status: 'fail',
      reason: 'not-clone',
      evidence: { maestro: sysid, esclavo: initialEsclavoSysid },
    });
  });
});

/** ssh and rsync as the checks see them: dpkg's status, the programs' bytes, and the .deb's md5sums. */
interface ToolState {
  maestro: Record<string, string>; esclavo: Record<string, string>; maestroDirs?: Record<string, DirEntry[]>; esclavoDirs?: Record<string, DirEntry[]>;
  md5s?: Map<string, Map<string, string>>;
}
const stanza = (p: string) => `Package: ${p}\nStatus: install ok installed\nVersion: 1\n`;
const DPKG_STATUS = ['openssh-server', 'openssh-client', 'rsync'].map(stanza).join('\n');
const BINARIES = { '/usr/bin/rsync': 'rsync-elf', '/usr/bin/ssh': 'ssh-elf', '/usr/bin/ssh-keygen': 'keygen-elf', '/usr/bin/ssh-keyscan': 'keyscan-elf', '/usr/sbin/sshd': 'sshd-elf' };
const md5 = (t: string) => createHash('md5').update(t).digest('hex');
const PACKAGE_MD5S = new Map([
  ['rsync', new Map([['usr/bin/rsync', md5('rsync-elf')]])],
  ['openssh-client', new Map([['usr/bin/ssh', md5('ssh-elf')], ['usr/bin/ssh-keygen', md5('keygen-elf')], ['usr/bin/ssh-keyscan', md5('keyscan-elf')]])],
  ['openssh-server', new Map([['usr/sbin/sshd', md5('sshd-elf')]])],
]);
const ARCHIVED: Record<string, DirEntry[]> = { [WAL_ARCHIVE_DIR]: [{ name: '000000010000000000000002', size: WAL_SEGMENT_SIZE, type: 'f', owner: 'postgres', mtime: 0 }] };
const TOOLS_OK: ToolState = {
  maestro: { '/var/lib/dpkg/status': DPKG_STATUS, ...BINARIES },
  esclavo: { '/var/lib/dpkg/status': DPKG_STATUS, ...BINARIES },
  esclavoDirs: ARCHIVED,
  md5s: PACKAGE_MD5S,
};

describe.each(RUNS)('shipping.walSettings / shipping.archiveSettings on 9.1 pg_settings ($run)', ({ dir }) => {
  const captured = psqlTable(fx(`${dir}pg_settings-maestro.unaligned.txt`));
  const finalConf = fx(`${dir}postgresql.conf-maestro-final.txt`);
  const run = (name: string, settings: CapturedTable, conf?: string, tools: ToolState = TOOLS_OK) => {
    const probes = new FixtureProbes({
      maestro: { readiness: 'accepting', files: { ...tools.maestro, ...(conf !== undefined && { [PG_CONF]: conf }) }, dirs: tools.maestroDirs },
      esclavo: { files: tools.esclavo, dirs: tools.esclavoDirs },
      sql: sqlAnswers([selectFrom('pg_settings', settings, 'maestro')]),
      packageMd5s: tools.md5s,
    });
    return CHECKS[name](ctx91(probes));
  };
  const ARCHIVE_COMMAND = 'rsync -av %p postgres@10.91.1.11:/var/lib/postgresql/wal_archive/%f';

  it('walSettings passes the running maestro', async () => {
    expect(await run('shipping.walSettings', captured)).toEqual({
      status: 'pass',
      evidence: { settings: 'wal_level=hot_standby, max_wal_senders=3, checkpoint_segments=8, wal_keep_segments=8' },
    });
  });

  it('archiveSettings passes the running maestro', async () => {
    expect(await run('shipping.archiveSettings', captured)).toEqual({
      status: 'pass',
      evidence: { settings: `archive_mode=on, archive_command=${ARCHIVE_COMMAND}, archive_timeout=60` },
    });
  });

  it("archiveSettings fails 'tool-missing' when rsync is only a stanza appended to /var/lib/dpkg/status (no program)", async () => {
    const { '/usr/bin/rsync': _gone, ...rest } = BINARIES;
    const out = await run('shipping.archiveSettings', captured, undefined, { ...TOOLS_OK, maestro: { '/var/lib/dpkg/status': DPKG_STATUS, ...rest } });
    expect(out).toMatchObject({ status: 'fail', reason: 'tool-missing', evidence: { missing: 'maestro:/usr/bin/rsync' } });
  });

  it("archiveSettings fails 'tool-missing' when /usr/bin/rsync is not the packaged program (a script)", async () => {
    const out = await run('shipping.archiveSettings', captured, undefined, { ...TOOLS_OK, esclavo: { '/var/lib/dpkg/status': DPKG_STATUS, ...BINARIES, '/usr/bin/rsync': '#!/bin/sh\nexit 0\n' } });
    expect(out).toMatchObject({ status: 'fail', reason: 'tool-missing', evidence: { missing: 'esclavo:/usr/bin/rsync' } });
  });

  it("archiveSettings fails 'archive-failing' on 9.1 when segments pile up as .ready, none .done, and the archive is empty", async () => {
    const status = `${XLOG}/archive_status`;
    const ready = (n: number) => ({ name: `00000001000000000000000${n}.ready`, size: 0, type: 'f', owner: 'postgres', mtime: 0 });
    const out = await run('shipping.archiveSettings', captured, undefined, { ...TOOLS_OK, esclavoDirs: { [WAL_ARCHIVE_DIR]: [] }, maestroDirs: { [status]: [ready(1), ready(2), ready(3)] } });
    expect(out).toMatchObject({ status: 'fail', reason: 'archive-failing', evidence: { ready_on_maestro: 3, done_on_maestro: 0 } });
  });

  it("archiveSettings fails 'space-after-colon' on the command 9.1 reloaded in the PDF-wrap experiment", async () => {
    const spaced = /archive_command\S* (?:changed to|fue cambiado a) ["«](.*)["»]$/m.exec(fx(`${dir}extra-archive_command-space-log.txt`))?.[1];
    expect(spaced).toBe('rsync -av %p postgres@10.91.1.11: /var/lib/postgresql/wal_archive/%f');
    const conf = finalConf.replace(/^archive_command = .*$/m, `archive_command = '${spaced}'`);
    expect(conf).not.toBe(finalConf);
    const out = await run('shipping.archiveSettings', withSettings(captured, { archive_command: spaced! }), conf);
    expect(out).toEqual({
      status: 'fail',
      reason: 'space-after-colon',
      evidence: {
        wrong: `archive_command = ${spaced} → rsync … %p postgres@10.91.1.11:/var/lib/postgresql/wal_archive/%f`,
        pending: '—',
        archive_command: spaced,
      },
    });
  });

  // The line-break experiment: archive_command typed across two lines, as in transcript line 6247.
  const lineBroken = finalConf.replace(/^archive_command = .*$/m, "archive_command = 'rsync -av %p postgres@10.91.1.11: \n/var/lib/postgresql/wal_archive/%f'");
  const refusedLine = /invalid line (\d+)/.exec(fx(`${dir}extra-archive_command-linebreak-restart-output.txt`))?.[1];

  it("walSettings fails 'conf-syntax' at the line postgresql-common refused (restart refused, old values running)", async () => {
    expect(refusedLine).toBe('183');
    const boot = Object.fromEntries(psqlTable(fx(`${dir}pg_settings-maestro.txt`)).rows.map((r) => [r.name, r.boot_val]));
    const names = ['wal_level', 'max_wal_senders', 'checkpoint_segments', 'wal_keep_segments'];
    const out = await run('shipping.walSettings', withSettings(captured, Object.fromEntries(names.map((n) => [n, boot[n]]))), lineBroken);
    expect(out.status).toBe('fail');
    expect(out.reason).toBe('conf-syntax');
    expect(out.evidence).toMatchObject({ file: PG_CONF, wrong: names.join(', ') });
    const lines = String(out.evidence?.lines).split(' | ');
    expect(lines.map((l) => parseInt(l, 10))).toEqual([Number(refusedLine), 184]);
    expect(lines[0]).toBe("183: archive_command = 'rsync -av %p postgres@10.91.1.11:");
  });

  it("archiveSettings says 'space-after-colon' (with the broken lines) in the experiment's real state: spaced command running, line-broken file", async () => {
    const spaced = 'rsync -av %p postgres@10.91.1.11: /var/lib/postgresql/wal_archive/%f';
    const out = await run('shipping.archiveSettings', withSettings(captured, { archive_command: spaced }), lineBroken);
    expect(out.status).toBe('fail');
    expect(out.reason).toBe('space-after-colon');
    expect(out.evidence).toMatchObject({ file: PG_CONF, archive_command: spaced });
    expect(String(out.evidence?.lines)).toMatch(/^183: .* \| 184: \/var\/lib\/postgresql\/wal_archive\/%f'$/);
  });

  it("walSettings fails 'pending-restart': final postgresql.conf, server still on 9.1's boot values", async () => {
    // boot_val column of the full pg_settings capture: what 9.1 runs with before the restart.
    const boot = Object.fromEntries(psqlTable(fx(`${dir}pg_settings-maestro.txt`)).rows.map((r) => [r.name, r.boot_val]));
    const names = ['wal_level', 'max_wal_senders', 'checkpoint_segments', 'wal_keep_segments'];
    expect(names.map((n) => boot[n])).toEqual(['minimal', '0', '3', '0']);
    const out = await run('shipping.walSettings', withSettings(captured, Object.fromEntries(names.map((n) => [n, boot[n]]))), finalConf);
    expect(out).toEqual({ status: 'fail', reason: 'pending-restart', evidence: { pending: names.join(', ') } });
  });

  it("archiveSettings fails 'pending-restart' after a reload without restart (archive_mode off, command '(disabled)')", async () => {
    // How 9.1 shows archive_command while archiving is off, as captured on the esclavo.
    const disabled = psqlTable(fx(`${dir}pg_settings-esclavo.unaligned.txt`)).rows.find((r) => r.name === 'archive_command')!.setting;
    expect(disabled).toBe('(disabled)');
    const out = await run('shipping.archiveSettings', withSettings(captured, { archive_mode: 'off', archive_command: disabled }), finalConf);
    expect(out).toEqual({ status: 'fail', reason: 'pending-restart', evidence: { pending: 'archive_mode, archive_command' } });
  });
});

describe.each(RUNS)('streaming.walSenderProcess / walReceiverProcess on 9.1 ps ($run)', ({ dir, senderPid, senderPort, receiverPid }) => {
  const sender = (ps: string) => judge('streaming.walSenderProcess', { maestro: { readiness: 'accepting', ps: fx(`${dir}${ps}`) } });
  const receiver = (ps: string) => judge('streaming.walReceiverProcess', { esclavo: { readiness: 'accepting', ps: fx(`${dir}${ps}`) } });
  const streaming = { status: 'pass', evidence: { pid: senderPid, client: `10.91.1.11(${senderPort})`, state: 'streaming', lsn: '0/4000078' } };

  it('walSenderProcess passes `ps -ef` on the streaming maestro', async () => {
    expect(await sender('ps-ef-maestro-streaming.txt')).toEqual(streaming);
  });

  it('walSenderProcess passes `ps -ef | grep sender` (grep line ignored)', async () => {
    expect(await sender('ps-wal-sender.txt')).toEqual(streaming);
  });

  it("walSenderProcess fails 'none' after the promotion", async () => {
    expect(await sender('ps-wal-sender-after-promotion.txt')).toEqual({ status: 'fail', reason: 'none', evidence: { senders: '—' } });
  });

  it('walReceiverProcess passes `ps -ef` on the standby', async () => {
    expect(await receiver('ps-ef-esclavo-standby.txt')).toEqual({ status: 'pass', evidence: { pid: receiverPid, state: 'streaming', lsn: '0/4000078' } });
  });

  it('walReceiverProcess passes `ps -ef | grep receiver` (grep line ignored)', async () => {
    expect(await receiver('ps-wal-receiver.txt')).toEqual({ status: 'pass', evidence: { pid: receiverPid, state: 'streaming', lsn: '0/4000078' } });
  });

  it("walReceiverProcess fails 'none' on the promoted esclavo", async () => {
    expect(await receiver('ps-ef-esclavo-promoted.txt')).toEqual({ status: 'fail', reason: 'none', evidence: {} });
  });

  // The title gets "streaming <lsn>" at the first WAL flushed: a standby restarted while maestro is idle shows none.
  it('walReceiverProcess with no activity in its title asks maestro\'s pg_stat_replication', async () => {
    const idle = fx(`${dir}ps-ef-esclavo-standby.txt`).replace(/(wal receiver process)\s+streaming \S+/, '$1');
    expect(idle).not.toMatch(/receiver process\s+streaming/);
    const replication = psqlTable(fx(`${dir}pg_stat_replication.unaligned.txt`));
    const probes = (rows: CapturedTable) => new FixtureProbes({
      maestro: { readiness: 'accepting' }, esclavo: { readiness: 'accepting', ps: idle },
      sql: sqlAnswers([selectFrom('pg_stat_replication', rows, 'maestro')]),
    });
    expect(await CHECKS['streaming.walReceiverProcess'](ctx91(probes(replication)))).toEqual({ status: 'pass', evidence: { pid: receiverPid, state: 'streaming', lsn: '' } });
    expect(await CHECKS['streaming.walReceiverProcess'](ctx91(probes({ columns: replication.columns, rows: [] }))))
      .toEqual({ status: 'fail', reason: 'not-streaming', evidence: { state: '' } });
  });
});

describe.each(RUNS)('streaming.replicationView on 9.1 pg_stat_replication ($run)', ({ dir, senderPid }) => {
  const view = (capture: string, profile = profileFor('9.1')) => {
    const probes = new FixtureProbes({
      maestro: { readiness: 'accepting' },
      sql: sqlAnswers([selectFrom('pg_stat_replication', psqlTable(fx(`${dir}${capture}`)), 'maestro')]),
    });
    return { probes, out: CHECKS['streaming.replicationView']({ ...ctx91(probes), profile }) };
  };

  it('passes the captured row, asking for procpid and sent_location', async () => {
    const { probes, out } = view('pg_stat_replication.unaligned.txt');
    expect(await out).toEqual({ status: 'pass', evidence: { procpid: String(senderPid), client_addr: '10.91.1.11', state: 'streaming', sent_location: '0/4000078' } });
    expect(probes.queries).toHaveLength(1);
    expect(probes.queries[0].query).toMatch(/\bprocpid\b/);
    expect(probes.queries[0].query).toMatch(/\bsent_location\b/);
    expect(probes.queries[0].query).not.toMatch(/\bpid\b|sent_lsn/);
  });

  it("fails 'none' on the empty view after the promotion", async () => {
    const { out } = view('pg_stat_replication-after-promotion.txt');
    expect(await out).toEqual({ status: 'fail', reason: 'none', evidence: { rows: '0' } });
  });

  it("the fixture refuses a modern query (pid, sent_lsn): the 9.1 view has no such columns", async () => {
    const { out } = view('pg_stat_replication.unaligned.txt', profileFor('17'));
    await expect(out).rejects.toThrow(/"pid" is not a column of the captured pg_stat_replication/);
  });
});

describe.each(RUNS)('promotion.promotedProperly / timelineAdvanced on the 9.1 promotion ($run)', ({ dir }) => {
  const promotedDirs = { ...lsLa(fx(`${dir}datadir-esclavo-after-promotion.txt`)), ...lsLa(fx(`${dir}tmp-after-promotion.txt`), '/tmp') };
  const promoted = (over: Partial<RoleFixture> = {}): RoleFixture => ({
    readiness: 'accepting',
    dirs: promotedDirs,
    files: { [TLI2_HISTORY]: fx(`${dir}timeline-00000002.history`) },
    controldata: fx(`${dir}pg_controldata-esclavo-promoted.txt`),
    ...over,
  });
  const answers = (role: 'maestro' | 'esclavo', recovery: string, xlog: string): SqlRule[] => [
    { role, query: 'SELECT pg_is_in_recovery()', rows: column(psqlTable(fx(`${dir}${recovery}`)), 'pg_is_in_recovery') },
    { role, query: 'SELECT pg_xlogfile_name(pg_current_xlog_location())', rows: column(psqlTable(fx(`${dir}${xlog}`)), 'pg_xlogfile_name') },
  ];
  const sql = sqlAnswers([
    ...answers('esclavo', 'pg_is_in_recovery-esclavo-promoted.txt', 'xlog-location-esclavo-promoted.txt'),
    ...answers('maestro', 'pg_is_in_recovery-maestro.txt', 'xlog-location-maestro.txt'),
  ]);
  const maestro: RoleFixture = { readiness: 'accepting' };
  const promotedEvidence = { timeline: 2, 'recovery.conf': 'no', 'recovery.done': 'yes', trigger: 'no' };
  // recovery.conf removed by hand (never renamed to recovery.done), server restarted: still timeline 1.
  const handDeleted = (): RoleFixture => promoted({
    readiness: 'down',
    dirs: { ...promotedDirs, [DATA]: promotedDirs[DATA].filter((e) => e.name !== 'recovery.done') },
    controldata: fx(`${dir}pg_controldata-esclavo.txt`),
  });

  it('the captured state is the one described: recovery.done, no recovery.conf, no trigger, 00000002.history', () => {
    const names = promotedDirs[DATA].map((e) => e.name);
    expect(names).toContain('recovery.done');
    expect(names).not.toContain('recovery.conf');
    expect(promotedDirs['/tmp']).toEqual([]);
    expect(promotedDirs[XLOG].map((e) => e.name)).toContain('00000002.history');
    expect(TRIGGER_FILE.startsWith('/tmp/')).toBe(true);
  });

  it('promotedProperly passes the running promoted esclavo (timeline from pg_xlogfile_name)', async () => {
    const probes = new FixtureProbes({ esclavo: promoted(), sql, observation: promotionSeen('1') });
    expect(await CHECKS['promotion.promotedProperly'](ctx91(probes))).toEqual({ status: 'pass', evidence: { ...promotedEvidence, observed: '1 → 2' } });
    expect(probes.queries.map((q) => q.query)).toContain('SELECT pg_xlogfile_name(pg_current_xlog_location())');
  });

  it('promotedProperly passes the stopped promoted esclavo (timeline from pg_controldata)', async () => {
    expect(await judge('promotion.promotedProperly', { esclavo: promoted({ readiness: 'down' }), observation: promotionSeen('1') })).toEqual({ status: 'pass', evidence: { ...promotedEvidence, observed: '1 → 2' } });
  });

  it("promotedProperly fails the same files when the observer saw no standby leave recovery (a cold copy whose archive recovery ended)", async () => {
    const out = await judge('promotion.promotedProperly', { esclavo: promoted({ readiness: 'down' }), maestro: { ...maestro, controldata: fx(`${dir}pg_controldata-maestro.txt`) }, observation: observed([]) });
    expect(out).toMatchObject({ status: 'fail' });
  });

  it("promotedProperly fails 'hand-deleted' when recovery.conf was deleted by hand (timeline 1)", async () => {
    expect(await judge('promotion.promotedProperly', { esclavo: handDeleted(), maestro: { ...maestro, controldata: fx(`${dir}pg_controldata-maestro.txt`) } })).toEqual({
      status: 'fail',
      reason: 'hand-deleted',
      evidence: { timeline: 1, 'recovery.conf': 'no', 'recovery.done': 'no', trigger: 'no' },
    });
  });

  it('timelineAdvanced passes: esclavo on timeline 2, branched from 1 at segment …04', async () => {
    expect(await judge('promotion.timelineAdvanced', { esclavo: promoted(), maestro, sql })).toEqual({
      status: 'pass',
      evidence: { esclavo_timeline: 2, maestro_timeline: 1, history: TLI2_HISTORY, branched_at: '0/4000000' },
    });
    expect(fx(`${dir}timeline-history-location.txt`)).toContain(TLI2_HISTORY);
  });

  it("timelineAdvanced fails 'same-timeline' when recovery.conf was deleted by hand", async () => {
    expect(await judge('promotion.timelineAdvanced', { esclavo: handDeleted(), maestro, sql })).toEqual({
      status: 'fail',
      reason: 'same-timeline',
      evidence: { esclavo_timeline: 1 },
    });
  });

  it("timelineAdvanced fails 'no-history' when 00000002.history is an empty touched file", async () => {
    const out = await judge('promotion.timelineAdvanced', { esclavo: promoted({ files: { [TLI2_HISTORY]: '' } }), maestro, sql });
    expect(out).toEqual({ status: 'fail', reason: 'no-history', evidence: { esclavo_timeline: 2, missing: TLI2_HISTORY } });
  });
});

describe('FixtureProbes refuses what a test did not configure', () => {
  const probes = new FixtureProbes({ esclavo: { files: { [RECOVERY_CONF]: 'x' } } });

  it('unconfigured role, field, or path throws a clear error', async () => {
    await expect(probes.controldata('maestro')).rejects.toThrow(/role maestro is not configured/);
    await expect(probes.controldata('esclavo')).rejects.toThrow(/needs "controldata" for esclavo/);
    await expect(probes.stat('esclavo', TRIGGER_FILE)).rejects.toThrow(/no fixture covers this path/);
    await expect(probes.readiness('esclavo')).rejects.toThrow(/needs "readiness"/);
  });

  it('unexpected SQL throws with the query text', async () => {
    const p = new FixtureProbes({ maestro: { readiness: 'accepting' }, sql: sqlAnswers([]) });
    await expect(p.inRecovery('maestro')).rejects.toThrow(/unexpected SQL on maestro: SELECT pg_is_in_recovery\(\)/);
  });
});
