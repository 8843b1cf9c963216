import { accessSync, constants, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../../errors.js';

// --output FILE: the report is written to a temporary file beside FILE, then renamed over it, so a
// reader (node_exporter's textfile collector) never sees half a file.

/** Fail early, before connecting, when FILE's directory cannot be written: one line, 64. */
export function checkOutputWritable(file: string): void {
  try {
    accessSync(dirname(file), constants.W_OK);
  } catch (error) {
    throw new UsageError(`--output: cannot write ${file}: ${describe(error)}`, { cause: error });
  }
}

/** Write `text` to `file` atomically (a temporary file in the same directory, then rename). */
export function writeAtomically(file: string, text: string): void {
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, text, { mode: 0o644 });
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new UsageError(`--output: cannot write ${file}: ${describe(error)}`, { cause: error });
  }
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return code ?? (error instanceof Error ? error.message : String(error));
}
