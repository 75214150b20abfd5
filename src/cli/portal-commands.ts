/**
 * lab class serve / lab class links: the class in the browser (src/portal/). The portal's modules are
 * imported inside each action, so other commands do not pay for loading them.
 */
import type { Command } from 'commander';
import { DEFAULT_CLASS } from '../env/class.js';
import { className } from '../env/roster.js';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import { parseIntOption } from './options.js';

const PORT = { min: 0, max: 65535 } as const;
/** A fixed default, so the links mailed to students keep working after a restart of the portal. */
const DEFAULT_PORT = 8470;
const IDLE_MINUTES = { min: 1, max: 24 * 60 } as const;

export function registerPortalCommands(program: Command): void {
  const klass = program.commands.find((c) => c.name() === 'class');
  if (!klass) return;

  klass.command('serve')
    .description('la clase en el navegador: una página con terminales por alumno / the class in the browser: a page with terminals per student')
    .option('--class <name>', 'nombre de la clase / class name', DEFAULT_CLASS)
    .option('--port <n>', 'puerto (fijo: los enlaces lo llevan) / port (fixed: links carry it)', String(DEFAULT_PORT))
    .option('--listen <addr>', 'dirección donde escuchar / address to listen on', '127.0.0.1')
    .option('--tls-cert <file>', 'certificado TLS (PEM) / TLS certificate (PEM)')
    .option('--tls-key <file>', 'clave TLS (PEM) / TLS key (PEM)')
    .option('--insecure-http', 'HTTP sin cifrar fuera de 127.0.0.1 / plain HTTP beyond 127.0.0.1')
    .option('--public-host <host...>', 'nombres con que los navegadores llegan al portal / names browsers use to reach the portal')
    .option('--idle-minutes <n>', 'cerrar terminales sin uso / close idle terminals after', '30')
    .action(async (opts) => {
      const name = className(opts.class);
      const port = parseIntOption(opts.port, '--port', PORT);
      const idleMinutes = parseIntOption(opts.idleMinutes, '--idle-minutes', IDLE_MINUTES);
      if (!!opts.tlsCert !== !!opts.tlsKey) throw new LabError('portal.tlsPair', {}, 2);
      const { listEnvNames } = await import('../env/env.js');
      const names = await listEnvNames(name);
      const { startPortal } = await import('../portal/server.js');
      const listen: string = opts.listen;
      const portal = await startPortal({
        className: name, port, listen, idleMinutes, insecureHttp: !!opts.insecureHttp, publicHosts: opts.publicHost ?? [],
        tls: opts.tlsCert ? { cert: opts.tlsCert, key: opts.tlsKey } : undefined,
      });
      if (listen !== '127.0.0.1' && listen !== 'localhost') {
        console.error(t('portal.exposedWarning', { listen }));
        if (!opts.tlsCert) console.error(t('portal.insecureWarning'));
      }
      if (!names.length) console.error(t('portal.noEnvs', { class: name }));
      console.log(t('portal.started', { class: name, origin: portal.origin }));
      console.log(t('portal.instructorLink', { url: portal.instructorUrl }));
      console.log(t('portal.linksHint', { class: name }));
      console.log(t('portal.stopHint'));
      const stop = () => {
        void portal.close().finally(() => {
          console.error(t('portal.stopped'));
          process.exit(0);
        });
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await new Promise(() => {});
    });

  klass.command('links')
    .description('el enlace personal de cada alumno / each student\'s personal link')
    .option('--class <name>', 'nombre de la clase / class name', DEFAULT_CLASS)
    .option('--json', 'salida JSON: [{env, name, email, url}] / JSON output')
    .option('--rotate <env>', 'revoca el enlace de ese entorno y da uno nuevo / revoke that env\'s link and print a new one')
    .option('--origin <url>', 'dirección del portal (por defecto, la del último `class serve`) / the portal\'s address (default: the last `class serve`\'s)')
    .action(async (opts) => {
      const name = className(opts.class);
      const { listEnvNames } = await import('../env/env.js');
      const { ClassLinks } = await import('../portal/links.js');
      const names = await listEnvNames(name);
      const links = new ClassLinks(name);
      const origin = (opts.origin ?? links.origin())?.replace(/\/+$/, '');
      if (!origin) throw new LabError('portal.noOrigin', { class: name }, 2);
      const url = (secret: string) => `${origin}/s/${secret}/`;
      if (opts.rotate) {
        if (!names.includes(opts.rotate)) throw new LabError('portal.unknownEnv', { env: opts.rotate, class: name }, 2);
        console.log(t('portal.rotated', { env: opts.rotate, url: url(links.rotate(opts.rotate)) }));
        new (await import('../portal/audit.js')).AuditLog(name).write({ event: 'rotate', env: opts.rotate });
        return;
      }
      const { findEnv } = await import('../env/env.js');
      const rows = await Promise.all(names.map(async (env) => {
        const student = (await findEnv(env))?.student;
        return { env, name: student?.name ?? '', email: student?.email ?? '', url: url(links.studentSecret(env)) };
      }));
      if (opts.json) console.log(JSON.stringify(rows, null, 2));
      else if (!rows.length) console.error(t('portal.noEnvs', { class: name }));
      else for (const r of rows) console.log([r.env, r.name, r.email, r.url].join('\t'));
    });
}
