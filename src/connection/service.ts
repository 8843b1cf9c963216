import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Env } from './config.js';
import { LIBPQ_KEYWORDS, type Params } from './keywords.js';

// Connection service files, as libpq reads them (pg_service.conf): INI-style sections, one per
// service, of keyword=value lines. A service is looked up in PGSERVICEFILE (else
// ~/.pg_service.conf); only if it is not there, in PGSYSCONFDIR/pg_service.conf (else the
// directory Debian's and Ubuntu's libpq use, /etc/postgresql-common).

export const DEFAULT_SYSCONFDIR = '/etc/postgresql-common';

/** The files a service is looked up in, in order. */
export function serviceFiles(env: Env): string[] {
  const user = env.PGSERVICEFILE || join(homeDir(env), '.pg_service.conf');
  return [user, join(env.PGSYSCONFDIR || DEFAULT_SYSCONFDIR, 'pg_service.conf')];
}

/** The parameters of service `name`, from the first file that defines it; a usage error if none does. */
export function serviceParams(name: string, env: Env): { params: Params; file: string } {
  const files = serviceFiles(env);
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // a missing or unreadable file is skipped, as in libpq
    }
    const params = findService(text, name, file);
    if (params) return { params, file };
  }
  throw new UsageError(`definition of service '${printable(name)}' not found (looked in ${files.join(' and ')})`);
}

function findService(text: string, name: string, file: string): Params | undefined {
  let inService = false;
  let found: Params | undefined;
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      if (found) return found; // the service's section ended
      const end = line.indexOf(']');
      inService = end > 0 && line.slice(1, end) === name;
      if (inService) found = new Map();
      continue;
    }
    if (!inService) continue;
    const eq = line.indexOf('=');
    const keyword = eq < 0 ? '' : line.slice(0, eq);
    const where = `service file ${file}, line ${n + 1}`;
    if (eq < 0) throw new UsageError(`syntax error in ${where}: no "=" (not shown: it may hold a password)`);
    if (keyword === 'service') throw new UsageError(`nested service specifications are not supported (${where})`);
    if (!LIBPQ_KEYWORDS.has(keyword)) throw new UsageError(`syntax error in ${where}: unknown keyword (not shown: it may hold a password)`);
    // The first setting of a keyword counts, as in libpq.
    if (!found!.has(keyword)) found!.set(keyword, line.slice(eq + 1));
  }
  return found;
}

export function homeDir(env: Env): string {
  if (env.HOME) return env.HOME;
  try {
    return homedir();
  } catch {
    return '/';
  }
}

function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, '?');
}
