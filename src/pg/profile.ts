/**
 * Everything that differs between PostgreSQL majors lives here and nowhere else
 * (facts from shared/docs/pg-versions.md, checked against real 15/17 servers and the 9.1 captures).
 */

export type PgMajor = '9.1' | '13' | '15' | '17';
export const PG_MAJORS: readonly PgMajor[] = ['9.1', '13', '15', '17'];
export const DEFAULT_PG: PgMajor = '9.1';
/** The version whose checks count toward a lab's maximum score when an env's version is unknown (a grade of a missing env). */
export const UNKNOWN_ENV_PG: PgMajor = '15';

export interface PgProfile {
  major: PgMajor;
  /** Debian suite that ships this major (base image). */
  debianSuite: 'bullseye' | 'bookworm' | 'trixie';
  /** Compiled from source (Debian no longer ships it): docker/pg/Dockerfile.pg91. */
  buildFromSource: boolean;
  confDir: string;
  dataDir: string;
  logFile: string;
  binDir: string;
  /** pg_xlog (9.1) or pg_wal. */
  walDirName: string;
  /** Standby configured with recovery.conf (9.1) or standby.signal + GUCs (12+). */
  recoveryConfFile: boolean;
  /** Trigger-file promotion: recovery.conf trigger_file, GUC promote_trigger_file, or none (16+). */
  triggerSetting: 'trigger_file' | 'promote_trigger_file' | null;
  /** Exclusive two-call backups work (9.1, 13) or one session is required (15+). */
  exclusiveBackup: boolean;
  /** Checkpoint spacing / retained WAL settings and their tutorial values. */
  walKeepSetting: { name: 'wal_keep_segments' | 'wal_keep_size'; tutorialValue: string };
  checkpointSetting: { name: 'checkpoint_segments' | 'max_wal_size'; tutorialValue: string | null };
  /** Value SHOW wal_level reports for the tutorial's `hot_standby` (9.6+ read it as an alias of `replica`). */
  walLevelExpected: string;
  /** hot_standby when postgresql.conf does not set it: off until 9.6, on from 10. */
  hotStandbyDefault: 'off' | 'on';
  /**
   * The lab's servers run with ssl = on (Debian's snakeoil certificate), so a connection between
   * them uses SSL and matches `hostssl` rules; the 9.1 build is compiled without SSL.
   */
  labServerSsl: boolean;
  /** XLOG_PAGE_MAGIC (u16 LE at offset 0 of every WAL page). */
  walPageMagic: number;
  /** Long page header layout: 9.1 (sysid at 16, 32 bytes) or 9.3+ (sysid at 24, 40 bytes). */
  walHeaderLayout: 'v91' | 'v93';
  /** pg_stat_replication column names that differ. */
  replPidColumn: 'procpid' | 'pid';
  replSentColumn: 'sent_location' | 'sent_lsn';
  switchWalFunction: 'pg_switch_xlog' | 'pg_switch_wal';
  /** WAL file name of an LSN (only on a primary). */
  walFileFunction: 'pg_xlogfile_name' | 'pg_walfile_name';
  currentLsnFunction: 'pg_current_xlog_location' | 'pg_current_wal_lsn';
  /** pg_stat_activity's process id column (procpid until 9.1). */
  activityPidColumn: 'procpid' | 'pid';
  /** pg_rewind ships with the server (9.5+); it needs wal_log_hints = on or data checksums on the target. */
  pgRewind: boolean;
  /** synchronous_standby_names reads `FIRST n (…)` / `ANY n (…)` (10+); 9.1 reads a plain priority list. */
  syncNamesFirstAny: boolean;
  /** pg_basebackup takes `-X fetch|stream` (10+); 9.1 has only `-x` (fetch). */
  basebackupWalMethod: boolean;
  /** Last WAL position a standby replayed. */
  replayLsnFunction: 'pg_last_xlog_replay_location' | 'pg_last_wal_replay_lsn';
  /** Last WAL position a standby received. */
  receiveLsnFunction: 'pg_last_xlog_receive_location' | 'pg_last_wal_receive_lsn';
  /** pg_stat_replication's replayed position column. */
  replReplayColumn: 'replay_location' | 'replay_lsn';
  /** pg_stat_replication.replay_lag (10+). */
  replLagColumn: boolean;
  /** pg_stat_archiver (9.4+). */
  statArchiver: boolean;
  /** pg_stat_wal_receiver (9.6+). */
  statWalReceiver: boolean;
}

