// The Node versions the bench runs the tools on: this machine's node, and the other majors of
// 20, 22 and 24 from the npm registry's node-linux-<arch> packages (their bin/node), fetched once
// into ${XDG_CACHE_HOME:-~/.cache}/pglock-ci (shared with scripts/package-test.sh). A version that
// cannot be had is skipped with the reason, never silently.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_MAJORS = [20, 22, 24];

/** [{ major, version, path }] for each major that can be had, and [reason] for each that cannot. */
export function resolveNodes(majors, progress) {
  const nodes = [];
  const skipped = [];
  const ownMajor = Number(process.versions.node.split('.')[0]);
  for (const major of majors) {
    if (major === ownMajor) {
      nodes.push({ major, version: process.version, path: process.execPath });
      continue;
    }
    try {
      const path = fetchNode(major, progress);
      nodes.push({ major, version: execFileSync(path, ['--version'], { encoding: 'utf8' }).trim(), path });
    } catch (error) {
      skipped.push(`Node ${major}: ${error.message.split('\n')[0]}`);
    }
  }
  return { nodes, skipped };
}

function fetchNode(major, progress) {
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pglock-ci');
  const dir = join(cache, `node-${major}`);
  const binary = join(dir, 'bin', 'node');
  if (existsSync(binary) && runsAs(binary, major)) return binary;
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
  if (process.platform !== 'linux' || !arch) throw new Error(`no node-linux package for ${process.platform}/${process.arch}`);
  progress(`fetching Node ${major} (npm pack node-linux-${arch}@${major}) into ${cache}`);
  mkdirSync(cache, { recursive: true });
  const tmp = mkdtempSync(join(cache, `fetch-node-${major}-`));
  try {
    const tarball = execFileSync('npm', ['pack', `node-linux-${arch}@${major}`, '--loglevel=error'], { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', join(tmp, tarball), '-C', tmp, 'package/bin/node']);
    const fetched = join(tmp, 'package', 'bin', 'node');
    chmodSync(fetched, 0o755);
    if (!runsAs(fetched, major)) throw new Error(`the node in ${tarball} does not run as Node ${major}`);
    mkdirSync(join(dir, 'bin'), { recursive: true });
    renameSync(fetched, binary);
    return binary;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function runsAs(binary, major) {
  try {
    return execFileSync(binary, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }).trim() === String(major);
  } catch {
    return false;
  }
}
