// The Docker image, the CI stage `docker`: run by scripts/docker-test.sh, which starts a Docker
// engine of its own, builds the repository's Dockerfile as PGLOCK_DOCKER_IMAGE and stops it all
// after. The containers reach this file's throwaway PostgreSQL (on 127.0.0.1) over the host network.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { dockerRun, oneline } from '../helpers/docker.js';
import { startTestServer } from '../helpers/server.js';
import { checkStop } from './docker-stop.js';

const image = process.env.PGLOCK_DOCKER_IMAGE;
if (!image) {
  t.plan(0, 'PGLOCK_DOCKER_IMAGE is not set: this file runs from bash scripts/docker-test.sh, which starts a Docker engine and builds the image');
} else {
  const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  const server = await startTestServer(t, { own: true });
  const locked = (args: string[]) => dockerRun(['--network', 'host', '-e', `PGLOCK_DATABASE_URL=${server.url}`, ...args]);

  t.test('--version prints the version of package.json', async (t) => {
    const { code, out } = await dockerRun(['--network', 'none', image, '--version']);
    const lines = out.split('\n');
    t.ok(code === 0 && (lines.includes(version) || lines.includes(`pglock ${version}`)), `--version prints ${version}: exit ${code}, output: ${oneline(out)}`);
  });

  t.test('a locked run over the host network prints hello and exits 0', async (t) => {
    const { code, out } = await locked([image, '--key', 'docker-test-hello', '--', 'echo', 'hello']);
    t.same({ code, out }, { code: 0, out: 'hello' });
  });

  t.test('the command runs as a non-root user (uid 1000, node)', async (t) => {
    const { code, out } = await locked([image, '--key', 'docker-test-uid', '--', 'id', '-u']);
    t.same({ code, out }, { code: 0, out: '1000' });
  });

  t.test('docker stop, and a second container refused while the first holds the lock', async (t) => {
    await checkStop(t, image, server.url);
  });

  // Zombies: the command leaves an orphan (a background grandchild whose parent exits at once),
  // which the kernel hands to PID 1 and which exits 0.3s later. Unless PID 1 reaps it, it stays a
  // zombie (state Z) while the command runs on; the command counts the zombies in its PID namespace.
  const zombieCmd = `(sleep 0.3 &); sleep 1.5; n=0
for f in /proc/[0-9]*/status; do
  if grep -qE "^State:[[:space:]]+Z" "$f" 2>/dev/null; then n=$((n+1)); echo "zombie: $(sed -n "s/^Name:[[:space:]]*//p" "$f")"; fi
done; echo "zombies=$n"`;
  t.test('an orphaned grandchild is reaped (no zombie while the command runs on)', async (t) => {
    const { code, out } = await locked([image, '--key', 'docker-test-zombie', '--', 'sh', '-c', zombieCmd]);
    t.ok(code === 0 && out.split('\n').includes('zombies=0'), `exit ${code}, output: ${oneline(out)}`);
    // The same check without tini (pglock as PID 1) shows that it can see a zombie; not counted.
    const bare = await locked(['--entrypoint', 'pglock', image, '--key', 'docker-test-zombie', '--', 'sh', '-c', zombieCmd]);
    const seen = bare.out.split('\n').find((l) => l.startsWith('zombies='));
    t.comment(`info: the same check without tini (--entrypoint pglock, node as PID 1): ${seen ?? `exit ${bare.code}: ${oneline(bare.out)}`}`);
  });
}
