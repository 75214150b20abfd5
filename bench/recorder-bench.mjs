// Cost of the flight recorder (docker/pg/pglab-recorder): CPU per record on an idle env and on a
// streaming env (maestro with a wal sender, esclavo receiving), bytes per record, and what that
// makes over 10 minutes at the recorder's 5-second interval. Prints numbers, asserts nothing.
// Usage: node bench/recorder-bench.mjs [PG=15] [TICKS=200]
import { execFileSync } from 'node:child_process';
import { lab, row } from './lib.mjs';

const pg = process.argv[2] ?? '15';
const ticks = Number(process.argv[3] ?? 200);
const env = `bench-rec-${pg.replace('.', '')}`;
const INTERVAL_S = 5;

/** Runs `ticks` records back to back in a scratch dir and returns CPU seconds (user+sys) and bytes. */
function measure(server) {
  const container = `pglab-${env}-${server}`;
  const script = [
    'rm -rf /tmp/recbench && mkdir -p /tmp/recbench && chown postgres /tmp/recbench',
    `runuser -u postgres -- env PGLAB_RECORDER_DIR=/tmp/recbench PGLAB_RECORDER_INTERVAL=0 PGLAB_RECORDER_TICKS=${ticks} /usr/local/sbin/pglab-recorder`,
    // children's user+sys (cutime, cstime) in clock ticks, after minus before
    'set -- $(cut -d" " -f16,17 /proc/$$/stat); echo "$1 $2 $(getconf CLK_TCK) $(stat -c %s /tmp/recbench/current.tsv)"',
  ].join('\n');
  const out = execFileSync('docker', ['exec', container, 'bash', '-c', script], { encoding: 'utf8' }).trim().split(' ').map(Number);
  const [cutime, cstime, hz, bytes] = out;
  return { cpuS: (cutime + cstime) / hz, bytes };
}

function report(label) {
  for (const server of ['maestro', 'esclavo']) {
    const { cpuS, bytes } = measure(server);
    const perTickMs = (cpuS / ticks) * 1000;
    const ticks10min = (10 * 60) / INTERVAL_S;
    row(`${label} ${server}: CPU per record`, `${perTickMs.toFixed(1)} ms`);
    row(`${label} ${server}: CPU over 10 min (${ticks10min} records)`, `${(perTickMs * ticks10min / 1000).toFixed(2)} s = ${(perTickMs / (INTERVAL_S * 1000) * 100).toFixed(2)} % of one core`);
    row(`${label} ${server}: bytes per record`, `${(bytes / ticks).toFixed(0)} B → ${((bytes / ticks) * ticks10min / 1024).toFixed(1)} KiB per 10 min (ring capped at 2 MiB)`);
  }
}

lab(['down', '--env', env, '--purge', '--yes']);
lab(['up', '--pg', pg, '--env', env]);
report('idle');
for (const step of ['step-1', 'step-2', 'step-3', 'step-4', 'step-5']) lab(['solve', step, '--env', env, '--yes']);
report('streaming');
lab(['down', '--env', env, '--purge', '--yes']);
