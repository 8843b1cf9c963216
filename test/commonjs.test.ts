// The package from CommonJS (issue 28): a project made by `npm init -y` (no "type": "module")
// require()s pglock and uses it. Node 20.19+ and 22.12+ load an ES module with require(); the
// exports map must offer the package to require() too. The consumer is a fixture, linked to this
// checkout as node_modules/pglock, as an installed package would be.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { FIXTURES, PGLOCK_BIN, cleanEnv } from './helpers/run-pglock.js';
import { startTestServer, uniqueKey } from './helpers/server.js';

const server = await startTestServer(t);

t.test('require("pglock") from a CommonJS project: withLock works', async (t) => {
  const project = mkdtempSync(join(tmpdir(), 'pglock-cjs-'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'cjs-app', version: '1.0.0', main: 'index.js' }));
  mkdirSync(join(project, 'node_modules'));
  symlinkSync(dirname(dirname(PGLOCK_BIN)), join(project, 'node_modules', 'pglock'), 'dir');
  copyFileSync(join(FIXTURES, 'commonjs-consumer', 'index.cjs'), join(project, 'index.js'));
  const key = uniqueKey('cjs');
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['index.js', key], {
    cwd: project, env: cleanEnv({ DATABASE_URL: server.url }), encoding: 'utf8',
  }).catch((error: { stdout: string; stderr: string }) => error);
  t.match(stdout, new RegExp(`^commonjs: '${key}' \\(id -?\\d+\\) held, select 1 gave 1; id -?\\d+; busy exits 75; LockBusyError is function\\n$`), stderr);
});
