// Turns the measurements' summaries into the printed table and the goal checks. Nothing here
// measures anything; it only reads `results` (keyed by measurement name).
import { COLUMNS, LABELS } from './tools.js';

const RATIOS = [['node', 'pglock / node'], ['flock', 'pglock / flock'], ['withlock', 'pglock / withlock']];

/** One table row per reported number: { label, values: { tool: number }, digits, ratios }. */
export function tableRows(results) {
  const rows = [];
  const add = (label, pick, source, { digits = 1, ratios = true } = {}) => {
    if (!source) return;
    const values = {};
    for (const column of COLUMNS) {
      const value = source[column] === undefined ? undefined : pick(source[column]);
      if (value !== undefined) values[column] = value;
    }
    rows.push({ label, values, digits, ratios });
  };

  const once = results['run-once']?.summary;
  add('run-once wall median (ms)', (s) => s.median, once);
  add('run-once wall p90 (ms)', (s) => s.p90, once);
  add('run-once wall min (ms)', (s) => s.min, once);

  const handoff = results.handoff?.summary;
  add('handoff median (ms)', (s) => s.median, handoff);
  add('handoff p90 (ms)', (s) => s.p90, handoff);
  add('handoff min (ms)', (s) => s.min, handoff);

  const contention = results.contention;
  const n = contention?.count;
  add(`contention ${n} wall median (ms)`, (s) => s.wallMs.median, contention?.summary, { digits: 0 });
  add(`contention ${n} gap median (ms)`, (s) => s.gapMs, contention?.summary, { digits: 2 });
  add(`contention ${n} sections (min)`, (s) => s.sections, contention?.summary, { digits: 0, ratios: false });
  add(`contention ${n} overlaps (max)`, (s) => s.overlaps, contention?.summary, { digits: 0, ratios: false });

  const rss = results.rss?.summary;
  add('peak RSS VmHWM max (MiB)', (s) => s.hwmMiB, rss);
  add('RSS VmRSS at 700 ms max (MiB)', (s) => s.rssMiB, rss);

  const scale = results.scale;
  const m = scale?.count;
  add(`scale ${m} wall (ms)`, (s) => s.wallMs, scale?.summary, { digits: 0 });
  add(`scale ${m} queue-up (ms)`, (s) => s.queueUpMs, scale?.summary, { digits: 0 });
  add(`scale ${m} drain (ms)`, (s) => s.drainMs, scale?.summary, { digits: 0 });
  add(`scale ${m} queued at release`, (s) => s.queuedAtRelease, scale?.summary, { digits: 0, ratios: false });
  add(`scale ${m} sections`, (s) => s.sections, scale?.summary, { digits: 0, ratios: false });
  add(`scale ${m} overlaps`, (s) => s.overlaps, scale?.summary, { digits: 0, ratios: false });
  add(`scale ${m} peak backends (incl. gate)`, (s) => s.peakBackends, scale?.summary, { digits: 0, ratios: false });

  // pglock only: waiters beyond the connection budget (a role with a CONNECTION LIMIT).
  const budget = results.budget;
  const b = `budget ${budget?.count} (limit ${budget?.roleLimit})`;
  const count = { digits: 0, ratios: false };
  add(`${b} wall (ms)`, (s) => s.wallMs, budget?.summary, count);
  add(`${b} queue-up (ms)`, (s) => s.queueUpMs, budget?.summary, count);
  add(`${b} drain (ms)`, (s) => s.drainMs, budget?.summary, count);
  add(`${b} polled for a slot`, (s) => s.polled, budget?.summary, count);
  add(`${b} longest poll (ms)`, (s) => s.longestPollMs, budget?.summary, count);
  add(`${b} failed connection tries`, (s) => s.failedAttempts, budget?.summary, count);
  add(`${b} exit 0`, (s) => s.exitedZero, budget?.summary, count);
  add(`${b} exit 69`, (s) => s.exited69, budget?.summary, count);
  add(`${b} overlaps`, (s) => s.overlaps, budget?.summary, count);
  add(`${b} peak role sessions`, (s) => s.peakRoleSessions, budget?.summary, count);
  add(`${b} app connects`, (s) => s.appConnections, budget?.summary, count);
  add(`${b} app connect failures`, (s) => s.appFailures, budget?.summary, count);
  add(`${b} app connect median (ms)`, (s) => s.appMedianMs, budget?.summary, count);
  add(`${b} app connect max (ms)`, (s) => s.appSlowestMs, budget?.summary, count);

  // One connection, phase by phase (ms from the process's first line): what each lever is worth.
  for (const [name, s] of Object.entries(results.phases?.summary ?? {})) {
    const phases = { 'postgres.js loaded': s.loaded, 'TCP connected': s.tcp, 'SSLRequest answered': s.sslRequest, 'tls loaded': s.tlsLoaded, 'TLS handshake done': s.tls, 'first query done': s.query };
    for (const [phase, value] of Object.entries(phases)) {
      if (value !== undefined) add(`connect ${name}: ${phase} (ms)`, (v) => v, { pglock: value }, { digits: 1, ratios: false });
    }
  }

  // pglock only: what a skipped run costs (wall time; connections and statements sent).
  for (const [name, s] of Object.entries(results.skip?.summary ?? {})) {
    add(`${name} median (ms)`, (v) => v.median, { pglock: s }, { digits: 1, ratios: false });
    add(`${name} connections`, (v) => v.connections, { pglock: s }, { digits: 0, ratios: false });
    add(`${name} statements (round trips)`, (v) => v.statements, { pglock: s }, { digits: 0, ratios: false });
  }
  // The library (issue 20): one critical section, in-process, and the backends it used.
  for (const [name, s] of Object.entries(results.library?.summary ?? {})) {
    add(`library ${name} p50 (ms)`, (v) => v.p50, { pglock: s }, { digits: 2, ratios: false });
    add(`library ${name} p99 (ms)`, (v) => v.p99, { pglock: s }, { digits: 2, ratios: false });
    if (s.backendsUsed !== undefined) add(`library ${name} backends used`, (v) => v.backendsUsed, { pglock: s }, { digits: 0, ratios: false });
  }
  return rows;
}

