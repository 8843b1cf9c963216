// The house has no import circle: every file of src/ imports only files that do not import it back,
// directly or through others. Type-only imports count too (a circle of types is still a circle for
// a reader), so a shared type lives in a leaf file (runs/run-record.ts, lock/options.ts). The graph
// is read from the sources' own import and export-from lines; a circle fails with its files named.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourcesUnder(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** The files of src/ that `file` imports (relative specifiers only: packages and built-ins are leaves). */
export function importsOf(file: string, text: string): string[] {
  const specifiers = [...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+'(\.{1,2}\/[^']+)'/gms)].map((match) => match[1]!);
  const dynamic = [...text.matchAll(/\bimport\(\s*'(\.{1,2}\/[^']+)'\s*\)/g)].map((match) => match[1]!);
  return [...specifiers, ...dynamic].map((spec) => resolve(dirname(file), spec).replace(/\.js$/, '.ts'));
}

/** Every circle of the graph, one per strongly connected component of more than one file (or a self-import). */
export function findCircles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const visit = (node: string) => {
    order.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!order.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, order.get(next)!));
      }
    }
    if (low.get(node) !== order.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) circles.push(component.sort());
  };
  for (const node of graph.keys()) if (!order.has(node)) visit(node);
  return circles;
}

t.test('the circle finder finds a circle, and none where there is none', async (t) => {
  t.same(findCircles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]])), [['a', 'b', 'c']]);
  t.same(findCircles(new Map([['a', ['b']], ['b', ['c']], ['c', []]])), []);
  t.same(findCircles(new Map([['a', ['a']]])), [['a']], 'a file importing itself');
  t.same(importsOf('/x/src/a.ts', "import type { A } from './b.js';\nexport { C } from '../c.js';\nimport {\n  D,\n} from './lock/index.js';\nimport x from 'postgres';"),
    ['/x/src/b.ts', '/x/c.ts', '/x/src/lock/index.ts']);
});

t.test('src/ has no import circle', async (t) => {
  const files = sourcesUnder(src);
  const graph = new Map(files.map((file) => [file, importsOf(file, readFileSync(file, 'utf8'))]));
  const circles = findCircles(graph).map((circle) => circle.map((file) => relative(src, file)).join(' → '));
  t.same(circles, [], circles.length ? `import circles:\n${circles.join('\n')}` : 'none');
});
