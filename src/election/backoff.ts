import { UsageError } from '../errors.js';

/** Delays between tries: the first, then doubling up to a ceiling, each with ±25 % jitter. */
export interface Backoff {
  first(): number;
  next(): number;
  reset(): void;
}

export function createBackoff(retry: { minDelayMs?: number; maxDelayMs?: number } = {}): Backoff {
  const min = retry.minDelayMs ?? 250;
  const max = retry.maxDelayMs ?? 10_000;
  if (!(Number.isFinite(min) && min >= 0 && Number.isFinite(max) && max >= min)) {
    throw new UsageError(`retry delays must be milliseconds with 0 <= minDelayMs <= maxDelayMs, got ${min} and ${max}`);
  }
  let attempt = 0;
  const jitter = (ms: number) => ms * (0.75 + Math.random() / 2);
  return {
    first: () => jitter(min),
    next: () => jitter(Math.min(min * 2 ** attempt++, max)),
    reset: () => (attempt = 0),
  };
}
