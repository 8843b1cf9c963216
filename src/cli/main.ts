import { passwordsIn, secretsOf } from '../connection/index.js';
import { PglockError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { printCompletion } from './completion/completion-script.js';
import { checkLastRun } from './report/check.js';
import { showHistory } from './report/history.js';
import { releaseHolders } from './report/release.js';
import { printKey } from './report/key-command.js';
import { type Logger, createLogger } from './logger.js';
import { parseArgs, requestedLogFormat } from './args/parse-args.js';
import { runLocked } from './run/run-locked.js';
import { showStatus } from './report/status.js';

// The CLI entry: parse, run, and turn any error into one line on stderr and its exit code.
export async function main(argv: string[] = process.argv.slice(2)): Promise<never> {
  // Every password pglock could see is masked in everything it prints, even in usage errors.
  const secrets = [process.env.PGPASSWORD, ...[...argv, process.env.PGLOCK_DATABASE_URL, process.env.DATABASE_URL].flatMap(passwordsIn)];
  let log = createLogger({ verbosity: 'normal', format: requestedLogFormat(argv) });
  secrets.forEach(log.addSecret);
  let code: number;
  try {
    const parsed = parseArgs(argv, process.env);
    switch (parsed.kind) {
      case 'print':
        process.stdout.write(parsed.stdout);
        return process.exit(0);
      case 'key':
        code = printKey(parsed.options);
        break;
      case 'completion':
        code = printCompletion(parsed.options);
        break;
      case 'status':
        secretsOf(parsed.options.connection).forEach(log.addSecret);
        parsed.options.connection.notes?.forEach((note) => log.warn(note));
        code = await showStatus(parsed.options, log);
        break;
      case 'check':
        secretsOf(parsed.options.connection).forEach(log.addSecret);
        code = await checkLastRun(parsed.options);
        break;
      case 'history':
        secretsOf(parsed.options.connection).forEach(log.addSecret);
        code = await showHistory(parsed.options);
        break;
      case 'release':
        secretsOf(parsed.options.connection).forEach(log.addSecret);
        code = await releaseHolders(parsed.options);
        break;
      case 'run':
        log = createLogger({ verbosity: parsed.options.verbosity, format: parsed.options.logFormat });
        [...secrets, ...secretsOf(parsed.options.connection)].forEach(log.addSecret);
        parsed.options.connection.notes?.forEach((note) => log.warn(note));
        log.setContext({ key: parsed.options.key, lockId: String(parsed.options.lockId) });
        code = await runLocked(parsed.options, log);
        break;
    }
  } catch (error) {
    code = reportError(error, log);
  }
  return process.exit(code);
}

function reportError(error: unknown, log: Logger): number {
  if (error instanceof PglockError) {
    log.error(error.message, { code: error.code, exitCode: error.exitCode });
    return error.exitCode;
  }
  log.error(`internal error: ${error instanceof Error ? error.message : String(error)} (please report this)`, { exitCode: ExitCode.Internal });
  return ExitCode.Internal;
}