/**
 * The library against its peer and the bare protocol (issue 30): one row per compared case, pglock's
 * p50 and the other's side by side, their ratio, the p99s and what each costs the server per section.
 */
export function libraryComparisonRows(results) {
  return (results.library?.comparisons ?? []).map((c) => ({
    case: `${c.case} (vs ${c.otherName})`,
    'pglock p50': fixed(c.pglockP50, 2),
    'other p50': fixed(c.otherP50, 2),
    ratio: c.ratio === undefined ? '-' : `${c.ratio.toFixed(2)}x`,
    'p99s (pglock / other)': `${fixed(c.pglockP99, 2)} / ${fixed(c.otherP99, 2)}`,
    'server cost per section (pglock / other)': `${serverCost(c.pglockServer)} / ${serverCost(c.otherServer)}`,
  }));
}

/** The phases of a lock's own connection, pglock beside advisory-lock (measure/connection-phases.js). */
export function formatConnectionPhases(phases) {
  if (!(phases?.pglock?.n > 0) || !(phases?.peer?.n > 0)) return '';
  const { pglock, peer } = phases;
  const lines = [
    `where a lock's own connection spends its time (ms, medians of ${pglock.n} / ${peer.n} tapped sections, A, B, A, B ...; round trips in brackets)`,
    `${'phase'.padEnd(20)}  ${'pglock'.padStart(14)}  ${'advisory-lock'.padStart(14)}`,
    `${'-'.repeat(20)}  ${'-'.repeat(14)}  ${'-'.repeat(14)}`,
  ];
  const cell = (summary, phase) => {
    const trips = summary.roundTrips[phase];
    return `${summary.phases[phase].toFixed(2)}${trips === undefined ? '' : ` [${trips}]`}`.padStart(14);
  };
  for (const phase of Object.keys(pglock.phases)) lines.push(`${phase.padEnd(20)}  ${cell(pglock, phase)}  ${cell(peer, phase)}`);
  lines.push(`${'total'.padEnd(20)}  ${pglock.total.toFixed(2).padStart(14)}  ${peer.total.toFixed(2).padStart(14)}`);
  return lines.join('\n');
}

