// docker stop: the command gets SIGTERM exactly once (it keeps running a second after the first,
// so that a second one would be seen) and the container exits with the command's own code. While
// it holds the lock, a second container with the same key is refused with 75.
import type { Test } from 'tap';
import { docker, dockerRun, oneline } from '../helpers/docker.js';

const STOP_CMD = `n=0; trap "n=\\$((n+1)); echo got-term" TERM; echo ready
while [ $n -eq 0 ]; do sleep 0.1; done
i=0; while [ $i -lt 10 ]; do sleep 0.1; i=$((i+1)); done; exit 42`;

export async function checkStop(t: Test, image: string, url: string): Promise<void> {
  const env = ['-e', `PGLOCK_DATABASE_URL=${url}`];
  const started = await docker(['run', '-d', '--network', 'host', ...env, image, '--key', 'docker-test-stop', '--', 'sh', '-c', STOP_CMD]);
  const ctr = started.out.trim().split('\n').at(-1) ?? '';
  try {
    let ready = false;
    for (let i = 0; i < 300 && started.code === 0; i++) {
      if ((await docker(['logs', ctr])).out.split('\n').includes('ready')) {
        ready = true;
        break;
      }
      if ((await docker(['inspect', '-f', '{{.State.Running}}', ctr])).out !== 'true') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!ready) {
      t.fail(`the docker stop container never printed ready: ${oneline((await docker(['logs', ctr])).out || started.out)}`);
      t.fail('second container refused with 75: not checked (the first never held the lock)');
      return;
    }
    const second = await dockerRun(['--network', 'host', ...env, image, '--key', 'docker-test-stop', '--', 'echo', 'must-not-run']);
    t.ok(second.code === 75 && !second.out.includes('must-not-run'),
      `a second container with the same key is refused with exit 75 (exit ${second.code}, output: ${oneline(second.out)})`);
    const began = Date.now();
    await docker(['stop', '-t', '20', ctr]);
    const stopMs = Date.now() - began;
    const waited = await docker(['wait', ctr], 30_000);
    const code = waited.code === 0 ? waited.out.trim() : '?';
    const logs = (await docker(['logs', ctr])).out;
    const terms = logs.split('\n').filter((l) => l === 'got-term').length;
    t.ok(code === '42' && terms === 1,
      `docker stop: the command got SIGTERM exactly once (${terms}), the container exited with the command's code 42 (${code}) after ${stopMs}ms; logs: ${oneline(logs)}`);
  } finally {
    if (ctr) await docker(['rm', '-f', ctr]);
  }
}
