// Which systems pglock runs on is said where npm and people look (issue 28): the CLI needs /bin/sh
// (the watchdog, src/cli/watchdog.ts) and POSIX signals and process groups, and reads /proc
// (src/cli/signals.ts); package.json's "os" keeps npm from installing it where that cannot work,
// and README says which systems are tested.
import { readFileSync } from 'node:fs';
import t from 'tap';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

t.test('package.json "os" excludes Windows, and README names the systems', async (t) => {
  const pkg = JSON.parse(read('package.json')) as { os?: string[] };
  t.same(pkg.os, ['!win32']);
  const install = read('README.md').split('\n## Install\n')[1]?.split('\n## ')[0] ?? '';
  t.match(install, /on Linux \(tested/);
  t.match(install, /`\/bin\/sh`/);
  t.match(install, /`\/proc`/);
  t.match(install, /Not Windows/);
  t.match(install, /"os": \["!win32"\]/);
});
