import type { ConnectionConfig } from '../connection-config.js';

export type Verbosity = 'quiet' | 'normal' | 'verbose';

/** The command to run while holding the lock: an argv, or a shell line for `-c`. */
export interface CommandSpec {
  file: string;
  args: string[];
  /** True when the user asked for a shell (`-c`); only then does a shell run. */
  shell: boolean;
}

/** Everything `pglock [options] -- <command>` means, after parsing and validation. */
export interface RunOptions {
  key: string | undefined;
  lockId: bigint;
  connection: ConnectionConfig;
  wait: boolean;
  /** With wait: give up after this long. Undefined: wait forever. */
  timeoutMs: number | undefined;
  conflictExitCode: number;
  connectTimeoutMs: number;
  heartbeatMs: number;
  killAfterMs: number;
  command: CommandSpec;
  verbosity: Verbosity;
}
