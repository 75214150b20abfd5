/** The flight record is parsed strictly: a line the student edited into another shape never counts. */
import { describe, expect, it } from 'vitest';
import { chartFromRecords, lsnBytes, parseRecording, spans } from '../../src/pg/recorder.js';

const T0 = 1_790_000_000;
const window = { notBefore: T0 - 100, notAfter: T0 + 10_000 };
const line = (at: number, over: Record<string, string> = {}) => {
  const f: Record<string, string> = {
    up: '1', sysid: '5880123456789012345', rec: 'f', wal: '000000010000000000000003', rcv: '', rpl: '',
    snd: '10.213.1.11/streaming/0/3000148', wr: '', done: '000000010000000000000002', ready: '0', ...over,
  };
  return ['R1', String(at), ...Object.entries(f).map(([k, v]) => `${k}=${v}`)].join('\t');
};

describe('parseRecording', () => {
  it('reads what pglab-recorder writes: a primary with a streaming wal sender, a standby receiving', () => {
    const text = [
      line(T0),
      line(T0 + 5, { rec: 't', wal: '', rcv: '0/3000148', rpl: '0/3000148', snd: '', wr: 'streaming', done: '', ready: '0' }),
      line(T0 + 10, { snd: '10.213.1.11/startup/,local/streaming/0/3000200' }),
    ].join('\n') + '\n';
    const { records, rejected } = parseRecording(text, window);
    expect(rejected).toBe(0);
    expect(records[0]).toMatchObject({ at: T0, up: true, inRecovery: false, senders: [{ client: '10.213.1.11', state: 'streaming', sent: '0/3000148' }], lastArchived: '000000010000000000000002' });
    expect(records[1]).toMatchObject({ inRecovery: true, receiver: 'streaming', receiveLsn: '0/3000148' });
    expect(records[2].senders).toEqual([{ client: '10.213.1.11', state: 'startup', sent: '' }, { client: 'local', state: 'streaming', sent: '0/3000200' }]);
  });

  it('rejects torn, edited and out-of-lifetime lines, and counts them', () => {
    const good = line(T0);
    const text = [
      good,
      good.slice(0, 40), // torn by a crash
      line(T0 + 5, { snd: '10.213.1.11/streaming/0/ZZZ' }), // not an LSN
      line(T0 + 6, { rec: 'yes' }),
      line(T0 + 7, { wal: '../../etc/passwd' }),
      line(T0 - 5000), // before the env existed
      line(T0 + 99_999), // in the future
      'R1\tnot-a-time\tup=1',
      '{"x":1}',
      line(T0 + 8).replace('\tready=0', '\tready=0\textra=1'),
    ].join('\n');
    const { records, rejected } = parseRecording(text, window);
    expect(records).toHaveLength(1);
    expect(rejected).toBe(9);
  });

  it('groups consecutive records into periods, split by gaps', () => {
    const recs = parseRecording([0, 5, 10, 100, 105].map((d) => line(T0 + d)).join('\n'), window).records;
    expect(spans(recs, () => true)).toEqual([[T0, T0 + 10], [T0 + 100, T0 + 105]]);
    expect(spans(recs, (r) => r.at > T0 + 50)).toEqual([[T0 + 100, T0 + 105]]);
  });

  it('compares LSNs as byte positions', () => {
    expect(lsnBytes('0/3000148')).toBe(0x3000148);
    expect(lsnBytes('1/0')).toBeGreaterThan(lsnBytes('0/FFFFFFFF'));
  });
});

describe('chartFromRecords', () => {
  const rec = (text: string[]) => parseRecording(text.join('\n'), { notBefore: 0, notAfter: T0 + 1000 }).records;
  const standby = (at: number, rcv: string, rpl = rcv) => line(at, { rec: 't', wal: '', rcv, rpl, snd: '', wr: 'streaming', done: '', ready: '0' });

  it('gives the live page the last minutes at once: lag = sent on the primary − received by its standby by the next record', () => {
    const maestro = rec([
      line(T0 - 700), // older than the chart's window
      line(T0, { snd: '10.213.1.11/streaming/0/3000400', ready: '2' }),
      line(T0 + 5, { snd: '10.213.1.11/streaming/0/3000400', ready: '0', done: '000000010000000000000003' }),
    ]);
    // esclavo's receiver had 0/3000100 when it next wrote, then everything.
    const esclavo = rec([standby(T0 + 2, '0/3000100'), standby(T0 + 6, '0/3000400')]);
    const points = chartFromRecords(new Map([['maestro', maestro], ['esclavo', esclavo]]), T0 - 600);
    expect(points).toEqual([
      { at: T0 * 1000, role: 'maestro', lagBytes: 0x300, waiting: 2, lastArchived: '000000010000000000000002' },
      { at: (T0 + 5) * 1000, role: 'maestro', lagBytes: 0, waiting: 0, lastArchived: '000000010000000000000003' },
    ]);
  });

  it('9.1: a segment switch is no lag (the standby received it; its replayed position lags 10 s and stops at the switch)', () => {
    // pg_switch_xlog() at T0: maestro has sent up to the next segment's start; esclavo had received
    // the old position 2 s before and the new one 3 s after, while its replay position stayed put.
    const maestro = rec([line(T0 - 5), line(T0, { snd: '10.213.1.11/streaming/0/4000000' })]);
    const esclavo = rec([standby(T0 - 2, '0/3000148'), standby(T0 + 3, '0/4000000', '0/3000148')]);
    const points = chartFromRecords(new Map([['maestro', maestro], ['esclavo', esclavo]]), T0 - 600);
    expect(points.map((p) => p.lagBytes)).toEqual([0, 0]);
    expect(Math.max(...points.map((p) => p.lagBytes ?? 0))).toBeLessThan(1024);
  });

  it('after the promotion: one series per primary, so the two archives never alternate into fake ticks', () => {
    const seg = (n: number) => `00000001000000000000000${n}`;
    const seg2 = (n: number) => `00000002000000000000000${n}`;
    const maestro = rec([0, 5, 10, 15].map((d) => line(T0 + d, { snd: '', done: seg(5) })));
    const esclavo = rec([2, 7, 12, 17].map((d) => line(T0 + d, { snd: '', done: d < 10 ? seg2(5) : seg2(6) })));
    const points = chartFromRecords(new Map([['maestro', maestro], ['esclavo', esclavo]]), T0 - 600);
    const changes = (role: string) => points.filter((p) => p.role === role).filter((p, i, a) => i > 0 && p.lastArchived !== a[i - 1].lastArchived).length;
    expect(changes('maestro')).toBe(0);
    expect(changes('esclavo')).toBe(1); // the one segment esclavo really archived
    expect(points.every((p) => p.lagBytes === undefined)).toBe(true); // nothing streams
  });

  it('has no lag without a standby record after the primary\'s, and nothing without a primary', () => {
    const maestro = rec([line(T0)]);
    expect(chartFromRecords(new Map([['maestro', maestro]]), 0)[0].lagBytes).toBeUndefined();
    expect(chartFromRecords(new Map([['maestro', maestro], ['esclavo', rec([standby(T0 - 3, '0/3000000')])]]), 0)[0].lagBytes).toBeUndefined();
    expect(chartFromRecords(new Map(), 0)).toEqual([]);
  });
});
