import { UsageError } from '../errors.js';
import { LIBPQ_KEYWORDS, type Params } from './keywords.js';

// libpq's keyword/value connection strings: `host=db port=5432 user=cron dbname=app`. Spaces
// separate pairs and may surround '='; a value is either unquoted (up to the next space) or in
// single quotes ('a value'); in both, a backslash takes the next character as it is (\' and \\).
// Errors name the keyword at most, never a value: a value may be a password.
export function parseKeywordValue(text: string): Params {
  const params: Params = new Map();
  let i = 0;
  const space = (c: string | undefined) => c !== undefined && /\s/.test(c);
  while (i < text.length) {
    while (space(text[i])) i++;
    if (i >= text.length) break;
    const start = i;
    while (i < text.length && text[i] !== '=' && !space(text[i])) i++;
    const keyword = text.slice(start, i);
    while (space(text[i])) i++;
    if (text[i] !== '=') throw new UsageError(`the connection string is malformed: missing "=" after ${describe(keyword)}`);
    i++;
    while (space(text[i])) i++;
    let value = '';
    if (text[i] === "'") {
      i++;
      for (;;) {
        if (i >= text.length) throw new UsageError(`the connection string is malformed: the quoted value of ${describe(keyword)} has no closing quote`);
        const c = text[i]!;
        if (c === '\\' && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else if (c === "'") {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
    } else {
      while (i < text.length && !space(text[i])) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i];
        i++;
      }
    }
    if (keyword === '') throw new UsageError('the connection string is malformed: a "=" without a keyword before it');
    params.set(keyword, value);
  }
  return params;
}

// Only a keyword libpq knows is named: a stray word may be a password.
function describe(keyword: string): string {
  return LIBPQ_KEYWORDS.has(keyword) ? `"${keyword}"` : 'a word (not shown: it may be a password)';
}
