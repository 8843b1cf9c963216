// Read a record.mjs log and measure how children's critical sections overlapped.
import { existsSync, readFileSync } from 'node:fs';

export interface Section {
  label: string;
  start: number;
  end: number;
}

export function readSections(log: string): Section[] {
  const starts = new Map<string, number>();
  const sections: Section[] = [];
  // No log at all: no child ever started (the caller's count of sections says so plainly).
  const text = existsSync(log) ? readFileSync(log, 'utf8').trim() : '';
  for (const line of text ? text.split('\n') : []) {
    const [event, label = '', time = '0'] = line.split(' ');
    if (event === 'start') starts.set(label, Number(time));
    if (event === 'end') sections.push({ label, start: starts.get(label) ?? Number.NaN, end: Number(time) });
  }
  for (const [label, start] of starts) {
    if (!sections.some((s) => s.label === label)) sections.push({ label, start, end: Number.POSITIVE_INFINITY });
  }
  return sections.sort((a, b) => a.start - b.start);
}

/** The largest time (ms) any two sections ran at once; 0 when they never overlapped. */
export function maxOverlapMs(sections: Section[]): number {
  let worst = 0;
  for (let i = 0; i < sections.length; i++) {
    for (let j = i + 1; j < sections.length; j++) {
      const a = sections[i] as Section;
      const b = sections[j] as Section;
      worst = Math.max(worst, Math.min(a.end, b.end) - Math.max(a.start, b.start));
    }
  }
  return worst;
}

/** The most sections that ran at the same moment. */
export function maxConcurrency(sections: Section[]): number {
  const events = sections.flatMap((s) => [{ at: s.start, delta: 1 }, { at: s.end, delta: -1 }]);
  // At equal times an end counts before a start: touching sections did not run together.
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let running = 0;
  let most = 0;
  for (const event of events) {
    running += event.delta;
    most = Math.max(most, running);
  }
  return most;
}

/**
 * The time (ms) during which two or more sections ran, summed over the whole log (every section
 * with every other, unlike maxOverlapMs's worst pair). A section that never logged its end counts
 * as running until the log's last recorded time.
 */
export function overlappedMs(sections: Section[]): number {
  const events = sections.flatMap((s) => [{ at: s.start, delta: 1 }, { at: s.end, delta: -1 }]).filter((e) => Number.isFinite(e.at));
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let running = 0;
  let last = 0;
  let total = 0;
  for (const event of events) {
    if (running >= 2) total += event.at - last;
    last = event.at;
    running += event.delta;
  }
  return total;
}
