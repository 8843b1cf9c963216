import type { Verbosity } from './options.js';

export type Level = 'error' | 'warn' | 'notice' | 'info';

export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  /** Normal-level news such as "lock busy": hidden by --quiet. */
  notice(message: string): void;
  /** Progress details: shown only with --verbose. */
  info(message: string): void;
  /** Never print this string (a password); replaced with *** wherever it appears. */
  addSecret(secret: string | undefined): void;
}

const SHOWN: Record<Verbosity, ReadonlySet<Level>> = {
  quiet: new Set(['error']),
  normal: new Set(['error', 'warn', 'notice']),
  verbose: new Set(['error', 'warn', 'notice', 'info']),
};

// pglock's own output: one line per message, on stderr only (stdout belongs to the child).
export function createLogger(verbosity: Verbosity, write: (line: string) => void = writeStderr): Logger {
  const secrets = new Set<string>();
  const emit = (level: Level, message: string) => {
    if (!SHOWN[verbosity].has(level)) return;
    let line = message.replace(/\s*\n\s*/g, ' ');
    for (const secret of secrets) line = line.split(secret).join('***');
    write(`pglock: ${level === 'error' || level === 'warn' ? `${level}: ` : ''}${line}\n`);
  };
  return {
    error: (message) => emit('error', message),
    warn: (message) => emit('warn', message),
    notice: (message) => emit('notice', message),
    info: (message) => emit('info', message),
    addSecret(secret) {
      if (!secret || secret.length < 3) return;
      secrets.add(secret);
      secrets.add(encodeURIComponent(secret));
    },
  };
}

function writeStderr(line: string): void {
  process.stderr.write(line);
}
