import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export type Lookup = { found: true; path: string } | { found: false; errno: 'ENOENT' | 'EACCES' };

// Resolve a command the way execvp does, so that "not found" (127) and "not executable" (126)
// are reported by pglock itself before anything is spawned.
export function findExecutable(file: string, pathVariable: string | undefined): Lookup {
  if (file.includes('/')) return check(file) ?? { found: false, errno: exists(file) ? 'EACCES' : 'ENOENT' };
  let sawNonExecutable = false;
  for (const dir of (pathVariable ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const candidate = join(dir || '.', file);
    const hit = check(candidate);
    if (hit) return hit;
    if (exists(candidate)) sawNonExecutable = true;
  }
  return { found: false, errno: sawNonExecutable ? 'EACCES' : 'ENOENT' };
}

// A missing file is the common case in a PATH search: asked not to throw for it, statSync spares
// building an error with a stack trace per directory.
function check(path: string): Lookup | undefined {
  try {
    if (!statSync(path, { throwIfNoEntry: false })?.isFile()) return undefined;
    accessSync(path, constants.X_OK);
    return { found: true, path };
  } catch {
    return undefined;
  }
}

function exists(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}
