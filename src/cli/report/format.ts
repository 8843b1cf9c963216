import { formatDuration } from '../../duration.js';
import { displayKey } from '../../key/display-key.js';

// How the reports show text to people: one place for the escaping, the tables and the times.
// Outside the CLI, src/connection/service.ts and src/runs/read.ts have copies of `printable` (the
// library cannot import from src/cli, which the package leaves out), and
// src/connection/application-name.ts has its own rule (application_name keeps printable ASCII only).

/** Keys and names are shown on one line: control characters become '?'. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, '?');
}

/** How a report names the lock: `'<key>'` (escaped, a long one cut: key/display-key.ts), or `lock id <id>`. */
export function formatLockLabel(key: string | undefined, lockId: bigint): string {
  return key === undefined ? `lock id ${lockId}` : `'${displayKey(key)}'`;
}

/** An ISO time to the second: 2024-05-01T10:00:00Z. */
export function formatTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}

/** How long ago, then when: `5m ago (2024-05-01T10:00:00Z)`. */
export function formatAgo(ageMs: number, iso: string): string {
  return `${formatDuration(ageMs)} ago (${formatTime(iso)})`;
}

/** Aligned columns, two spaces apart; the last column is not padded. One string per row. */
export function alignColumns(rows: readonly (readonly string[])[]): string[] {
  const widths = (rows[0] ?? []).map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
}