const PROFILES: Record<PgMajor, PgProfile> = {
  '9.1': modern('9.1', {
    debianSuite: 'bookworm',
    buildFromSource: true,
    walDirName: 'pg_xlog',
    recoveryConfFile: true,
    triggerSetting: 'trigger_file',
    exclusiveBackup: true,
    walKeepSetting: { name: 'wal_keep_segments', tutorialValue: '8' },
    checkpointSetting: { name: 'checkpoint_segments', tutorialValue: '8' },
    walLevelExpected: 'hot_standby',
    hotStandbyDefault: 'off',
    labServerSsl: false,
    walPageMagic: 0xd066,
    walHeaderLayout: 'v91',
    replPidColumn: 'procpid',
    replSentColumn: 'sent_location',
    switchWalFunction: 'pg_switch_xlog',
    walFileFunction: 'pg_xlogfile_name',
    currentLsnFunction: 'pg_current_xlog_location',
    activityPidColumn: 'procpid',
    pgRewind: false,
    syncNamesFirstAny: false,
    basebackupWalMethod: false,
    replayLsnFunction: 'pg_last_xlog_replay_location',
    receiveLsnFunction: 'pg_last_xlog_receive_location',
    replReplayColumn: 'replay_location',
    replLagColumn: false,
    statArchiver: false,
    statWalReceiver: false,
  }),
  '13': modern('13', { debianSuite: 'bullseye', walPageMagic: 0xd106, triggerSetting: 'promote_trigger_file', exclusiveBackup: true }),
  '15': modern('15', { debianSuite: 'bookworm', walPageMagic: 0xd110, triggerSetting: 'promote_trigger_file' }),
  '17': modern('17', { debianSuite: 'trixie', walPageMagic: 0xd116, triggerSetting: null }),
};

function modern(major: PgMajor, overrides: Partial<PgProfile>): PgProfile {
  return {
    major,
    debianSuite: 'bookworm',
    buildFromSource: false,
    confDir: `/etc/postgresql/${major}/main`,
    dataDir: `/var/lib/postgresql/${major}/main`,
    logFile: `/var/log/postgresql/postgresql-${major}-main.log`,
    binDir: `/usr/lib/postgresql/${major}/bin`,
    walDirName: 'pg_wal',
    recoveryConfFile: false,
    triggerSetting: null,
    exclusiveBackup: false,
    // 8 segments of 16 MB, the tutorial's wal_keep_segments = 8.
    walKeepSetting: { name: 'wal_keep_size', tutorialValue: '128' },
    checkpointSetting: { name: 'max_wal_size', tutorialValue: null },
    walLevelExpected: 'replica',
    hotStandbyDefault: 'on',
    labServerSsl: true,
    walPageMagic: 0,
    walHeaderLayout: 'v93',
    replPidColumn: 'pid',
    replSentColumn: 'sent_lsn',
    switchWalFunction: 'pg_switch_wal',
    walFileFunction: 'pg_walfile_name',
    currentLsnFunction: 'pg_current_wal_lsn',
    activityPidColumn: 'pid',
    pgRewind: true,
    syncNamesFirstAny: true,
    basebackupWalMethod: true,
    replayLsnFunction: 'pg_last_wal_replay_lsn',
    receiveLsnFunction: 'pg_last_wal_receive_lsn',
    replReplayColumn: 'replay_lsn',
    replLagColumn: true,
    statArchiver: true,
    statWalReceiver: true,
    ...overrides,
  };
}

export function profileFor(major: PgMajor): PgProfile {
  return PROFILES[major];
}

/** Where a promotion writes the history file of timeline `tli` (e.g. pg_xlog/00000002.history). */
export function timelineHistoryPath(profile: PgProfile, tli: number): string {
  return `${profile.dataDir}/${profile.walDirName}/${tli.toString(16).toUpperCase().padStart(8, '0')}.history`;
}

/**
 * What a version can do, as variables for reference solution scripts (CAP_*=value, '' = no), so a
 * script asks "does this version use recovery.conf?" and never compares version numbers.
 */
export function solutionCapabilities(p: PgProfile): Record<string, string> {
  const flag = (b: boolean) => (b ? '1' : '');
  const walKeep = p.walKeepSetting.name === 'wal_keep_size' ? `${p.walKeepSetting.tutorialValue}MB` : p.walKeepSetting.tutorialValue;
  return {
    CAP_RECOVERY_CONF: flag(p.recoveryConfFile),
    CAP_EXCLUSIVE_BACKUP: flag(p.exclusiveBackup),
    CAP_TRIGGER_SETTING: p.triggerSetting ?? '',
    CAP_WAL_KEEP_SETTING: p.walKeepSetting.name,
    CAP_WAL_KEEP_VALUE: walKeep,
    CAP_CHECKPOINT_SETTING: p.checkpointSetting.tutorialValue ? p.checkpointSetting.name : '',
    CAP_CHECKPOINT_VALUE: p.checkpointSetting.tutorialValue ?? '',
    CAP_PG_REWIND: flag(p.pgRewind),
    CAP_SYNC_FIRST_ANY: flag(p.syncNamesFirstAny),
    CAP_BASEBACKUP_WAL_METHOD: flag(p.basebackupWalMethod),
    CAP_REPLAY_LSN_FUNCTION: p.replayLsnFunction,
  };
}

export function isPgMajor(value: string): value is PgMajor {
  return (PG_MAJORS as readonly string[]).includes(value);
}

export const POSTGRES_HOME = '/var/lib/postgresql';
export const WAL_SEGMENT_SIZE = 16 * 1024 * 1024;
