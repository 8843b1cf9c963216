import type { LogFormat, Verbosity } from './args/options.js';

export type Level = 'error' | 'warn' | 'notice' | 'info';

/** Structured details of a message: in JSON logs they are fields of the line's object. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  /** Normal-level news such as "lock busy": hidden by --quiet. */
  notice(message: string, fields?: LogFields): void;
  /** Progress details: shown only with --verbose. */
  info(message: string, fields?: LogFields): void;
  /** Fields every later line carries (in JSON logs), such as the key and the lock id. */
  setContext(fields: LogFields): void;
  /** Never print this string (a password); replaced with *** wherever it appears. */
  addSecret(secret: string | undefined): void;
}

export interface LoggerOptions {
  verbosity: Verbosity;
  format?: LogFormat;
  write?: (line: string) => void;
  now?: () => Date;
}

const SHOWN: Record<Verbosity, ReadonlySet<Level>> = {
  quiet: new Set(['error']),
  normal: new Set(['error', 'warn', 'notice']),
  verbose: new Set(['error', 'warn', 'notice', 'info']),
};

// pglock's own output: one line per message, on stderr only (stdout belongs to the child).
// Text: "pglock: [level: ]message". JSON: one object per line with time, level, message, the
// context (key, lockId) and the message's own fields.
export function createLogger(options: LoggerOptions): Logger {
  const { verbosity, format = 'text', write = writeStderr, now = () => new Date() } = options;
  const secrets = new Set<string>();
  let context: LogFields = {};
  const mask = (text: string) => {
    let masked = text.replace(/\s*\n\s*/g, ' ');
    for (const secret of secrets) masked = masked.split(secret).join('***');
    return masked;
  };
  const emit = (level: Level, message: string, fields: LogFields = {}) => {
    if (!SHOWN[verbosity].has(level)) return;
    if (format === 'text') {
      write(`pglock: ${level === 'error' || level === 'warn' ? `${level}: ` : ''}${mask(message)}\n`);
      return;
    }
    const record: Record<string, unknown> = { time: now().toISOString(), level, message: mask(message) };
    for (const [name, value] of Object.entries({ ...context, ...fields })) {
      if (value !== undefined) record[name] = typeof value === 'string' ? mask(value) : value;
    }
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    error: (message, fields) => emit('error', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    notice: (message, fields) => emit('notice', message, fields),
    info: (message, fields) => emit('info', message, fields),
    setContext(fields) {
      context = { ...context, ...fields };
    },
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
