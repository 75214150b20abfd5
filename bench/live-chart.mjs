// What the live page's chart shows on a streaming env while maestro switches WAL segments: the
// y-axis top of the open page's chart over a few minutes, then of a page opened afterwards (its
// chart starts from the flight record), and how many "segmento archivado" ticks each draws.
// Prints numbers, asserts nothing. The env must be at step 5 (esclavo streaming from maestro).
//
//   node bench/live-chart.mjs ENV [seconds=90] [switches=on]
//
// LAB_BIN=/other/checkout/bin/lab.js compares another build (e.g. the code before a change).
import { execFileSync, spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { ROOT, row } from './lib.mjs';

const LAB = process.env.LAB_BIN ?? path.join(ROOT, 'bin', 'lab.js');
const [env, seconds = '90', switches = 'on'] = process.argv.slice(2);
if (!env) {
  console.log('usage: node bench/live-chart.mjs ENV [seconds] [on|off]');
  process.exit(2);
}

async function web() {
  const child = spawn('node', [LAB, 'web', '--env', env, '--step', 'step-5'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await new Promise((r) => child.stdout.on('data', (d) => { const m = /http:\/\/127\.0\.0\.1:\d+\/\?token=\S+/.exec(String(d)); if (m) r(new URL(m[0])); }));
  return { child, url };
}
const top = (chart) => /class="small"(?: text-anchor="end")?>([\d.]+ (?:B|kB|MB))<\/text>/.exec(chart)?.[1];
const ticks = (chart) => (chart.match(/<line class="archived"/g) ?? []).length;
const bytes = (s) => (s ? Number(s.split(' ')[0]) * ({ B: 1, kB: 1024, MB: 1024 * 1024 }[s.split(' ')[1]]) : 0);
const primary = () => {
  const ps = execFileSync('docker', ['ps', '--filter', `label=pglab.env=${env}`, '--format', '{{.Names}}'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  return ps.find((n) => n.endsWith('-maestro'));
};
const psql = (sql) => execFileSync('docker', ['exec', '-u', 'postgres', primary(), 'psql', '-Xqc', sql], { stdio: 'ignore' });

console.log(`# live chart — env ${env}, ${new Date().toISOString()}, ${LAB}`);
const open = await web();
const tops = [];
const req = http.get(`http://127.0.0.1:${open.url.port}/events${open.url.search}`, (res) => {
  let buf = '';
  res.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const msg = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (msg.startsWith('data:')) tops.push(top(JSON.parse(msg.slice(5)).chart ?? ''));
    }
  });
});
let n = 0;
const version = Number(execFileSync('docker', ['exec', '-u', 'postgres', primary(), 'psql', '-XAtc', 'SHOW server_version_num'], { encoding: 'utf8' }).trim());
const switchFn = version < 100000 ? 'pg_switch_xlog' : 'pg_switch_wal';
if (switches === 'on') psql('CREATE TABLE IF NOT EXISTS bench_switch (i int)');
const t0 = Date.now();
while (Date.now() - t0 < Number(seconds) * 1000) {
  if (switches === 'on') {
    psql(`INSERT INTO bench_switch VALUES (1); SELECT ${switchFn}();`);
    n++;
  }
  await new Promise((r) => setTimeout(r, 15_000));
}
req.destroy();
open.child.kill('SIGTERM');
if (switches === 'on') psql('DROP TABLE bench_switch');
row(`segment switches (${switchFn})`, String(n));
row('open page: chart updates', String(tops.length));
row('open page: largest y-axis top', tops.filter(Boolean).sort((a, b) => bytes(b) - bytes(a))[0] ?? '—');
const later = await web();
const html = await (await fetch(later.url)).text();
later.child.kill('SIGTERM');
const chart = /<svg[^>]*class="chart"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '';
row('page opened after: y-axis top (from the flight record)', top(chart) ?? '—');
row('page opened after: "segmento archivado" ticks', String(ticks(chart)));
