import { UsageError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

// Parse a duration such as `500ms`, `30s`, `5m`, `1h`, `1m30s`, or a bare number of seconds.
// Returns milliseconds. `flag` names the option in the error message.
export function parseDuration(text: string, flag: string): number {
  const input = text.trim();
  const fail = (): never => {
    throw new UsageError(`${flag} takes a duration such as 500ms, 30s, 5m or 1h, got '${text}'`);
  };
  if (input === '') fail();
  if (/^\d+(?:\.\d+)?$/.test(input)) return toWholeMs(Number(input) * 1000, fail);
  let total = 0;
  let end = 0;
  PART.lastIndex = 0;
  for (let match = PART.exec(input); match; match = PART.exec(input)) {
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
    end = PART.lastIndex;
  }
  if (end !== input.length) fail();
  return toWholeMs(total, fail);
}

function toWholeMs(ms: number, fail: () => never): number {
  if (!Number.isFinite(ms) || ms > 2 ** 31 - 1) fail();
  return Math.round(ms);
}

/** Format milliseconds for messages: 500ms, 1.5s, 2m, 1h5m. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  if (minutes < 60) return seconds ? `${minutes}m${seconds}s` : `${minutes}m`;
  const rest = minutes % 60;
  return rest ? `${Math.floor(minutes / 60)}h${rest}m` : `${Math.floor(minutes / 60)}h`;
}
