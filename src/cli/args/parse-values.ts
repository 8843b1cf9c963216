import { constants } from 'node:os';
import { parseDuration } from '../../duration.js';
import { UsageError } from '../../errors.js';

// Option values the operators' options take (issue 22): counts, ages, run times, signals. Each
// bad value is one line and 64, naming the option and what it got.

/** A whole number from `min` up to a million, or one line and 64. */
export function parseCount(text: string, flag: string, min: number): number {
  if (!/^\d{1,7}$/.test(text) || Number(text) < min || Number(text) > 1_000_000) {
    throw new UsageError(`${flag} must be a whole number from ${min} to 1000000, got '${text}'`);
  }
  return Number(text);
}

// An age compared by the database, never a timer: up to ten years, and more than 0.
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
