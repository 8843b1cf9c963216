import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from './config.js';
import { homeDir } from './service.js';

// The password file, as libpq reads it (~/.pgpass, or PGPASSFILE / passfile): lines of
// hostname:port:database:username:password, each of the first four a value or '*' (anything);
// '\:' and '\\' escape a colon and a backslash; lines starting with '#' are comments. The first
// matching line wins. A file that group or others may read is ignored, with a warning, as libpq
// does; so is a file that is not a plain file. Used only when no password was given otherwise.

/** What the password file says for one server, and any warning about the file. */
export interface PasswordLookup {
  password?: string;
  warning?: string;
}

export function passwordFilePath(passfile: string | undefined, env: Env): string {
  return passfile || join(homeDir(env), '.pgpass');
}

/**
 * The password for `user` on database `database` at `host` (a name, an address, or a socket
 * directory, which matches the entry `localhost`) and `port`.
 */
export function passwordFromFile(file: string, host: string, port: number, database: string, user: string): PasswordLookup {
  let text: string;
  try {
    const stat = statSync(file, { throwIfNoEntry: false });
    if (stat === undefined) return {}; // no file: nothing to say
    if (!stat.isFile()) return { warning: `password file ${file} is not a plain file; ignoring it` };
    if ((stat.mode & 0o077) !== 0) {
      return { warning: `password file ${file} has group or world access; permissions should be u=rw (0600) or less; ignoring it` };
    }
    text = readFileSync(file, 'utf8');
  } catch {
    return {}; // no file: nothing to say
  }
  const hostName = host === '' || host.startsWith('/') ? 'localhost' : host;
  const wanted = [hostName, String(port), database, user];
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const fields = splitFields(line);
    if (fields.length < 5) continue;
    if (wanted.every((value, i) => fields[i] === '*' || fields[i] === value)) return { password: fields[4]! };
  }
  return {};
}

// Split at unescaped colons, undoing the escapes. The password is the fifth field: like libpq, it
// ends at the next unescaped colon.
function splitFields(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) {
      field += line[++i];
    } else if (c === ':') {
      fields.push(field);
      field = '';
    } else {
      field += c;
    }
  }
  fields.push(field);
  return fields;
}
