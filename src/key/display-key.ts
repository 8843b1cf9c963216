// How a key appears in a line meant for people (issue 28): control characters escaped, so that a
// key cannot break a log line in two or move a terminal's cursor, and a long key cut to a prefix,
// so that a 64 KiB key does not fill the screen (the id that follows it names the lock exactly).
// Machine-readable output (JSON, PGLOCK_KEY, the run record) keeps the key whole.

/** Keys longer than this many characters are shown as their first SHOWN_PREFIX characters and `…`. */
export const SHOWN_MAX = 80;
export const SHOWN_PREFIX = 64;

// C0 and C1 controls, DEL, the line and paragraph separators, and the bidirectional overrides and
// isolates (which reorder what follows them on a terminal).
const CONTROL = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Control characters as `\n`, `\t`, `\r`, `\xHH` or `\uHHHH`; everything else as it is. */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => NAMED[c] ?? escapeCode(c.codePointAt(0)!));
}

/** The key for a human-readable line: escaped, and cut to a prefix with `…` when long. */
export function displayKey(key: string): string {
  if (key.length <= SHOWN_MAX) return escapeControls(key);
  const chars = Array.from(key);
  if (chars.length <= SHOWN_MAX) return escapeControls(key);
  return `${escapeControls(chars.slice(0, SHOWN_PREFIX).join(''))}…`;
}

/** Whether displayKey shows only a prefix of the key. */
export function isShortened(key: string): boolean {
  return key.length > SHOWN_MAX && Array.from(key).length > SHOWN_MAX;
}

function escapeCode(code: number): string {
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}
