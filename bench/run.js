#!/usr/bin/env node
// `npm run bench`: pglock side by side with its floors (a bare `node` start-up, flock) and its
// peer (withlock from advisory-lock), all in one run against one throwaway PostgreSQL.
// Prints a table and the goal checks to stdout (progress goes to stderr) and writes the raw
// samples to bench/results/<timestamp>.json and bench/results/latest.json.
//
//   node bench/run.js [--quick] [--only run-once,handoff,contention,rss,scale,budget,skip]
//
// Exit code: 0 when every measurement ran correctly (goals are reported, not enforced), 1 when a
// correctness check failed (a bad exit code, a missing or overlapping critical section) or a
// measurement could not run, 2 for bad flags, 130/143 when interrupted.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, type } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { killAll, stopAll } from './lib/processes.js';
import { checkGoals, formatGoals, formatTable, tableRows } from './lib/report.js';
import { BenchServer } from './lib/server.js';
import { PGLOCK_BIN, lockTools, toolEnv, toolVersions } from './lib/tools.js';
import { measureContention } from './measure/contention.js';
import { measureHandoff } from './measure/handoff.js';
import { measureRss } from './measure/rss.js';
import { measureRunOnce } from './measure/run-once.js';
import { measureScale } from './measure/scale.js';
import { measureBudget } from './measure/budget.js';
import { measureSkip } from './measure/skip.js';

const MEASUREMENTS = {
  'run-once': measureRunOnce,
  handoff: measureHandoff,
  contention: measureContention,
  rss: measureRss,
  scale: measureScale,
  budget: measureBudget,
  skip: measureSkip,
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
};
const QUICK = {
  'run-once': { runs: 5, warmups: 1 },
  handoff: { pairs: 3, warmups: 1 },
  contention: { count: 20, reps: 1 },
  rss: { runs: 1, sampleAtMs: 700 },
  scale: { count: 50, tools: ['pglock'] },
  budget: { count: 20, roleLimit: 8, sectionSeconds: '0.3' },
  skip: { runs: 3, warmups: 1 },
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
// On a signal the cleanup that matters is done synchronously first: the server harness has its own
// signal hook, which stops the server (deleting its data directory) before ours runs.
let interrupted;
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.once(signal, () => {
    interrupted = { signal, code };
    progress(`${signal}: stopping the tools and the server`);
    stopAll();
    rmSync(scratch, { recursive: true, force: true });
    server.close().finally(() => process.exit(code));
  });
}

const results = {};
const problems = [];
try {
  progress('starting a throwaway PostgreSQL');
  try {
    await server.start();
  } catch (error) {
    console.error(`bench: could not start the throwaway PostgreSQL: ${error?.message ?? error}`);
    throw error;
  }
  const env = toolEnv();
  const tools = lockTools({ url: server.url, lockDir: scratch });
  if (!tools.flock) progress('flock not found at /usr/bin/flock: its column stays empty');
  const context = { tools, env, url: server.url, admin: server.admin, maxConnections: server.maxConnections, dir: scratch, progress };

  for (const name of options.only) {
    try {
      results[name] = await MEASUREMENTS[name]({ ...context, config: options.config[name] });
      problems.push(...results[name].problems);
    } catch (error) {
      results[name] = { error: error.message };
      problems.push(`${name}: could not run: ${error.message}`);
    } finally {
      killAll(); // whatever a failed measurement left behind must not disturb the next one
    }
  }
} finally {
  stopAll();
  await server.close();
  rmSync(scratch, { recursive: true, force: true });
}
// Interrupted: the measurements were cut short, so there is nothing worth reporting.
if (interrupted) process.exit(interrupted.code);

const machine = describeMachine(server);
const goals = checkGoals(results);
report({ machine, results, goals, problems });
saveResults({ machine, results, goals, problems });
process.exit(problems.length > 0 ? 1 : 0);

function readOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { quick: { type: 'boolean' }, only: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (error) {
    usage(error.message);
  }
  if (parsed.values.help) usage();
  const asked = parsed.values.only?.split(',').map((s) => s.trim()).filter(Boolean) ?? Object.keys(MEASUREMENTS);
  const unknown = asked.filter((name) => !MEASUREMENTS[name]);
  if (unknown.length > 0 || asked.length === 0) usage(`unknown measurement(s): ${unknown.join(', ') || '(none given)'}`);
  // Always in the canonical order, whatever order --only lists them in.
  const only = Object.keys(MEASUREMENTS).filter((name) => asked.includes(name));
  return { quick: parsed.values.quick === true, only, config: parsed.values.quick ? QUICK : FULL };
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
  const text = `usage: node bench/run.js [--quick] [--only ${Object.keys(MEASUREMENTS).join(',')}]`;
  if (error) {
    console.error(`bench: ${error}\n${text}`);
    process.exit(2);
  }
  console.log(text);
  process.exit(0);
}

function describeMachine({ version, maxConnections }) {
  const cores = cpus();
  return {
    cpus: cores.length,
    cpuModel: cores[0]?.model.trim() ?? 'unknown',
    os: `${type()} ${release()}`,
    node: process.version,
    postgres: version,
    maxConnections,
    tools: versions,
    loadAverage: { atStart: loadAtStart, atEnd: loadavg()[0] },
    // Node reads and parses this CA bundle at every start, before any script runs: it moves the
    // node -e 0 floor, and every Node-based tool with it.
    nodeExtraCaCerts: process.env.NODE_EXTRA_CA_CERTS ?? null,
  };
}

function report({ machine, results, goals, problems }) {
  const mode = options.quick ? 'quick' : 'full';
  console.log(`\npglock bench (${mode}): ${options.only.join(', ')}`);
  console.log(`machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.os}, node ${machine.node}, ` +
    `PostgreSQL ${machine.postgres} (max_connections ${machine.maxConnections})`);
  console.log(`tools: ${Object.entries(machine.tools).map(([name, version]) => `${name} ${version}`).join(', ')}`);
  if (machine.nodeExtraCaCerts) {
    console.log(`note: NODE_EXTRA_CA_CERTS=${machine.nodeExtraCaCerts} is set: every Node start parses it, which raises ` +
      'node -e 0, withlock and pglock alike');
  }
  if (machine.loadAverage.atStart > machine.cpus) {
    console.log(`note: the 1-minute load average was ${machine.loadAverage.atStart.toFixed(1)} at the start (other work, ` +
      'or a previous run still decaying): the timings may be noisier than usual');
  }
  console.log(`\n${formatTable(tableRows(results))}`);
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
