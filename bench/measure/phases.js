// 8. Where a TLS connection's time goes (issue 13). Each sample is a fresh Node process
// (bench/lib/connect-probe.cjs) that opens one connection the way pglock does and runs one query,
// timing each phase; the variants switch one lever each (no-delay, the CA store, direct TLS), so
// the table shows what each is worth. Medians of `runs` samples per variant, alternating.
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { start } from '../lib/processes.js';
import { rotate } from '../lib/rounds.js';
import { median } from '../lib/stats.js';

const PROBE = fileURLToPath(new URL('../lib/connect-probe.cjs', import.meta.url));
const POSTGRES = createRequire(import.meta.url).resolve('postgres');

export async function measurePhases({ url, tlsUrl, directTls, env, node = process.execPath, config, progress }) {
  const problems = [];
  if (!tlsUrl) return { summary: {}, problems: ['phases: no TLS server (--servers without tls)'] };
  const variants = { plain: url, tls: tlsUrl, 'tls-nagle': tlsUrl, 'tls-castore': tlsUrl, ...(directTls ? { 'tls-direct': tlsUrl } : {}) };
  const names = Object.keys(variants);
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < config.warmups + config.runs; round++) {
    for (const name of rotate(names, round)) {
      const run = start(node, [PROBE, variants[name], name, POSTGRES], { env, captureStderr: true, captureStdout: true });
      const exit = await run.exited;
      await run.closed;
      if (exit.code !== 0) problems.push(`phases ${name}: exit ${exit.code}: ${exit.stderr}`);
      else if (round >= config.warmups) samples[name].push(JSON.parse(exit.stdout));
    }
    progress(`phases: round ${round + 1}/${config.warmups + config.runs}`);
  }
  const summary = {};
  for (const name of names) {
    const pick = (key) => (samples[name].some((s) => s[key] !== undefined) ? median(samples[name].map((s) => s[key])) : undefined);
    summary[name] = { loaded: pick('loaded'), tcp: pick('tcp'), sslRequest: pick('sslRequest'), tlsLoaded: pick('tlsLoaded'), tls: pick('tls'), query: pick('query') };
  }
  return { samples, summary, problems };
}