export function formatNewBackend(steps) {
  const names = Object.keys(steps ?? {});
  if (names.length === 0) return '';
  const lines = [
    `what a new backend's statements cost a lock's own connection, each promise apart (ms, medians of ${steps[names[0]].n}, new connections in turn)`,
    `${'statements'.padEnd(20)}  ${'first message'.padStart(14)}  ${'release'.padStart(8)}  ${'both'.padStart(8)}  ${'step'.padStart(8)}`,
    `${'-'.repeat(20)}  ${'-'.repeat(14)}  ${'-'.repeat(8)}  ${'-'.repeat(8)}  ${'-'.repeat(8)}`,
  ];
  let before;
  for (const name of names) {
    const { first, release } = steps[name];
    const both = first + release;
    const step = before === undefined ? '' : `+${(both - before).toFixed(2)}`;
    lines.push(`${name.padEnd(20)}  ${first.toFixed(2).padStart(14)}  ${release.toFixed(2).padStart(8)}  ${both.toFixed(2).padStart(8)}  ${step.padStart(8)}`);
    before = both;
  }
  return lines.join('\n');
}

/** Where a warm section's time goes, pglock beside the bare statements (measure/warm-split.js). */
export function formatWarmSplit(split) {
  const names = Object.keys(split ?? {}).filter((name) => split[name].n > 0);
  if (names.length === 0) return '';
  const width = Math.max(...names.map((name) => name.length));
  const lines = [
    `where a warm section's time goes (ms, medians of ${split[names[0]].n} tapped sections each, in turn; round trips: a write to the first data back)`,
    `${'section'.padEnd(width)}  ${'total'.padStart(7)}  ${'in round trips'.padStart(18)}  ${'in the client'.padStart(13)}`,
    `${'-'.repeat(width)}  ${'-'.repeat(7)}  ${'-'.repeat(18)}  ${'-'.repeat(13)}`,
  ];
  for (const name of names) {
    const { total, roundTrips, inRoundTrips, client } = split[name];
    lines.push(`${name.padEnd(width)}  ${total.toFixed(3).padStart(7)}  ${`${inRoundTrips.toFixed(3)} [${roundTrips}]`.padStart(18)}  ${client.toFixed(3).padStart(13)}`);
  }
  return lines.join('\n');
}

export function formatPlacement(placement) {
  if (placement === undefined) return '';
  const title = 'a warm section by where the processes run (the bench and the section\'s backend pinned with taskset; p50 of each pair in turn, A, B ...; the mean, and CPU per section, the backend\'s and the client\'s, beside it)';
  if (placement.skipped) return `${title}\n  not measured: ${placement.skipped}`;
  const rows = [];
  for (const [where, cases] of Object.entries(placement.placements)) {
    const names = Object.keys(cases);
    for (const [k, name] of names.entries()) {
      const { n, p50, mean, serverCpu, clientCpu } = cases[name];
      // Each pair is two names in a row: the ratio on the first of the two.
      const other = k % 2 === 0 ? cases[names[k + 1]] : undefined;
      rows.push([k === 0 ? where : '', name, p50.toFixed(3), other ? `${(p50 / other.p50).toFixed(2)}x` : '', mean.toFixed(3), serverCpu.toFixed(3), clientCpu.toFixed(3), String(n)]);
    }
  }
  const header = ['placement', 'section', 'p50', 'ratio', 'mean', 'server CPU', 'client CPU', 'n'];
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((cells) => cells[i].length)));
  const render = (cells) => cells.map((text, i) => (i < 2 ? text.padEnd(widths[i]) : text.padStart(widths[i]))).join('  ');
  return [title, render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(render)].join('\n');
}

export function formatLibraryComparison(rows, method) {
  const header = Object.keys(rows[0]);
  const lines = rows.map((row) => header.map((key) => row[key]));
  const widths = header.map((_, i) => Math.max(...[header, ...lines].map((cells) => cells[i].length)));
  const render = (cells) => cells.map((text, i) => (i === 0 ? text.padEnd(widths[i]) : text.padStart(widths[i]))).join('  ');
  return [
    'library against its peer and the bare protocol (times in ms; each pair measured section by section, A, B, A, B ...)',
    `server cost: ${method ?? 'not counted'}`,
    render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(render),
  ].join('\n');
}

const fixed = (value, digits) => (value === undefined ? '-' : value.toFixed(digits));
const trim = (value) => String(Number(value.toFixed(2)));

