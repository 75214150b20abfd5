/**
 * `lab`: entry point. Parses the command, picks the language, and turns every error into one
 * clear message and a non-zero exit (the stack trace only with --debug).
 */
import { Command } from 'commander';
import { LabError } from '../errors.js';
import { pickLang, setLang, t } from '../i18n/index.js';
import { registerEnvCommands } from './env-commands.js';
import { registerInstructorCommands } from './instructor-commands.js';
import { registerLabCommands } from './lab-commands.js';

export function buildProgram(): Command {
  const program = new Command('lab')
    .description('pglab — laboratorio de replicación WAL + streaming en PostgreSQL (Base de Datos II, UNLu)')
    .option('--lang <lang>', 'es | en (también/also LAB_LANG)')
    .option('--debug', 'muestra el detalle de los errores / show error details')
    .hook('preAction', (cmd) => {
      const { lang } = cmd.opts();
      if (lang) {
        if (!/^(es|en)/i.test(lang)) throw new LabError('cli.unknownLang', { lang });
        setLang(pickLang(lang));
      }
    });
  registerEnvCommands(program);
  registerLabCommands(program);
  registerInstructorCommands(program);
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  const program = buildProgram();
  const debug = argv.includes('--debug');
  const langIndex = argv.indexOf('--lang');
  if (langIndex > 0) setLang(pickLang(argv[langIndex + 1]));
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof LabError) {
      console.error(t(err.key, err.params));
      if (debug) console.error(err.cause ?? err);
      process.exitCode = err.exitCode;
      return;
    }
    console.error(t('cli.unexpected', { detail: String((err as Error)?.message ?? err) }));
    if (debug) console.error(err);
    process.exitCode = 2;
  }
}
