// Portal load benchmark: S students with open terminals typing at ~5 keys/s through `lab class serve` on
// loopback; prints keystroke echo latency (p50/p99) and the portal process's CPU and memory.
// Usage: node bench/portal-bench.mjs [students=30] [envs=10] [seconds=60] [pg=15]
// Terminals are spread over the envs (students / envs per env, at most 6 each, the portal's per-env limit).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { lab, ROOT, row, sec } from './lib.mjs';

const students = Number(process.argv[2] ?? 30);
const envCount = Number(process.argv[3] ?? 10);
const seconds = Number(process.argv[4] ?? 60);
const pg = process.argv[5] ?? '15';
const tag = process.pid.toString(36);
const klass = `pbench-${tag}`;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pglab-portal-bench-'));
process.env.PGLAB_STATE_DIR = path.join(tmp, 'state');
const envs = Array.from({ length: envCount }, (_, i) => `pb${i + 1}-${tag}`);
writeFileSync(path.join(tmp, 'roster.csv'), `entorno\n${envs.join('\n')}\n`);

console.log(`# pglab portal benchmark — ${students} terminals over ${envCount} envs (PostgreSQL ${pg}), ${seconds} s, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`);
row(`class up ${envCount} envs`, sec(lab(['class', 'up', '--roster', path.join(tmp, 'roster.csv'), '--pg', pg, '--class', klass, '--parallel', '3']).ms));

const serve = spawn('node', [path.join(ROOT, 'bin', 'lab.js'), 'class', 'serve', '--class', klass, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const origin = await new Promise((resolve) => {
  let out = '';
  serve.stdout.on('data', (d) => { out += d; const m = /(http:\/\/127\.0\.0\.1:\d+)/.exec(out); if (m && /\n.*\n/.test(out)) resolve(m[1]); });
});
const links = JSON.parse(lab(['class', 'links', '--class', klass, '--json']).stdout);

/** utime+stime (clock ticks → s) and RSS (MiB) of the portal process. */
function usage() {
  const stat = readFileSync(`/proc/${serve.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${serve.pid}/status`, 'utf8'))[1]) / 1024;
  return { cpuS: (Number(stat[11]) + Number(stat[12])) / 100, rss };
}

const SERVERS = [['maestro', 'root'], ['esclavo', 'root'], ['maestro', 'postgres'], ['esclavo', 'postgres'], ['maestro', 'root'], ['esclavo', 'root']];
const latencies = [];
const terms = [];
const idle = usage();
for (let i = 0; i < students; i++) {
  const link = links[i % links.length];
  const [server, user] = SERVERS[Math.floor(i / links.length) % SERVERS.length];
  const secret = /\/s\/([\w-]+)\//.exec(link.url)[1];
  const ws = new WebSocket(`${origin.replace('http', 'ws')}/s/${secret}/term?server=${server}&user=${user}&cols=100&rows=30`, { origin });
  await new Promise((resolve, reject) => { ws.on('message', function first(m) { if (JSON.parse(m).type === 'ready') { ws.off('message', first); resolve(); } }); ws.on('unexpected-response', (_q, r) => reject(new Error(`refused ${r.statusCode}`))); });
  terms.push(ws);
}
await new Promise((r) => setTimeout(r, 2000));
const opened = usage();
const t0 = usage();
const started = Date.now();
await Promise.all(terms.map(async (ws, i) => {
  let pending;
  ws.on('message', (m) => {
    const msg = JSON.parse(m);
    if (pending && msg.type === 'output' && msg.data.includes(pending.key)) {
      latencies.push(Number(process.hrtime.bigint() - pending.at) / 1e6);
      pending = undefined;
    }
  });
  let n = i;
  await new Promise((r) => setTimeout(r, Math.random() * 200));
  while (Date.now() - started < seconds * 1000) {
    n++;
    // Typed letters; every 40 keys the line is cleared (Ctrl+U), as someone correcting a command.
    const key = n % 40 === 0 ? '\u0015' : String.fromCharCode(97 + (n % 26));
    if (key !== '\u0015') pending = { key, at: process.hrtime.bigint() };
    ws.send(JSON.stringify({ type: 'input', data: key }));
    await new Promise((r) => setTimeout(r, 200));
  }
}));
const t1 = usage();
const elapsed = (Date.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]?.toFixed(1);
row('keystrokes echoed', `${latencies.length} (${(latencies.length / elapsed).toFixed(0)}/s)`);
row('echo latency p50 / p99 / max', `${pct(50)} / ${pct(99)} / ${latencies.at(-1)?.toFixed(1)} ms`);
row('portal CPU while typing', `${(((t1.cpuS - t0.cpuS) / elapsed) * 100).toFixed(1)} % of one core`);
row('portal memory idle / terminals open / end', `${idle.rss.toFixed(0)} / ${opened.rss.toFixed(0)} / ${t1.rss.toFixed(0)} MiB`);
for (const ws of terms) ws.close();
serve.kill('SIGTERM');
row(`class down --purge ${envCount} envs`, sec(lab(['class', 'down', '--class', klass, '--purge', '--yes']).ms));
process.exit(0);
