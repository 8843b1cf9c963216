import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { SslSetting } from './config.js';

// libpq's sslmode values, mapped onto what postgres.js understands.
export function sslSetting(mode: string, rootCertPath: string | undefined): SslSetting {
  const ca = () => (rootCertPath && rootCertPath !== 'system' ? { ca: readRootCert(rootCertPath) } : {});
  switch (mode) {
    case 'disable':
      return false;
    case 'allow':
    case 'prefer':
      return 'prefer';
    case 'require':
      return 'require';
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined, ...ca() };
    case 'verify-full':
      return { rejectUnauthorized: true, ...ca() };
    default:
      throw new UsageError(`sslmode must be disable, allow, prefer, require, verify-ca or verify-full, got '${mode}'`);
  }
}

function readRootCert(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read sslrootcert '${path}': ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
