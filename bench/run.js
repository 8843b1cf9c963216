#!/usr/bin/env node
// `npm run bench`: pglock side by side with its floors (a bare `node` start-up, flock) and its
// peer (withlock from advisory-lock), all in one run, as users run them: without
// NODE_EXTRA_CA_CERTS, on Node 20, 22 and 24, against two throwaway PostgreSQL servers, one over
// plain TCP and one with TLS (sslmode prefer, pglock's default; certificates minted with openssl).
// run-once, handoff, contention and rss run for every Node × server; scale, budget and skip once
// (this node, plain). Prints the tables and the goal checks to stdout (progress goes to stderr) and
// writes the raw samples to bench/results/<timestamp>.json and bench/results/latest.json.
//
//   node bench/run.js [--quick] [--only run-once,handoff,contention,rss,scale,budget,skip,phases,library]
//                     [--nodes 20,22,24] [--servers plain,tls]
//
// Exit code: 0 when every measurement ran correctly (goals are reported, not enforced), 1 when a
// correctness check failed (a bad exit code, a missing or overlapping critical section) or a
// measurement could not run, 2 for bad flags, 130/143 when interrupted.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, type } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mintServerCertificate } from './lib/certificates.js';
import { DEFAULT_MAJORS, resolveNodes } from './lib/nodes.js';
import { killAll, stopAll } from './lib/processes.js';
import { checkGoals, formatConnectionPhases, formatGoals, formatNewBackend, formatPlacement, formatWarmSplit, formatLibraryComparison, formatMatrix, formatTable, libraryComparisonRows, matrixRows, tableRows } from './lib/report.js';
import { BenchServer } from './lib/server.js';
import { PGLOCK_BIN, lockTools, toolEnv, toolVersions } from './lib/tools.js';
import { measureContention } from './measure/contention.js';
import { measureHandoff } from './measure/handoff.js';
import { measureRss } from './measure/rss.js';
import { measureRunOnce } from './measure/run-once.js';
import { measureScale } from './measure/scale.js';
import { measureBudget } from './measure/budget.js';
import { measureSkip } from './measure/skip.js';
import { measurePhases } from './measure/phases.js';
import { measureLibrary } from './measure/library.js';

// Measured for every Node × server; the others once.
const PER_CELL = new Set(['run-once', 'handoff', 'contention', 'rss']);
const MEASUREMENTS = {
  'run-once': measureRunOnce,
  handoff: measureHandoff,
  contention: measureContention,
  rss: measureRss,
  scale: measureScale,
  budget: measureBudget,
  skip: measureSkip,
  phases: measurePhases,
  library: measureLibrary,
};

// Sizes: the full run takes about three minutes on 2 cores (budget alone about one); --quick is a
// smoke check.
const FULL = {
  'run-once': { runs: 21, warmups: 3 },
  handoff: { pairs: 11, warmups: 1 },
  contention: { count: 50, reps: 3 },
  rss: { runs: 3, sampleAtMs: 700 },
  scale: { count: 300, tools: ['pglock', 'withlock'] },
  budget: { count: 60, roleLimit: 20, sectionSeconds: '0.3' },
  skip: { runs: 15, warmups: 2 },
  phases: { runs: 15, warmups: 2 },
  library: { count: 2000, slowCount: 50, peerCount: 100, costCount: 50, handovers: 40, warmups: 20 },
};
const QUICK = {
  'run-once': { runs: 5, warmups: 1 },
  handoff: { pairs: 3, warmups: 1 },
  contention: { count: 20, reps: 1 },
  rss: { runs: 1, sampleAtMs: 700 },
  scale: { count: 50, tools: ['pglock'] },
  budget: { count: 20, roleLimit: 8, sectionSeconds: '0.3' },
  skip: { runs: 3, warmups: 1 },
  phases: { runs: 3, warmups: 1 },
  library: { count: 200, slowCount: 10, peerCount: 20, costCount: 10, handovers: 8, warmups: 5 },
};

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const options = readOptions(process.argv.slice(2));
const began = Date.now();
// Other work on the machine skews every number; the load average at the start is kept as a hint.
const loadAtStart = loadavg()[0];
const progress = (text) => process.stderr.write(`[${((Date.now() - began) / 1000).toFixed(1).padStart(5)}s] ${text}\n`);

const versions = readToolVersions();

const scratch = mkdtempSync(join(tmpdir(), 'pglock-bench-'));
const server = new BenchServer();
const tlsServer = options.servers.includes('tls') ? new BenchServer({ tls: mintServerCertificate() }) : undefined;
// On a signal the cleanup that matters is done synchronously first: the server harness has its own
// signal hook, which stops the server (deleting its data directory) before ours runs.
let interrupted;
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.once(signal, () => {
    interrupted = { signal, code };
    progress(`${signal}: stopping the tools and the server`);
    stopAll();
    rmSync(scratch, { recursive: true, force: true });
    Promise.all([server.close(), tlsServer?.close()]).finally(() => process.exit(code));
  });
}

