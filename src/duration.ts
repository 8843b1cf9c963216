import { UsageError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

// Parse a duration such as `500ms`, `30s`, `5m`, `1h`, `1d`, `1m30s`, or a bare number of seconds.
// Returns milliseconds. `flag` names the option in the error message. Timers cap it at about 24.8
// days (2³¹ − 1 ms); a duration that is no timer (a minimum interval) may pass a larger `maxMs`.
export function parseDuration(text: string, flag: string, maxMs = 2 ** 31 - 1): number {
  const input = text.trim();
  const fail = (): never => {
    throw new UsageError(`${flag} takes a duration such as 500ms, 30s, 5m, 1h or 1d, up to ${formatDuration(maxMs)}, got '${text}'`);
  };
  if (input === '') fail();
  if (/^\d+(?:\.\d+)?$/.test(input)) return toWholeMs(Number(input) * 1000, maxMs, fail);
  let total = 0;
  let end = 0;
  PART.lastIndex = 0;
  for (let match = PART.exec(input); match; match = PART.exec(input)) {
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
    end = PART.lastIndex;
  }
  if (end !== input.length) fail();
  return toWholeMs(total, maxMs, fail);
}

function toWholeMs(ms: number, maxMs: number, fail: () => never): number {
  if (!Number.isFinite(ms) || ms > maxMs) fail();
  return Math.round(ms);
}

/** Format milliseconds for messages: 500ms, 1.5s, 2m, 1h5m, 3d4h. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  if (minutes < 60) return seconds ? `${minutes}m${seconds}s` : `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours >= 48) return hours % 24 ? `${Math.floor(hours / 24)}d${hours % 24}h` : `${hours / 24}d`;
  const rest = minutes % 60;
  return rest ? `${hours}h${rest}m` : `${hours}h`;
}