function serverCost(server) {
  if (!server) return '-';
  const work = (server.statementsPerSection !== undefined ? `${trim(server.statementsPerSection)} st` : `~${trim(server.transactionsPerSection)} tx`) +
    (server.sentPerSection !== undefined ? ` (${trim(server.sentPerSection)} sent)` : '');
  return `${work}, ${trim(server.newBackendsPerSection)} new backend${server.newBackendsPerSection === 1 ? '' : 's'}`;
}

export function formatTable(rows) {
  const header = ['', ...COLUMNS.map((c) => LABELS[c]), ...RATIOS.map(([, label]) => label)];
  const lines = rows.map((row) => [
    row.label,
    ...COLUMNS.map((c) => (row.values[c] === undefined ? '-' : row.values[c].toFixed(row.digits))),
    ...RATIOS.map(([base]) => formatRatio(row, base)),
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...lines].map((cells) => cells[i].length)));
  const render = (cells) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(render)].join('\n');
}

function formatRatio(row, base) {
  const pglock = row.values.pglock;
  const other = row.values[base];
  if (!row.ratios || pglock === undefined || !other) return '';
  return `${(pglock / other).toFixed(2)}x`;
}

/**
 * One row per Node × server (a "cell"): the headline numbers side by side, pglock against the floor
 * and the peer, so that the TLS and Node-version costs read off one table.
 */
export function matrixRows(cells) {
  return Object.entries(cells).map(([cell, r]) => {
    const once = r['run-once']?.summary;
    const handoff = r.handoff?.summary;
    const contention = r.contention?.summary;
    const rss = r.rss?.summary;
    return {
      cell,
      'node -e 0': once?.node?.median,
      'pglock run-once': once?.pglock?.median,
      '/ node': once?.pglock && once?.node ? once.pglock.median / once.node.median : undefined,
      // In a TLS cell: pglock over TLS against pglock over plain TCP, in the same rounds.
      'TLS / plain': once?.pglock && once?.['pglock-plain'] ? once.pglock.median / once['pglock-plain'].median : undefined,
      'withlock run-once': once?.withlock?.median,
      'pglock handoff': handoff?.pglock?.median,
      'withlock handoff': handoff?.withlock?.median,
      [`pglock ${r.contention?.count ?? ''} wall`]: contention?.pglock?.wallMs.median,
      [`withlock ${r.contention?.count ?? ''} wall`]: contention?.withlock?.wallMs.median,
      'pglock RSS MiB': rss?.pglock?.hwmMiB,
      'built-ins RSS MiB': rss?.builtins?.hwmMiB,
      'withlock RSS MiB': rss?.withlock?.hwmMiB,
    };
  });
}

export function formatMatrix(rows) {
  const header = Object.keys(rows[0]);
  const cell = (value, key) => {
    if (typeof value === 'string') return value;
    if (value === undefined) return '-';
    if (key === '/ node' || key === 'TLS / plain') return `${value.toFixed(2)}x`;
    return value.toFixed(key.includes('wall') ? 0 : 1);
  };
  const lines = rows.map((row) => header.map((key) => cell(row[key], key)));
  const widths = header.map((_, i) => Math.max(...[header, ...lines].map((cells) => cells[i].length)));
  const render = (cells) => cells.map((text, i) => (i === 0 ? text.padEnd(widths[i]) : text.padStart(widths[i]))).join('  ');
  return ['times in ms (medians); RSS is the peak (VmHWM) while the command runs', render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(render)].join('\n');
}

/**
 * The performance targets, for every Node × server measured. Each returns { goal, status: PASS |
 * FAIL | SKIP, detail }; SKIP when a measurement it needs did not run. Goals are reported, never
 * enforced through the exit code.
 */
