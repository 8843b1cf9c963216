// The guides ship in the npm package (package.json "files"), where the repository's scripts and
// benchmarks are not (issue 28): where README or the library guide names one, it says it is in
// the source repository; and the library guide says that its `await using` example is TypeScript
// (a SyntaxError in plain JavaScript on Node.js 20 and 22) before showing it.
import { readFileSync } from 'node:fs';
import t from 'tap';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const packageFiles = JSON.parse(read('package.json')).files as string[];

t.test('README and docs/library.md: what is not in the package is said to be in the repository', async (t) => {
  t.notOk(packageFiles.some((entry) => entry.startsWith('scripts') || entry.startsWith('bench')), 'scripts/ and bench/ are not shipped');
  for (const page of ['README.md', 'docs/library.md']) {
    // Paragraphs and list items, code blocks included: a console line must not name a repository path either.
    for (const paragraph of read(page).split(/\n\s*\n|\n(?=- )/)) {
      if (!/scripts\/examples\/|npm run bench/.test(paragraph)) continue;
      t.match(paragraph, /source repository/, `${page}: ${paragraph.slice(0, 80).replace(/\n/g, ' ')}…`);
    }
  }
});

t.test('docs/library.md says `await using` is TypeScript before its first use', async (t) => {
  const guide = read('docs/library.md');
  const first = guide.indexOf('await using lock ='); // its first use in an example
  t.ok(first > 0);
  t.match(guide.slice(0, first), /SyntaxError[^]*TypeScript|TypeScript[^]*SyntaxError/);
});
