import { readFileSync } from 'node:fs';

declare const PGLOCK_VERSION: string | undefined;

// The bundled bin has the version inlined at build time; the unbundled build reads package.json.
export function readVersion(): string {
  if (typeof PGLOCK_VERSION === 'string') return PGLOCK_VERSION;
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
