// README is the front door and docs/ holds the guides: README stays short, every relative link and
// anchor between them resolves, README links every guide, the library examples shown are the
// files the examples test runs, and the library guide names every export of the package root.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string): string => readFileSync(join(root, file), 'utf8');
const guides = readdirSync(join(root, 'docs'), { recursive: true }).map(String).filter((file) => file.endsWith('.md')).map((file) => join('docs', file)).sort();
const pages = ['README.md', ...guides];

/** The text outside fenced code blocks, line by line (code never holds a link to check). */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (line.startsWith('```')) fenced = !fenced;
    return !fenced && !line.startsWith('```');
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens, -1, -2 on repeats. */
function anchors(text: string): Set<string> {
  const seen = new Set<string>();
  for (const line of prose(text)) {
    const heading = /^#{1,6} (.*)$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = heading.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-');
    let anchor = base;
    for (let n = 1; seen.has(anchor); n++) anchor = `${base}-${n}`;
    seen.add(anchor);
  }
  return seen;
}

/** The targets of the page's markdown links, outside code (inline code spans dropped too). */
function links(text: string): string[] {
  return prose(text).flatMap((line) => [...line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!));
}

t.test('README is a front door: at most 300 lines', async (t) => {
  const lines = read('README.md').trimEnd().split('\n').length;
  t.ok(lines <= 300, `README.md has ${lines} lines`);
});

t.test('every relative link and anchor resolves', async (t) => {
  let checked = 0;
  for (const page of pages) {
    for (const target of links(read(page))) {
      if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // https:, mailto:
      const [path = '', anchor] = target.split('#');
      const file = path === '' ? page : relative(root, resolve(root, dirname(page), path));
      checked++;
      if (!existsSync(join(root, file))) {
        t.fail(`${page}: ${target}: no file ${file}`);
        continue;
      }
      if (anchor !== undefined) t.ok(anchors(read(file)).has(anchor), `${page}: ${target}`);
    }
  }
  t.ok(checked > 50, `${checked} links checked`);
});

t.test('every guide starts with its title and what a reader comes for, and README links it', async (t) => {
  const readme = read('README.md');
  t.ok(guides.length >= 6, `${guides.length} guides`);
  for (const guide of guides) {
    const [title, blank, lead] = read(guide).split('\n');
    t.match(title, /^# \S/, `${guide}: a title`);
    t.equal(blank, '', `${guide}: a blank line after it`);
    t.match(lead, /^[A-Za-z`]/, `${guide}: then a paragraph, before any section`);
    t.ok(readme.includes(`](${guide})`), `README links ${guide}`);
  }
});

// The block README (or a guide) shows is the example file from its first import on, importing from
// 'pglock' where the file imports the built dist/.
function shownAs(example: string): string {
  const text = read(example);
  return text.slice(text.indexOf('\nimport ') + 1).replace("'../../dist/index.js'", "'pglock'").trimEnd();
}

t.test('the library examples shown are the files the examples test runs', async (t) => {
  t.ok(read('README.md').includes(`\`\`\`js\n${shownAs('scripts/examples/library.mjs')}\n\`\`\``), 'README shows scripts/examples/library.mjs');
  t.ok(read('docs/library.md').includes(`\`\`\`js\n${shownAs('scripts/examples/services.mjs')}\n\`\`\``), 'docs/library.md shows scripts/examples/services.mjs');
});

t.test('the library guide names every export of the package root', async (t) => {
  const guide = read('docs/library.md');
  const exported = Object.keys(await import('../../src/index.js'));
  t.ok(exported.length > 20, `${exported.length} exports`);
  for (const name of exported) t.ok(guide.includes(`\`${name}`), name);
});