const results = { cells: {} };
const problems = [];
let nodes = [];
let skippedNodes = [];
try {
  ({ nodes, skipped: skippedNodes } = resolveNodes(options.nodes, progress));
  for (const reason of skippedNodes) progress(`skipping ${reason}`);
  progress('starting the throwaway PostgreSQL servers');
  try {
    await Promise.all([server.start(), tlsServer?.start()]);
  } catch (error) {
    console.error(`bench: could not start a throwaway PostgreSQL: ${error?.message ?? error}`);
    throw error;
  }
  const servers = [
    ...(options.servers.includes('plain') ? [{ name: 'plain', server }] : []),
    ...(tlsServer ? [{ name: 'tls', server: tlsServer }] : []),
  ];
  const own = nodes.find((node) => node.path === process.execPath) ?? nodes[0];
  const cellMeasurements = options.only.filter((name) => PER_CELL.has(name));
  for (const node of cellMeasurements.length > 0 ? nodes : []) {
    for (const { name: serverName, server: target } of servers) {
      const cell = `Node ${node.major} ${serverName}`;
      results.cells[cell] = { node: node.version, server: serverName };
      const context = makeContext(target, node);
      // Over TLS, pglock against the plain server joins the same rounds of run-once and handoff:
      // the TLS/plain goals compare runs made side by side, not cells measured minutes apart.
      if (serverName === 'tls' && options.servers.includes('plain')) context.sameRounds = { 'pglock-plain': plainPglock() };
      if (!context.tools.flock && node === nodes[0]) progress('flock not found at /usr/bin/flock: its column stays empty');
      for (const name of cellMeasurements) await measure(name, context, results.cells[cell], `${cell}: `);
    }
  }
  const single = options.only.filter((name) => !PER_CELL.has(name));
  if (single.length > 0 && own) {
    const context = { ...makeContext(server, own), tlsUrl: tlsServer?.url, directTls: Number(tlsServer?.version.split('.')[0]) >= 17 };
    for (const name of single) await measure(name, context, results, '');
  }
} finally {
  stopAll();
  await Promise.all([server.close(), tlsServer?.close()]);
  rmSync(scratch, { recursive: true, force: true });
}

function plainPglock() {
  const { pglock } = lockTools({ url: server.url, lockDir: scratch });
  return { ...pglock, name: 'pglock-plain', admin: server.admin };
}

function makeContext(target, node) {
  const env = toolEnv(node.path);
  const tools = lockTools({ url: target.url, withlockUrl: target.withlockUrl, lockDir: scratch });
  return {
    tools, env, node: node.path, url: target.url, admin: target.admin, maxConnections: target.maxConnections, dir: scratch, tls: Boolean(target.tls),
    statementStats: target.statementStats,
    progress: (text) => progress(`${node.version} ${target.tls ? 'tls' : 'plain'}: ${text}`),
  };
}

async function measure(name, context, into, label) {
  try {
    into[name] = await MEASUREMENTS[name]({ ...context, config: options.config[name] });
    problems.push(...into[name].problems.map((problem) => `${label}${problem}`));
  } catch (error) {
    into[name] = { error: error.message };
    problems.push(`${label}${name}: could not run: ${error.message}`);
  } finally {
    killAll(); // whatever a failed measurement left behind must not disturb the next one
  }
}
// Interrupted: the measurements were cut short, so there is nothing worth reporting.
if (interrupted) process.exit(interrupted.code);

const machine = describeMachine(server, nodes, skippedNodes);
const goals = checkGoals(results);
report({ machine, results, goals, problems });
saveResults({ machine, results, goals, problems });
process.exit(problems.length > 0 ? 1 : 0);

function readOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: {
      quick: { type: 'boolean' }, only: { type: 'string' }, nodes: { type: 'string' }, servers: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    } });
  } catch (error) {
    usage(error.message);
  }
  if (parsed.values.help) usage();
  const asked = parsed.values.only?.split(',').map((s) => s.trim()).filter(Boolean) ?? Object.keys(MEASUREMENTS);
  const unknown = asked.filter((name) => !MEASUREMENTS[name]);
  if (unknown.length > 0 || asked.length === 0) usage(`unknown measurement(s): ${unknown.join(', ') || '(none given)'}`);
  // Always in the canonical order, whatever order --only lists them in.
  const only = Object.keys(MEASUREMENTS).filter((name) => asked.includes(name));
  const majors = parsed.values.nodes?.split(',').map((s) => Number(s.trim())) ?? DEFAULT_MAJORS;
  if (majors.some((major) => !Number.isInteger(major) || major < 18)) usage(`--nodes takes Node major versions, e.g. 20,22,24, got '${parsed.values.nodes}'`);
  const servers = parsed.values.servers?.split(',').map((s) => s.trim()) ?? ['plain', 'tls'];
  if (servers.length === 0 || servers.some((name) => name !== 'plain' && name !== 'tls')) usage(`--servers takes plain and/or tls, got '${parsed.values.servers}'`);
  return { quick: parsed.values.quick === true, only, nodes: majors, servers, config: parsed.values.quick ? QUICK : FULL };
}

