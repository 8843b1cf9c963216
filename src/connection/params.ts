import { UsageError } from '../errors.js';
import type { Env } from './config.js';
import { parseKeywordValue } from './keyword-value.js';
import { ENV_KEYWORDS, type Params } from './keywords.js';
import { parseDatabaseUrl } from './url.js';

/**
 * A connection string as libpq reads one: a postgres:// or postgresql:// URL, or keyword/value
 * pairs (`host=db port=5432 dbname=app`); a bare word is a database name, as psql's -d takes it.
 */
export function parseConnectionString(text: string): Params {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return parseDatabaseUrl(text);
  if (text.includes('=')) return parseKeywordValue(text);
  const word = text.trim();
  if (word === '' || /\s/.test(word)) throw new UsageError('the connection string is neither a postgres:// URL nor keyword=value pairs (not shown: it may contain a password)');
  return new Map([['dbname', word]]);
}

/** The parameters the libpq environment variables give (empty values count as unset). */
export function envParams(env: Env): Params {
  const params: Params = new Map();
  for (const [name, keyword] of ENV_KEYWORDS) {
    const value = env[name];
    if (value !== undefined && value !== '') params.set(keyword, value);
  }
  return params;
}

/** `base` with every keyword it lacks taken from `fallback` (explicit settings win). */
export function withDefaults(base: Params, fallback: Params): Params {
  const merged = new Map(base);
  for (const [keyword, value] of fallback) if (!merged.has(keyword)) merged.set(keyword, value);
  return merged;
}
