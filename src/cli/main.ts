import { passwordsIn } from '../connection-config.js';
import { PglockError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { createLogger } from './logger.js';
import { parseArgs } from './parse-args.js';
import { runLocked } from './run.js';

// The CLI entry: parse, run, and turn any error into one line on stderr and its exit code.
export async function main(argv: string[] = process.argv.slice(2)): Promise<never> {
  // Every password pglock could see is masked in everything it prints, even in usage errors.
  const secrets = [process.env.PGPASSWORD, ...[...argv, process.env.PGLOCK_DATABASE_URL, process.env.DATABASE_URL].flatMap(passwordsIn)];
  let log = createLogger('normal');
  secrets.forEach(log.addSecret);
  let code: number;
  try {
    const parsed = parseArgs(argv, process.env);
    if (parsed.kind === 'exit') return process.exit(parsed.code);
    log = createLogger(parsed.options.verbosity);
    [...secrets, parsed.options.connection.password].forEach(log.addSecret);
    code = await runLocked(parsed.options, log);
  } catch (error) {
    code = reportError(error, log);
  }
  return process.exit(code);
}

function reportError(error: unknown, log: ReturnType<typeof createLogger>): number {
  if (error instanceof PglockError) {
    log.error(error.message);
    return error.exitCode;
  }
  log.error(`internal error: ${error instanceof Error ? error.message : String(error)} (please report this)`);
  return ExitCode.Internal;
}
