import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { confGet, looksLikeWrappedArchiveCommand, parseConf } from '../../src/pg/conf.js';

// shared/ sits beside the repository root (here and in CI).
const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/fixtures/pg91');
const fx = (name: string) => readFileSync(path.join(FIX, name), 'utf8');

describe('parseConf on the 9.1 captures', () => {
  it('reads the final maestro postgresql.conf', () => {
    const conf = parseConf(fx('postgresql.conf-maestro-final.txt'));
    expect(conf.errors).toEqual([]);
    const v = (k: string) => confGet(conf, k)?.value;
    expect(v('listen_addresses')).toBe('10.91.1.10, localhost');
    expect(v('wal_level')).toBe('hot_standby');
    expect(v('max_wal_senders')).toBe('3');
    expect(v('checkpoint_segments')).toBe('8');
    expect(v('wal_keep_segments')).toBe('8');
    expect(v('archive_mode')).toBe('on');
    expect(v('archive_timeout')).toBe('60');
    expect(v('shared_buffers')).toBe('32MB');
    expect(v('log_line_prefix')).toBe('%t ');
    expect(confGet(conf, 'archive_command')).toMatchObject({
      value: 'rsync -av %p postgres@10.91.1.11:/var/lib/postgresql/wal_archive/%f',
      line: 183,
    });
    expect(looksLikeWrappedArchiveCommand(v('archive_command')!)).toBeNull();
    expect(v('hot_standby')).toBeUndefined(); // only in a comment
  });

  it('reads the final esclavo postgresql.conf', () => {
    const conf = parseConf(fx('postgresql.conf-esclavo-final.txt'));
    expect(conf.errors).toEqual([]);
    expect(confGet(conf, 'hot_standby')?.value).toBe('on');
    expect(confGet(conf, 'wal_level')?.value).toBe('hot_standby');
    expect(confGet(conf, 'archive_mode')).toBeUndefined();
    expect(confGet(conf, 'listen_addresses')).toBeUndefined();
  });

  it.each(['recovery.conf', 'recovery.done', 'es/recovery.conf'])('reads %s and turns \\" into "', (file) => {
    const conf = parseConf(fx(file));
    expect(conf.errors).toEqual([]);
    expect(conf.entries.map((e) => e.key)).toEqual(['standby_mode', 'primary_conninfo', 'trigger_file', 'restore_command', 'archive_cleanup_command']);
    expect(confGet(conf, 'standby_mode')).toMatchObject({ value: 'on', line: 1, raw: "standby_mode = 'on'" });
    expect(confGet(conf, 'primary_conninfo')?.value).toBe('host=10.91.1.10 port=5432 user=postgres');
    expect(confGet(conf, 'trigger_file')?.value).toBe('/tmp/postgres-failover.trigger');
    expect(confGet(conf, 'restore_command')?.value).toBe('cp /var/lib/postgresql/wal_archive/%f "%p"');
    expect(confGet(conf, 'archive_cleanup_command')?.value).toBe('/usr/lib/postgresql/9.1/bin/pg_archivecleanup /var/lib/postgresql/wal_archive/ %r');
  });

  it('flags every line the PDF wrapping broke in recovery.conf', () => {
    const conf = parseConf(fx('extra-recovery.conf-pdf-wrapped.txt'));
    // 9.1 stops at the first one: `syntax error in file "recovery.conf" line 4, near end of line`.
    expect(conf.errors.map(({ line, message }) => ({ line, message }))).toEqual([
      { line: 4, message: 'syntax error' }, // "connect"
      { line: 18, message: 'syntax error' }, // "backup."
      { line: 21, message: 'unterminated quoted string' },
      { line: 22, message: 'syntax error' }, // "/var/lib/postgresql/wal_archive/ %r'"
    ]);
    expect(conf.errors[0].raw).toBe('connect');
    // "replication to" is valid `key value` syntax; 9.1 only warns about an unknown recovery parameter.
    expect(confGet(conf, 'replication')?.value).toBe('to');
    expect(confGet(conf, 'archive_cleanup_command')).toBeUndefined();
    expect(confGet(conf, 'restore_command')?.value).toBe('cp /var/lib/postgresql/wal_archive/%f "%p"');
  });

  it('flags the archive_command line break kept inside the quotes', () => {
    // What the extra experiment wrote into postgresql.conf (see extra-archive_command-linebreak-restart-output.txt).
    const text = "archive_mode = on\narchive_command = 'rsync -av %p postgres@10.91.1.11: \n/var/lib/postgresql/wal_archive/%f'\n";
    expect(fx('extra-archive_command-linebreak-restart-output.txt')).toContain("invalid line 183 in /etc/postgresql/9.1/main/postgresql.conf: archive_command = 'rsync -av %p postgres@10.91.1.11: ");
    const conf = parseConf(text);
    expect(conf.errors.map((e) => [e.line, e.message])).toEqual([[2, 'unterminated quoted string'], [3, 'syntax error']]);
    expect(confGet(conf, 'archive_command')).toBeUndefined();
  });
});

