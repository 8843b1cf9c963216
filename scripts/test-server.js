#!/usr/bin/env node
// A throwaway PostgreSQL for shell scripts (the Docker and package checks in .ci/run): prints one
// JSON line {"url","host","port","socketDir","password"} on stdout once the server accepts
// connections, and stops and deletes the server when stdin closes or on SIGTERM/SIGINT.
//   node scripts/test-server.js [--listen 127.0.0.1] [--max-connections 200]
import { parseArgs } from 'node:util';
import { createCluster } from './lib/throwaway-postgres.js';

const { values } = parseArgs({ options: { listen: { type: 'string' }, 'max-connections': { type: 'string' } } });
try {
  const cluster = await createCluster({
    label: 'script',
    ...(values.listen ? { listen: values.listen } : {}),
    settings: values['max-connections'] ? { max_connections: Number(values['max-connections']) } : {},
  });
  const stop = async () => {
    await cluster.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('close', stop).resume();
  await cluster.start();
  const { url, host, port, socketDir, password } = cluster;
  process.stdout.write(`${JSON.stringify({ url, host, port, socketDir, password })}\n`);
} catch (error) {
  process.stderr.write(`test-server: ${error.message}\n`);
  process.exit(1);
}
