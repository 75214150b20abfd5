/** Step 5 — streaming replication verified: processes, pg_stat_replication, rows really replicated. */
import { lang } from '../../../src/i18n/index.js';
import { postmasterChildren, walReceivers, walSenders } from '../../../src/pg/ps.js';
import { TIMEOUTS } from '../../../src/timeouts.js';
import { fail, nonceReplicated, pass, pollUntil, type CheckFn } from '../../../src/checks/index.js';
import type { Probes } from '../../../src/pg/probes.js';

/**
 * A process title gets its activity at the first WAL it sends or flushes: right after a restart, with
 * nothing written on maestro, a connected sender or receiver shows none. Then maestro's own view says
 * whether it streams to esclavo (the server was vetted as the image's PostgreSQL by the runner).
 */
async function streamingToEsclavo(probes: Probes, esclavoIp: string): Promise<boolean> {
  const rows = await probes.sql('maestro', `SELECT host(client_addr), state FROM pg_stat_replication`).catch(() => [] as string[][]);
  return rows.some((r) => r[0] === esclavoIp && r[1] === 'streaming');
}

/**
 * Under qemu-user (an arm64 env on an amd64 host) the kernel shows the emulator's command line, never
 * the titles PostgreSQL writes into its guest memory: no process says "wal sender". There the view of
 * the (vetted) server is the evidence.
 */
const titlesHidden = (probes: Probes, role: string) => !!probes.env.servers.find((s) => s.role === role)?.emulated;
const EMULATED_EVIDENCE = { state: 'streaming', seen_in: 'pg_stat_replication (emulado: los procesos no muestran su título)' };

export const walSenderProcess: CheckFn = async ({ probes, ip }) => {
  if (!(await probes.serverUp('maestro'))) return fail('down', { server: 'maestro' });
  const senders = walSenders(postmasterChildren(await probes.processes('maestro')));
  const mine = senders.find((s) => s.clientAddr === ip.esclavo);
  if (!mine && titlesHidden(probes, 'maestro') && (await streamingToEsclavo(probes, ip.esclavo))) return pass({ client: ip.esclavo, ...EMULATED_EVIDENCE });
  if (!mine) return fail('none', { senders: senders.map((s) => `${s.clientAddr} ${s.state}`).join(', ') || '—' });
  const state = mine.state === '' && (await streamingToEsclavo(probes, ip.esclavo)) ? 'streaming' : mine.state;
  if (state !== 'streaming') return fail('not-streaming', { state: mine.state, client: mine.clientAddr });
  return pass({ pid: mine.pid, client: `${mine.clientAddr}(${mine.clientPort ?? ''})`, state, lsn: mine.lsn ?? '' });
};

export const replicationView: CheckFn = async ({ probes, profile, ip }) => {
  const rows = await probes.sql('maestro', `SELECT ${profile.replPidColumn}, host(client_addr), state, ${profile.replSentColumn} FROM pg_stat_replication`);
  const mine = rows.find((r) => r[1] === ip.esclavo);
  if (!mine) return fail('none', { rows: rows.map((r) => `${r[1]} ${r[2]}`).join(', ') || '0' });
  if (mine[2] !== 'streaming') return fail('not-streaming', { client_addr: mine[1], state: mine[2] });
  return pass({ [profile.replPidColumn]: mine[0], client_addr: mine[1], state: mine[2], [profile.replSentColumn]: mine[3] });
};

export const walReceiverProcess: CheckFn = async ({ probes, ip }) => {
  if (!(await probes.serverUp('esclavo'))) return fail('down', { server: 'esclavo' });
  const receivers = walReceivers(postmasterChildren(await probes.processes('esclavo')));
  if (!receivers.length && titlesHidden(probes, 'esclavo') && (await streamingToEsclavo(probes, ip.esclavo))) return pass(EMULATED_EVIDENCE);
  if (!receivers.length) return fail('none', {});
  const r = receivers[0];
  const state = r.state === '' && (await streamingToEsclavo(probes, ip.esclavo)) ? 'streaming' : r.state;
  if (state !== 'streaming') return fail('not-streaming', { state: r.state });
  return pass({ pid: r.pid, state, lsn: r.lsn ?? '' });
};

/**
 * Writes a fresh random value on maestro (in the grader's own schema, dropped afterwards) and
 * must read it on esclavo within TIMEOUTS.replicationWaitMs; reports the lag.
 */
export const rowsReplicated: CheckFn = async ({ probes }) => {
  if (!(await probes.serverUp('maestro'))) return fail('maestro-down', { server: 'maestro' });
  if (!(await probes.serverUp('esclavo')) || !(await probes.inRecovery('esclavo'))) return fail('no-standby', {});
  const { nonce, lagMs, waitedMs } = await nonceReplicated(probes, 'maestro', 'esclavo');
  if (lagMs === undefined) return fail('not-replicated', { nonce, waited_ms: waitedMs });
  return pass({ nonce, lag_ms: lagMs });
};

/** A table the student created on maestro, with its rows, is on esclavo too (same row count). */
export const studentTableReplicated: CheckFn = async ({ probes, profile }) => {
  const all = [...(await probes.userTables('maestro'))];
  const onMaestro = all.filter(([, n]) => n > 0);
  if (!onMaestro.length) {
    // An empty table is worth naming ("0 filas"): on 9.1 that is what `psql -c CREATE -c INSERT` leaves (only the last -c runs).
    const rows = lang() === 'en' ? 'rows' : 'filas';
    const tables = all.slice(0, 5).map(([name, n]) => `${name} (${n} ${rows})`).join(', ') || '—';
    return fail(profile.major === '9.1' ? 'no-table-two-c' : 'no-table', { tables });
  }
  const match = await pollUntil(async () => {
    const onEsclavo = await probes.userTables('esclavo', { memo: false });
    const same = onMaestro.find(([name, n]) => onEsclavo.get(name) === n);
    return same;
  }, TIMEOUTS.tableReplicatedMs, 500);
  if (!match) return fail('missing-on-esclavo', { maestro: onMaestro.slice(0, 5).map(([n, c]) => `${n}=${c}`).join(', ') });
  return pass({ table: match[0], rows: match[1] });
};

/** esclavo must refuse writes with SQLSTATE 25006 (read-only transaction); a temp table leaves no trace. */
export const esclavoRefusesWrites: CheckFn = async ({ probes }) => {
  if (!(await probes.serverUp('esclavo'))) return fail('down', { server: 'esclavo' });
  const attempt = await probes.sqlAttempt('esclavo', 'CREATE TEMP TABLE pglab_write_probe (i int)');
  if (attempt.ok) return fail('accepted-write', {});
  if (attempt.sqlstate === '25006') return pass({ sqlstate: '25006', statement: 'CREATE TEMP TABLE' });
  return fail('other-error', { sqlstate: attempt.sqlstate ?? '—' });
};
