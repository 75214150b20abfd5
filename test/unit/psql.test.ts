import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseUnaligned } from '../../src/pg/psql.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/fixtures/pg91');
const fx = (name: string) => readFileSync(path.join(FIX, name), 'utf8');

describe('parseUnaligned', () => {
  it.each(['pg_stat_replication.unaligned.txt', 'es/pg_stat_replication.unaligned.txt'])('%s: one 9.1 row keyed by procpid', (file) => {
    const rows = parseUnaligned(fx(file));
    expect(rows).toHaveLength(1);
    const [r] = rows;
    expect(Object.keys(r)[0]).toBe('procpid');
    expect(r).not.toHaveProperty('pid');
    expect(r).toMatchObject({ usename: 'postgres', application_name: 'walreceiver', client_addr: '10.91.1.11', client_hostname: '', state: 'streaming', sent_location: '0/4000078', sync_state: 'async' });
    expect(Number(r.procpid)).toBeGreaterThan(0);
  });

  it('pg_settings of the maestro: 20 rows, empty units kept as empty strings', () => {
    const rows = parseUnaligned(fx('pg_settings-maestro.unaligned.txt'));
    expect(rows).toHaveLength(20);
    const s = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(s.archive_command).toEqual({ name: 'archive_command', setting: 'rsync -av %p postgres@10.91.1.11:/var/lib/postgresql/wal_archive/%f', unit: '', context: 'sighup', source: 'configuration file' });
    expect(s.archive_timeout).toMatchObject({ setting: '60', unit: 's' });
    expect(s.log_line_prefix.setting).toBe('%t '); // trailing space kept
    expect(s.hot_standby).toMatchObject({ setting: 'off', source: 'default' });
    expect(s.wal_level.setting).toBe('hot_standby');
    expect(parseUnaligned(fx('es/pg_settings-maestro.unaligned.txt'))).toHaveLength(20);
  });

  it('keeps an empty last column and handles 0 rows and other separators', () => {
    expect(parseUnaligned(fx('xlog-location-esclavo.unaligned.txt'))).toEqual([
      { pg_last_xlog_receive_location: '0/4000078', pg_last_xlog_replay_location: '0/4000078', pg_last_xact_replay_timestamp: '' },
    ]);
    expect(parseUnaligned('procpid|state\n(0 rows)\n')).toEqual([]);
    expect(parseUnaligned('a,b\r\n1,2\r\n(1 fila)\r\n', ',')).toEqual([{ a: '1', b: '2' }]);
    expect(parseUnaligned('')).toEqual([]);
  });
});
