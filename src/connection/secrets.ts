import type { ConnectionConfig } from './config.js';

/**
 * Passwords written in a connection string, so that output can mask them: a URL's
 * user:password@host, and password= / sslpassword= in keyword/value pairs or a URL's query.
 */
export function passwordsIn(text: string | undefined): string[] {
  if (!text) return [];
  const fromUrl = [...text.matchAll(/:\/\/[^\s:/@]*:([^\s@]*)@/g)].map((match) => match[1] ?? '');
  const fromQuery = [...text.matchAll(/[?&](?:ssl)?password=([^&\s]*)/g)].map((match) => match[1] ?? '');
  const fromPairs = [...text.matchAll(/(?:^|\s)(?:ssl)?password\s*=\s*('(?:[^'\\]|\\.)*'?|\S+)/g)].map((match) => unquote(match[1] ?? ''));
  return [...fromUrl, ...fromQuery].flatMap((raw) => [safeDecode(raw), raw]).concat(fromPairs);
}

/** Every secret a resolved connection holds: passwords (given, or from the password file) and the key passphrase. */
export function secretsOf(config: ConnectionConfig): string[] {
  const passphrase = typeof config.ssl === 'object' && typeof config.ssl.passphrase === 'string' ? [config.ssl.passphrase] : [];
  return [config.password, ...(config.hosts ?? []).map((spec) => spec.password), ...passphrase].filter((s): s is string => !!s);
}

function unquote(value: string): string {
  const inner = value.startsWith("'") ? value.slice(1, value.endsWith("'") && value.length > 1 ? -1 : undefined) : value;
  return inner.replace(/\\(.)/g, '$1');
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