describe('parseConf syntax', () => {
  it('accepts key value without =, unquoted values, comments and the last occurrence', () => {
    const conf = parseConf([
      '# standby_mode = \'on\'',
      '  Wal_Level hot_standby   # trailing comment',
      "archive_command = 'a ''quoted'' \\\"path\\\" \\t\\101'",
      'max_wal_senders = 3',
      'MAX_WAL_SENDERS=5',
      'random_page_cost = 1.5e0',
      'work_mem = -1',
      "custom.opt = 'x'",
      'data = /path',
      'x = 0x1F',
      'search_path = public\r',
      '',
    ].join('\n'));
    expect(conf.errors).toEqual([{ line: 9, raw: 'data = /path', message: 'syntax error' }]);
    expect(confGet(conf, 'standby_mode')).toBeUndefined();
    expect(confGet(conf, 'wal_level')).toMatchObject({ key: 'wal_level', value: 'hot_standby', line: 2 });
    expect(confGet(conf, 'archive_command')?.value).toBe("a 'quoted' \"path\" \tA");
    expect(confGet(conf, 'Max_Wal_Senders')).toMatchObject({ value: '5', line: 5 });
    expect(conf.entries.filter((e) => e.key === 'max_wal_senders')).toHaveLength(2);
    expect(confGet(conf, 'random_page_cost')?.value).toBe('1.5e0');
    expect(confGet(conf, 'work_mem')?.value).toBe('-1');
    expect(confGet(conf, 'custom.opt')?.value).toBe('x');
    expect(confGet(conf, 'x')?.value).toBe('0x1F');
    expect(confGet(conf, 'search_path')).toMatchObject({ value: 'public', raw: 'search_path = public' });
  });

  it.each([
    ['key =', 'syntax error'],
    ['key = a b', 'syntax error'],
    ["key = 'a' 'b'", 'syntax error'],
    ["key = 'unterminated", 'unterminated quoted string'],
    ["key = 'escaped quote at end\\'", 'unterminated quoted string'],
    ["= 'value'", 'syntax error'],
    ["'key' = 1", 'syntax error'],
    ['key = = 1', 'syntax error'],
    ['123 = 1', 'syntax error'],
    ['key = on;', 'syntax error'],
    ["key = 'ok' junk 'bad", 'syntax error'],
  ])('rejects %j', (line, message) => {
    expect(parseConf(line)).toEqual({ entries: [], errors: [{ line: 1, raw: line, message }] });
  });

  it('accepts an empty file and comment-only lines', () => {
    expect(parseConf('')).toEqual({ entries: [], errors: [] });
    expect(parseConf('   \n\t# only a comment\n#key = 1\n')).toEqual({ entries: [], errors: [] });
  });
});

describe('looksLikeWrappedArchiveCommand', () => {
  it('detects the space after the colon from the extra experiment', () => {
    const log = fx('extra-archive_command-space-log.txt');
    const value = /parameter "archive_command" changed to "(.*)"/.exec(log)![1];
    expect(value).toBe('rsync -av %p postgres@10.91.1.11: /var/lib/postgresql/wal_archive/%f');
    expect(looksLikeWrappedArchiveCommand(value)).toBe('space-after-colon');
    expect(looksLikeWrappedArchiveCommand('scp %p esclavo: /var/lib/postgresql/wal_archive/%f')).toBe('space-after-colon');
    expect(looksLikeWrappedArchiveCommand('rsync -av %p postgres@10.91.1.11: ')).toBe('space-after-colon');
  });

  it('accepts correct commands', () => {
    for (const ok of [
      'rsync -av %p postgres@10.91.1.11:/var/lib/postgresql/wal_archive/%f',
      'cp %p /var/lib/postgresql/wal_archive/%f',
      'test ! -f /mnt/server/archivedir/%f && cp %p /mnt/server/archivedir/%f',
      'scp %p esclavo:/var/lib/postgresql/wal_archive/%f',
    ]) expect(looksLikeWrappedArchiveCommand(ok)).toBeNull();
  });
});
