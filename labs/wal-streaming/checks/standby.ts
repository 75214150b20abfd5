/** Step 3 — esclavo as hot standby (recovery.conf on 9.1, standby.signal + settings on 12+), maestro's access rules. */
import { confGet, parseConf, type ParsedConf } from '../../../src/pg/conf.js';
import { matchHba, parseHba } from '../../../src/pg/hba.js';
import { TIMEOUTS } from '../../../src/timeouts.js';
import { errorLines, isOn, listensOn } from '../../../src/checks/index.js';
import { clientError, fail, pass, type CheckContext, type CheckFn } from '../../../src/checks/index.js';

/** The tutorial sets hot_standby = on explicitly (9.1 default is off; 10+ default on, set it anyway). */
export const hotStandbyOn: CheckFn = async ({ probes, profile }) => {
  const value = await probes.fileSetting('esclavo', 'hot_standby');
  const file = `${profile.confDir}/postgresql.conf`;
  if (value === undefined) return fail('not-set', { hot_standby: `${profile.hotStandbyDefault} (default)`, file });
  if (!isOn(value)) return fail('off', { hot_standby: value, file });
  return pass({ hot_standby: value, file });
};

/**
 * Step 3 asks maestro to listen on its own address in the file (`'<IP maestro>, localhost'`); the
 * restart that puts it in effect is step 4's, so the running value is not judged here. The title
 * claims "maestro listens on its IP": `'*'` (or 0.0.0.0) does, and step 2 accepts it too.
 */
export const maestroListensInFile: CheckFn = async ({ probes, profile, ip }) => {
  const value = await probes.fileSetting('maestro', 'listen_addresses');
  const file = `${profile.confDir}/postgresql.conf`;
  const { main } = await probes.configFiles('maestro');
  if (main?.errors.length) return fail('conf-syntax', { file, lines: errorLines(main.errors) });
  if (value === undefined) return fail('not-set', { file, listen_addresses: "localhost (default)" });
  if (!listensOn(value, ip.maestro)) return fail('no-own-ip', { file, listen_addresses: value });
  return pass({ file, listen_addresses: value });
};

/** libpq conninfo (`host=… port=… user=…`, values optionally single-quoted). */
export function parseConninfo(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))/g;
  for (let m; (m = re.exec(s)); ) out[m[1]] = (m[2] ?? m[3]).replace(/\\(.)/g, '$1');
  return out;
}

type Problem = [code: string, detail: string];

/** What every version needs: where to connect, how to fetch archived segments, how to clean the archive. */
function standbySettingProblems(get: (key: string) => string | undefined, { ip, facts }: CheckContext): Problem[] {
  const problems: Problem[] = [];
  const conninfo = parseConninfo(get('primary_conninfo') ?? '');
  if (!get('primary_conninfo')) problems.push(['no-conninfo', 'primary_conninfo']);
  else if (conninfo.host !== ip.maestro && conninfo.host !== 'maestro') problems.push(['conninfo-host', `host=${conninfo.host ?? '—'}`]);
  else if (conninfo.port && conninfo.port !== '5432') problems.push(['conninfo-port', `port=${conninfo.port}`]);
  const restore = get('restore_command') ?? '';
  if (!(restore.includes(facts.archive) && restore.includes('%f') && restore.includes('%p'))) problems.push(['restore-command', `restore_command=${restore || '—'}`]);
  const cleanup = get('archive_cleanup_command') ?? '';
  if (!(cleanup.includes('pg_archivecleanup') && cleanup.includes(facts.archive) && cleanup.includes('%r'))) problems.push(['cleanup-command', `archive_cleanup_command=${cleanup || '—'}`]);
  return problems;
}

export const standbyConfigured: CheckFn = async (ctx) => {
  return ctx.profile.recoveryConfFile ? recoveryConf(ctx) : standbySignal(ctx);
};

async function recoveryConf(ctx: CheckContext) {
  const path = `${ctx.profile.dataDir}/recovery.conf`;
  const text = await ctx.probes.readText('esclavo', path);
  if (text === undefined) return fail('missing', { path });
  return judgeRecoveryConf(text, path, ctx);
}

/** 9.1's recovery.conf, judged from any copy of it (the live file, recovery.done, the recorder's copy). */
export function judgeRecoveryConf(text: string, path: string, ctx: CheckContext) {
  const conf = parseConf(text);
  if (conf.errors.length) {
    return fail('syntax', { path, lines: errorLines(conf.errors) });
  }
  const get = (k: string) => confGet(conf, k)?.value;
  const problems: Problem[] = [];
  if (!isOn(get('standby_mode') ?? 'off')) problems.push(['standby-mode', `standby_mode=${get('standby_mode') ?? '—'}`]);
  problems.push(...standbySettingProblems(get, ctx));
  if (!get('trigger_file')) problems.push(['trigger', 'trigger_file=—']);
  else if (get('trigger_file') !== ctx.facts.trigger) problems.push(['trigger', `trigger_file=${get('trigger_file')}`]);
  return problems.length ? fail(problems[0][0], { path, problems: problems.map((p) => p[1]).join(', ') }) : pass({ path, settings: summarize(conf) });
}

