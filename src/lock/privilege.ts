import { PermissionError } from '../errors.js';

// A role without EXECUTE on the advisory-lock functions (someone revoked it from PUBLIC) gets
// PostgreSQL's 42501 "permission denied for function pg_try_advisory_lock". That is not a
// connection failure and no retry mends it: say what is missing, and the GRANT that fixes it
// (issue 28). The GRANT names every function of the denied one's kind that pglock calls, so one
// statement is enough.

const SESSION = ['pg_try_advisory_lock', 'pg_advisory_lock', 'pg_advisory_unlock'];
const TRANSACTION = ['pg_try_advisory_xact_lock', 'pg_advisory_xact_lock'];
const DENIED = /permission denied for function (pg_(?:try_)?advisory_\w+)/;

/** A PermissionError (exit 77) for PostgreSQL's refusal to run an advisory-lock function, else undefined. */
export function permissionErrorFor(error: unknown, role: string | undefined): PermissionError | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== '42501' || typeof message !== 'string') return undefined;
  const fn = DENIED.exec(message)?.[1];
  if (fn === undefined) return undefined;
  const who = role === undefined ? 'this role' : `the role ${quoteIdentifier(role)}`;
  return new PermissionError(
    `${who} may not call pg_catalog.${fn} (${message}, 42501): pglock needs EXECUTE on the advisory-lock functions; ` +
      `as a superuser, run: ${grantFor(fn, role)}`,
    { cause: error },
  );
}

/** The GRANT that lets `role` call the denied function and its kin (shared or not, as denied). */
export function grantFor(fn: string, role: string | undefined): string {
  const shared = fn.endsWith('_shared') ? '_shared' : '';
  const kin = fn.includes('_xact_') ? TRANSACTION : SESSION;
  const functions = kin.map((name) => `pg_catalog.${name}${shared}(bigint)`).join(', ');
  return `grant execute on function ${functions} to ${role === undefined ? '<role>' : quoteIdentifier(role)};`;
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
