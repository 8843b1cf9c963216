// The docker CLI for the Docker stage (test/stages/docker.stage.ts): the engine is the one
// scripts/docker-test.sh started (DOCKER_HOST and DOCKER_CONFIG come from it).
import { spawn } from 'node:child_process';

export interface DockerResult {
  /** The exit code (124 when it ran out of time, as timeout(1) says). */
  code: number;
  /** stdout and stderr together, in the order they came, without trailing newlines. */
  out: string;
}

/** Runs the docker CLI to the end, for at most `timeoutMs` (then SIGTERM, as `timeout` does). */
export function docker(args: string[], timeoutMs = 120_000): Promise<DockerResult> {
  return new Promise((resolve) => {
    const child = spawn('docker', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let timedOut = false;
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, timeoutMs);
    child.on('error', (error) => (out += `${error.message}\n`));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? 124 : (code ?? 128), out: out.replace(/\n+$/, '') });
    });
  });
}

/** A container run to the end (at most 2 minutes), removed after. */
export function dockerRun(args: string[]): Promise<DockerResult> {
  return docker(['run', '--rm', ...args]);
}

/** Output on one line, cut to 300 characters, for a failure message. */
export function oneline(text: string): string {
  return `${text}\n`.replace(/\n/g, '|').slice(0, 300);
}