/** 12+: standby.signal plus the standby settings; `afterPromotion` judges the settings alone (the signal is consumed). */
export async function standbySignal(ctx: CheckContext, afterPromotion = false) {
  const { probes, profile } = ctx;
  const problems: Problem[] = [];
  if (await probes.stat('esclavo', `${profile.dataDir}/recovery.conf`)) problems.push(['recovery-conf-present', `${profile.dataDir}/recovery.conf`]);
  const { main } = await probes.configFiles('esclavo');
  const legacy = ['standby_mode', 'trigger_file', 'checkpoint_segments', 'wal_keep_segments'].filter((k) => main && confGet(main, k));
  if (legacy.length) problems.push(['legacy-keys', legacy.join(', ')]);
  if (!afterPromotion && !(await probes.stat('esclavo', `${profile.dataDir}/standby.signal`))) problems.push(['no-signal', `${profile.dataDir}/standby.signal`]);
  const values = new Map<string, string | undefined>();
  for (const key of ['primary_conninfo', 'restore_command', 'archive_cleanup_command', 'promote_trigger_file']) values.set(key, await probes.fileSetting('esclavo', key));
  problems.push(...standbySettingProblems((k) => values.get(k), ctx));
  if (profile.triggerSetting === 'promote_trigger_file' && values.get('promote_trigger_file') !== ctx.facts.trigger) {
    problems.push(['trigger', `promote_trigger_file=${values.get('promote_trigger_file') ?? '—'}`]);
  }
  return problems.length ? fail(problems[0][0], { problems: problems.map((p) => p[1]).join(', ') }) : pass({ signal: `${profile.dataDir}/standby.signal`, primary_conninfo: values.get('primary_conninfo') ?? '' });
}

function summarize(conf: ParsedConf): string {
  return conf.entries.map((e) => e.key).join(', ');
}

/** pg_hba.conf on maestro lets postgres from esclavo's address open a replication connection. */
export const hbaReplicationRule: CheckFn = async ({ probes, profile, ip }) => {
  const path = `${profile.confDir}/pg_hba.conf`;
  const text = await probes.readText('maestro', path);
  if (text === undefined) return fail('missing', { path });
  const { rules } = parseHba(text);
  const rule = matchHba(rules, { database: 'replication', user: 'postgres', ip: ip.esclavo, ssl: profile.labServerSsl });
  if (rule && rule.method !== 'reject') return pass({ line: rule.line, rule: rule.raw.trim() });
  if (rule) return fail('rejected', { line: rule.line, rule: rule.raw.trim() });
  // A replication rule the student wrote for another address (Debian's own loopback rules do not count).
  const other = [...rules].reverse().find((r) => r.databases.includes('replication') && r.type.startsWith('host') && !/^(127\.|::1)/.test(r.address ?? ''));
  if (other) return fail('wrong-address', { line: other.line, rule: other.raw.trim(), esclavo: ip.esclavo });
  return fail('no-rule', { path, esclavo: ip.esclavo });
};

/** Proof: a replication connection from esclavo to maestro answers IDENTIFY_SYSTEM with maestro's identifier. */
export const replicationConnection: CheckFn = async ({ probes, ip }) => {
  const conninfo = `host=${ip.maestro} port=5432 user=postgres replication=true connect_timeout=${TIMEOUTS.connectS}`;
  const r = await probes.exec('esclavo', [probes.psql, '-X', '-A', '-t', '-F', '|', '-c', 'IDENTIFY_SYSTEM', conninfo], { user: 'postgres', timeoutMs: TIMEOUTS.connectProbeMs });
  const out = r.stdout.toString().trim();
  const sysid = (await probes.controldata('maestro'))?.systemIdentifier;
  if (r.exitCode === 0 && out) {
    const [systemid, timeline] = out.split('|');
    if (sysid && systemid !== sysid) return fail('other-server', { systemid, maestro_sysid: sysid });
    return pass({ command: `psql "${conninfo}" -c IDENTIFY_SYSTEM`, systemid, timeline });
  }
  const err = r.stderr.toString().trim();
  // The message only picks a hint (it is localized on the server side); the verdict is the exit status.
  const reason = /pg_hba\.conf/.test(err) ? 'hba-not-loaded' : /refused|rechaz|timeout|timed out/i.test(err) ? 'not-listening' : 'failed';
  return fail(reason, { exit: r.exitCode, stderr: clientError(err) });
};