function readToolVersions() {
  try {
    return toolVersions();
  } catch (error) {
    console.error(`bench: ${PGLOCK_BIN} --version failed; run \`npm run build\` first (npm run bench does)\n${error.stderr ?? error.message}`);
    process.exit(1);
  }
}

function usage(error) {
  const text = `usage: node bench/run.js [--quick] [--only ${Object.keys(MEASUREMENTS).join(',')}] [--nodes 20,22,24] [--servers plain,tls]`;
  if (error) {
    console.error(`bench: ${error}\n${text}`);
    process.exit(2);
  }
  console.log(text);
  process.exit(0);
}

function describeMachine({ version, maxConnections }, nodeList, skipped) {
  const cores = cpus();
  return {
    cpus: cores.length,
    cpuModel: cores[0]?.model.trim() ?? 'unknown',
    os: `${type()} ${release()}`,
    node: process.version,
    nodes: nodeList.map((node) => node.version),
    skippedNodes: skipped,
    postgres: version,
    maxConnections,
    tools: versions,
    loadAverage: { atStart: loadAtStart, atEnd: loadavg()[0] },
    // Set for the bench itself on some machines (npm behind a proxy); always removed for the tools.
    nodeExtraCaCertsRemoved: process.env.NODE_EXTRA_CA_CERTS ?? null,
  };
}

function report({ machine, results, goals, problems }) {
  const mode = options.quick ? 'quick' : 'full';
  console.log(`\npglock bench (${mode}): ${options.only.join(', ')}`);
  console.log(`machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.os}, ` +
    `PostgreSQL ${machine.postgres} (max_connections ${machine.maxConnections}), servers: ${options.servers.join(' and ')} (TLS: ssl = on, the tools' default sslmode)`);
  console.log(`nodes: ${machine.nodes.join(', ')}${machine.skippedNodes.length ? `; skipped: ${machine.skippedNodes.join('; ')}` : ''}`);
  console.log(`tools: ${Object.entries(machine.tools).map(([name, version]) => `${name} ${version}`).join(', ')}`);
  console.log('environment: NODE_EXTRA_CA_CERTS and NODE_OPTIONS unset for every tool, as users run them' +
    (machine.nodeExtraCaCertsRemoved ? ` (this shell sets NODE_EXTRA_CA_CERTS=${machine.nodeExtraCaCertsRemoved})` : ''));
  if (machine.loadAverage.atStart > machine.cpus) {
    console.log(`note: the 1-minute load average was ${machine.loadAverage.atStart.toFixed(1)} at the start (other work, ` +
      'or a previous run still decaying): the timings may be noisier than usual');
  }
  const summary = matrixRows(results.cells);
  if (summary.length > 0) console.log(`\n${formatMatrix(summary)}`);
  for (const [cell, cellResults] of Object.entries(results.cells)) console.log(`\n${cell} (${cellResults.node}):\n${formatTable(tableRows(cellResults))}`);
  const rest = tableRows(results);
  if (rest.length > 0) console.log(`\n${formatTable(rest)}`);
  const compared = libraryComparisonRows(results);
  if (compared.length > 0) console.log(`\n${formatLibraryComparison(compared, results.library.costMethod)}`);
  const phases = formatConnectionPhases(results.library?.phases);
  if (phases) console.log(`\n${phases}`);
  const newBackend = formatNewBackend(results.library?.newBackend);
  if (newBackend) console.log(`\n${newBackend}`);
  const warmSplit = formatWarmSplit(results.library?.warmSplit);
  if (warmSplit) console.log(`\n${warmSplit}`);
  const placement = formatPlacement(results.library?.placement);
  if (placement) console.log(`\n${placement}`);
  console.log(`\ngoals:\n${formatGoals(goals)}`);
  if (problems.length > 0) console.log(`\ncorrectness problems (${problems.length}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  else console.log('\ncorrectness: all runs exited 0, every critical section recorded once, no overlaps');
}

function saveResults(data) {
  const dir = join(benchDir, 'results');
  mkdirSync(dir, { recursive: true });
  const finishedAt = new Date();
  const json = `${JSON.stringify({
    startedAt: new Date(began).toISOString(),
    finishedAt: finishedAt.toISOString(),
    mode: options.quick ? 'quick' : 'full',
    config: Object.fromEntries(options.only.map((name) => [name, options.config[name]])),
    ...data,
  }, null, 2)}\n`;
  // ':' is legal on Linux but awkward in shells and on other systems' checkouts.
  const file = join(dir, `${finishedAt.toISOString().replace(/:/g, '-')}.json`);
  writeFileSync(file, json);
  writeFileSync(join(dir, 'latest.json'), json);
  progress(`results written to ${file} and latest.json`);
}
