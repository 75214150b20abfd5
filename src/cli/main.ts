/**
 * `lab`: entry point. Parses the command, picks the language, and turns every error into one
 * clear message and a non-zero exit (the stack trace only with --debug).
 */
import { Command } from 'commander';
import { LabError } from '../errors.js';
import { pickLang, setLang, t } from '../i18n/index.js';
import { registerDevCommands } from './dev-commands.js';
import { registerEnvCommands } from './env-commands.js';
import { registerImageCommands } from './image-commands.js';
import { registerInstructorCommands } from './instructor-commands.js';
import { registerLabCommands } from './lab-commands.js';
import { registerLiveCommands } from './live-commands.js';
import { registerPortalCommands } from './portal-commands.js';
import { onInterrupt } from './io.js';

/** es, en, and their locale forms (es_AR.UTF-8, en-GB); anything else is refused, from the flag or from LAB_LANG alike. */
const KNOWN_LANG = /^(es|en)([-_.].*)?$/i;

export function buildProgram(): Command {
  const program = new Command('lab')
    .description('pglab — laboratorio de replicación WAL + streaming en PostgreSQL (Base de Datos II, UNLu)')
    .option('--lang <lang>', 'es | en (también/also LAB_LANG)')
    .option('--debug', 'muestra el detalle de los errores / show error details')
    .hook('preAction', (cmd) => {
      const { lang } = cmd.opts();
      if (lang) {
        if (!KNOWN_LANG.test(lang)) throw new LabError('cli.unknownLang', { lang });
        setLang(pickLang(lang));
      }
    });
  registerEnvCommands(program);
  registerLabCommands(program);
  registerInstructorCommands(program);
  registerImageCommands(program);
  registerLiveCommands(program);
  registerDevCommands(program);
  registerPortalCommands(program);
  return program;
}

/** The --lang value wherever it is written (`--lang en`, `--lang=en`), before commander parses; not after `--` (lab exec). */
export function langFlag(all: string[]): string | undefined {
  const end = all.indexOf('--');
  const argv = end >= 0 ? all.slice(0, end) : all;
  const i = argv.indexOf('--lang');
  if (i > 0) return argv[i + 1] ?? '';
  return argv.find((a) => a.startsWith('--lang='))?.slice('--lang='.length);
}

export async function main(argv = process.argv): Promise<void> {
  const program = buildProgram();
  const debug = argv.includes('--debug');
  // Ctrl+C: one short line and 130, never a stack; the next run of the same command completes what was left.
  onInterrupt();
  try {
    const flag = langFlag(argv);
    if (flag !== undefined) {
      if (!KNOWN_LANG.test(flag)) throw new LabError('cli.unknownLang', { lang: flag });
      setLang(pickLang(flag));
    } else if (process.env.LAB_LANG && !KNOWN_LANG.test(process.env.LAB_LANG)) {
      // Same answer as `--lang fr`: exit 2 with the message, not a silent Spanish.
      throw new LabError('cli.unknownLangEnv', { lang: process.env.LAB_LANG });
    } else if (process.env.LAB_LANG) {
      setLang(pickLang(process.env.LAB_LANG));
    }
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof LabError) {
      console.error(t(err.key, err.params));
      if (debug) console.error(err.cause ?? err);
      process.exitCode = err.exitCode;
      return;
    }
    const detail = String((err as Error)?.message ?? err);
    // With --debug the detail follows, so the message must not ask for --debug again.
    console.error(t(debug ? 'cli.unexpectedDebug' : 'cli.unexpected', { detail }));
    if (debug) console.error(err);
    process.exitCode = 2;
  }
}
