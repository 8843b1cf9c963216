// Critical sections as recorded by the contenders' bash command (see SECTION_COMMAND): one
// "s <EPOCHREALTIME> <pid>" line on entry and one "e <EPOCHREALTIME> <pid>" line on exit.
// bash's builtin $EPOCHREALTIME costs no fork, so the timestamps sit tight around the section.

/** bash -c argv for one 10 ms critical section that logs its start and end to `logFile`. */
export function sectionCommand(logFile, seconds = '0.01') {
  return [
    'bash', '-c',
    `echo "s $EPOCHREALTIME $$" >> "$1"; sleep ${seconds}; echo "e $EPOCHREALTIME $$" >> "$1"`,
    'bash', logFile,
  ];
}

/**
 * Check a section log: every pid must have exactly one start and one end, and no two sections may
 * intersect. Returns { sections, problems, overlaps, gapsMs } with sections sorted by start (times
 * in integer microseconds) and gapsMs the idle time between one section's end and the next start.
 */
export function analyzeSections(logText) {
  const problems = [];
  const byPid = new Map();
  for (const line of logText.split('\n')) {
    if (line === '') continue;
    const match = /^([se]) (\d+)[.,](\d{6}) (\d+)$/.exec(line);
    if (!match) {
      problems.push(`unparsable section log line: ${JSON.stringify(line)}`);
      continue;
    }
    const [, kind, seconds, micros, pid] = match;
    const at = Number(seconds) * 1e6 + Number(micros); // < 2^53: exact
    const entry = byPid.get(pid) ?? { pid, starts: [], ends: [] };
    (kind === 's' ? entry.starts : entry.ends).push(at);
    byPid.set(pid, entry);
  }

  const sections = [];
  for (const { pid, starts, ends } of byPid.values()) {
    if (starts.length !== 1 || ends.length !== 1) {
      problems.push(`pid ${pid} logged ${starts.length} start(s) and ${ends.length} end(s)`);
      continue;
    }
    sections.push({ pid: Number(pid), start: starts[0], end: ends[0] });
  }
  sections.sort((a, b) => a.start - b.start);

  // Closed intervals [start, end]: sections that merely touch at the same microsecond count too.
  let overlaps = 0;
  for (let i = 0; i < sections.length; i++) {
    for (let j = i + 1; j < sections.length && sections[j].start <= sections[i].end; j++) overlaps++;
  }
  if (overlaps > 0) problems.push(`${overlaps} overlapping pair(s) of critical sections`);

  const gapsMs = sections.slice(1).map((section, i) => (section.start - sections[i].end) / 1000);
  return { sections, problems, overlaps, gapsMs };
}
