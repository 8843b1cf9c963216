import t from 'tap';
import { formatDuration, parseDuration } from '../../src/duration.js';
import { UsageError } from '../../src/errors.js';

t.test('parses durations to milliseconds', async (t) => {
  const cases: [string, number][] = [
    ['500ms', 500], ['30s', 30_000], ['5m', 300_000], ['1h', 3_600_000], ['1m30s', 90_000],
    ['1.5s', 1500], ['0', 0], ['10', 10_000], ['0.25', 250], [' 2s ', 2000], ['0ms', 0], ['1d', 86_400_000], ['1d12h', 129_600_000],
  ];
  for (const [text, ms] of cases) t.equal(parseDuration(text, '--timeout'), ms, text);
});

t.test('rejects what is not a duration, naming the flag and the input', async (t) => {
  for (const bad of ['', 'abc', '5x', '-1s', '1s5', 's', '1 s', '10w', '25d', '1e3s', '9999h']) {
    t.throws(() => parseDuration(bad, '--timeout'), { name: 'UsageError', message: /--timeout/ }, `rejects '${bad}'`);
  }
  t.throws(() => parseDuration('5x', '--heartbeat'), UsageError);
});

t.test('a duration that is no timer may go past 24.8 days, up to its own limit', async (t) => {
  t.equal(parseDuration('30d', '--min-interval', 3650 * 86_400_000), 30 * 86_400_000);
  t.throws(() => parseDuration('3651d', '--min-interval', 3650 * 86_400_000), { message: /--min-interval .* up to 3650d, got '3651d'/ });
});

t.test('formats durations for messages', async (t) => {
  t.equal(formatDuration(250), '250ms');
  t.equal(formatDuration(1500), '1.5s');
  t.equal(formatDuration(10_000), '10s');
  t.equal(formatDuration(90_000), '1m30s');
  t.equal(formatDuration(120_000), '2m');
  t.equal(formatDuration(3_900_000), '1h5m');
  t.equal(formatDuration(7_200_000), '2h');
  t.equal(formatDuration(47 * 3_600_000), '47h');
  t.equal(formatDuration(48 * 3_600_000), '2d');
  t.equal(formatDuration(50 * 3_600_000), '2d2h');
});
