/** The "same major on both servers" check fails when esclavo runs another PostgreSQL (an instructor's odd image). */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImage } from '../../src/images/images.js';
import { byId, checkJson, envNameFor, lab } from './helpers.js';

const env = envNameFor('mix');
const docker = (args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();

describe('servers with different PostgreSQL majors', () => {
  beforeAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
    expect((await lab(['up', '--pg', '15', '--env', env])).code).toBe(0);
    const image17 = await ensureImage('17');
    const old = JSON.parse(docker(['inspect', `pglab-${env}-esclavo`]))[0];
    const ip = old.NetworkSettings.Networks[`pglab-${env}`].IPAddress;
    docker(['rm', '-f', `pglab-${env}-esclavo`]);
    const labels = Object.entries(old.Config.Labels as Record<string, string>).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    docker(['run', '-d', '--name', `pglab-${env}-esclavo`, '--hostname', 'esclavo', '--network', `pglab-${env}`, '--ip', ip, ...labels, image17]);
  });
  afterAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
  });

  it('reports both majors and fails', async () => {
    let c = byId((await checkJson(env, 'step-1')).report.steps[0])['same-version'];
    for (let i = 0; i < 20 && c.evidence.esclavo === '— x86_64'; i++) {
      await new Promise((r) => setTimeout(r, 1000)); // the 17 cluster is still being created
      c = byId((await checkJson(env, 'step-1')).report.steps[0])['same-version'];
    }
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('major-differs');
    expect(c.evidence.maestro).toMatch(/^15 /);
    expect(c.evidence.esclavo).toMatch(/^17 /);
  });
});
