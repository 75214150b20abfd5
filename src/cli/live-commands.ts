/**
 * lab watch / lab web / lab class web. The live modules are imported inside each action, so the
 * other commands do not pay for loading them.
 */
import type { Command } from 'commander';
import { envName } from '../env/naming.js';
import { t } from '../i18n/index.js';
import { DEFAULT_CLASS } from '../env/class.js';
import { parseIntOption } from './options.js';

/** Ports a user may ask for (0: a free one). */
const PORT = { min: 0, max: 65535 } as const;

export function registerLiveCommands(program: Command): void {
  program.command('watch [step]')
    .description('revisa el paso cada 2 s y muestra qué cambió; q para salir / re-check the step every 2 s and show what changed; q to quit')
    .option('--env <name>')
    .action(async (step: string | undefined, opts) => {
      const { watch } = await import('../live/watch.js');
      await watch({ env: envName(opts.env), step });
      process.exit(0);
    });

  program.command('web')
    .description('página con la topología y las verificaciones en vivo (solo 127.0.0.1) / live page with the topology and the checks (127.0.0.1 only)')
    .option('--env <name>')
    .option('--port <n>', 'puerto / port (0: uno libre / a free one)', '0')
    .option('--step <step>', 'quedarse en este paso / stay on this step')
    .option('--expose', 'escuchar en todas las interfaces (avisa) / listen on every interface (warns)')
    .action(async (opts) => {
      const port = parseIntOption(opts.port, '--port', PORT);
      const env = envName(opts.env);
      const { loadEnv } = await import('../env/env.js');
      const found = await loadEnv(env); // a missing env says so before anything listens
      if (opts.step !== undefined) {
        // …and so does a step the env's lab does not have (exit 2), not a page that answers 500.
        const { findStep, loadLab } = await import('../lab/manifest.js');
        findStep(await loadLab(found.lab), opts.step);
      }
      const { startWeb } = await import('../live/server.js');
      const web = await startWeb({ env, port, expose: !!opts.expose, step: opts.step });
      if (opts.expose) console.error(`${t('web.exposed', { host: web.host, port: web.port })}\n${t('web.exposedUrl')}`);
      console.log(t(opts.expose ? 'web.listeningExposed' : 'web.listening', { env, url: web.url }));
      await new Promise(() => {});
    });

  const klass = program.commands.find((c) => c.name() === 'class');
  klass?.command('web')
    .description('tablero de la clase en vivo: un renglón por entorno, una celda por paso / live class board: one row per env, one cell per step')
    .option('--class <name>', 'nombre de la clase / class name', DEFAULT_CLASS)
    .option('--port <n>', 'puerto / port (0: uno libre / a free one)', '0')
    .option('--expose', 'escuchar en todas las interfaces (avisa) / listen on every interface (warns)')
    .action(async (opts) => {
      const port = parseIntOption(opts.port, '--port', PORT);
      const { listEnvNames } = await import('../env/env.js');
      const names = await listEnvNames(opts.class);
      const { startWeb } = await import('../live/server.js');
      const web = await startWeb({ className: opts.class, port, expose: !!opts.expose });
      if (opts.expose) console.error(`${t('web.exposed', { host: web.host, port: web.port })}\n${t('web.exposedUrl')}`);
      if (!names.length) console.error(t('web.noClass', { class: opts.class }));
      console.log(t(opts.expose ? 'web.listeningClassExposed' : 'web.listeningClass', { class: opts.class, n: names.length, url: web.url }));
      await new Promise(() => {});
    });
}
