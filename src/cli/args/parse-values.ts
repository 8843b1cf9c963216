import { constants } from 'node:os';
import { parseDuration } from '../../duration.js';
import { UsageError } from '../../errors.js';
import { MAX_LIMIT } from '../../key/lock-id.js';
import { LOG_FORMATS } from './common-flags.js';
import type { LogFormat } from './options.js';

// Option values: counts, ages, run times, signals, limits, exit codes, log formats (issue 22).
// Each bad value is one line and 64, naming the option and what it got.

/** A whole number from `min` up to a million, or one line and 64. */
export function parseCount(text: string, flag: string, min: number): number {
  if (!/^\d{1,7}$/.test(text) || Number(text) < min || Number(text) > 1_000_000) {
    throw new UsageError(`${flag} must be a whole number from ${min} to 1000000, got '${text}'`);
  }
  return Number(text);
}

// An age or interval compared by the database, never a timer (--max-age, --min-interval): up to
// ten years, and more than 0.
export function parsePositiveDuration(text: string, flag: string): number {
  const ms = parseDuration(text, flag, 3650 * 86_400_000);
  if (ms === 0) throw new UsageError(`${flag} must be longer than 0, got '${text}'`);
  return ms;
}

// A timer: up to about 24.8 days (2³¹ − 1 ms), and more than 0.
export function parseMaxRuntime(text: string): number {
  const ms = parseDuration(text, '--max-runtime');
  if (ms === 0) throw new UsageError(`--max-runtime must be longer than 0, got '${text}'`);
  return ms;
}

// A signal by name, with or without SIG (TERM, SIGTERM, sigterm).
export function parseSignal(text: string): NodeJS.Signals {
  const name = `SIG${text.toUpperCase().replace(/^SIG/, '')}`;
  if (!/^SIG[A-Z0-9]+$/.test(name) || constants.signals[name as NodeJS.Signals] === undefined) {
    throw new UsageError(`--kill-signal must be a signal name such as TERM, INT or QUIT, got '${text}'`);
  }
  return name as NodeJS.Signals;
}

// --limit: 1 to MAX_LIMIT holders (slot ids are the lock id + i).
export function parseLimit(text: string): number {
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > MAX_LIMIT) {
    throw new UsageError(`--limit must be a whole number from 1 to ${MAX_LIMIT}, got '${text}'`);
  }
  return Number(text);
}

// --conflict-exit-code: an exit status, 0 to 255.
export function parseExitCode(text: string): number {
  const code = Number(text);
  if (!/^\d{1,3}$/.test(text) || code > 255) throw new UsageError(`--conflict-exit-code must be a whole number from 0 to 255, got '${text}'`);
  return code;
}

// --log-format: text or json.
export function parseLogFormat(text: string): LogFormat {
  const format = LOG_FORMATS.find((known) => known === text);
  if (format === undefined) throw new UsageError(`--log-format must be text or json, got '${text}'`);
  return format;
}