export function checkGoals(results) {
  const ms = (v) => `${v.toFixed(1)} ms`;
  const mib = (v) => `${v.toFixed(1)} MiB`;
  const goals = [];
  const cells = Object.entries(results.cells ?? {});
  for (const [cell, r] of cells) {
    const once = r['run-once']?.summary;
    const handoff = r.handoff?.summary;
    goals.push(
      relative(`${cell}: run-once pglock <= 2.0 × node -e 0`, once?.pglock?.median, 2.0, once?.node?.median, ms),
      relative(`${cell}: run-once pglock <= 0.75 × withlock`, once?.pglock?.median, 0.75, once?.withlock?.median, ms),
      relative(`${cell}: handoff pglock <= 2 × flock`, handoff?.pglock?.median, 2, handoff?.flock?.median, ms),
      contentionGoal(r.contention, ms, cell),
      atMost(`${cell}: peak RSS pglock <= 48 MiB`, r.rss?.summary?.pglock?.hwmMiB, 48,
        `limit ${mib(48)}${r.rss?.summary?.builtins ? `; this Node with the built-ins alone: ${mib(r.rss.summary.builtins.hwmMiB)}` : ''}`, mib),
    );
  }
  // TLS against plain TCP, on the same Node: pglock against the plain server in the TLS cell's own
  // rounds (pglock-plain), else the plain cell's number.
  for (const [cell, r] of cells) {
    if (r.server !== 'tls') continue;
    const plain = results.cells[cell.replace(/ tls$/, ' plain')];
    const plainOf = (name) => r[name]?.summary?.['pglock-plain']?.median ?? plain?.[name]?.summary?.pglock?.median;
    goals.push(
      relative(`${cell}: run-once over TLS <= 1.15 × plain`, r['run-once']?.summary?.pglock?.median, 1.15, plainOf('run-once'), ms),
      relative(`${cell}: handoff over TLS <= 1.2 × plain`, r.handoff?.summary?.pglock?.median, 1.2, plainOf('handoff'), ms),
    );
  }
  const warm = results.library?.summary?.['session (warm, fail fast)'];
  const handover = results.library?.summary?.['election handover (stop → onLeading)'];
  goals.push(
    atMost('library: a fail-fast section on a warm session p50 <= 2 ms', warm?.p50, 2, ms(2), ms),
    atMost('library: a fail-fast section on a warm session p99 <= 5 ms', warm?.p99, 5, ms(5), ms),
    atMost('library: no new server backend per section (backends used <= 1)', warm?.backendsUsed, 1, '1', (v) => String(v)),
    atMost('library: election handover after stop() <= 1 s', handover?.max, 1000, ms(1000), ms),
  );
  // Issue 30: the library against its peer and the bare protocol, p50 against p50 in the same loop.
  const compared = (id) => results.library?.comparisons?.find((c) => c.id === id);
  const msp = (v) => `${v.toFixed(2)} ms`;
  goals.push(
    relative('library: withLock p50 <= 0.8 × advisory-lock withLock (the peer)', compared('withLock-peer')?.pglockP50, 0.8, compared('withLock-peer')?.otherP50, msp),
    relative('library: warm session section p50 <= 1.5 × the bare try + unlock', compared('session-bare')?.pglockP50, 1.5, compared('session-bare')?.otherP50, msp),
    relative('library: withTransactionLock p50 <= 1.5 × a bare transaction', compared('transaction-bare')?.pglockP50, 1.5, compared('transaction-bare')?.otherP50, msp),
  );
  return goals;
}

// The wall-time target only counts with mutual exclusion intact: any overlap fails it.
function contentionGoal(contention, format, cell) {
  const pglock = contention?.summary?.pglock;
  const goal = `${cell}: contention ${contention?.count ?? 'N'} wall pglock <= 0.6 × withlock, 0 overlaps`;
  const check = relative(goal, pglock?.wallMs.median, 0.6, contention?.summary?.withlock?.wallMs.median, format);
  if (check.status === 'SKIP') return check;
  const detail = `${check.detail}; ${pglock.overlaps} overlaps`;
  return { goal, status: check.status === 'PASS' && pglock.overlaps === 0 ? 'PASS' : 'FAIL', detail };
}

/** value <= factor × base, e.g. pglock's median against 1.4 × node's. */
function relative(goal, value, factor, base, format) {
  if (base === undefined) return atMost(goal, undefined);
  const limit = factor * base;
  return atMost(goal, value, limit, `${factor} × ${format(base)} = ${format(limit)}`, format, value / base);
}

function atMost(goal, value, limit, limitText, format, ratio) {
  if (value === undefined) return { goal, status: 'SKIP', detail: 'not measured' };
  const detail = `${format(value)} vs ${limitText}${ratio === undefined ? '' : ` (ratio ${ratio.toFixed(2)})`}`;
  return { goal, status: value <= limit ? 'PASS' : 'FAIL', detail };
}

export function formatGoals(goals) {
  const width = Math.max(...goals.map((g) => g.goal.length));
  return goals.map((g) => `  ${g.status.padEnd(4)}  ${g.goal.padEnd(width)}  ${g.detail}`).join('\n');
}
