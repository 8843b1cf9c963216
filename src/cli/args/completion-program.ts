import { UsageError } from '../../errors.js';
import { HELP } from './common-flags.js';
import type { ProgramSpec } from './flag-spec.js';
import type { CompletionOptions } from './options.js';

// `pglock completion <shell>`: its table, and the CompletionOptions it makes.

const SHELLS = ['bash', 'zsh', 'fish'] as const;

export const COMPLETION = {
  name: 'pglock completion',
  usage: 'pglock completion <shell>',
  description: "Print a completion script for the shell on stdout: pglock's options, subcommands and their values.",
  summary: 'print a shell completion script (bash, zsh or fish)',
  operands: [{ name: 'shell', description: SHELLS.join(', '), choices: SHELLS }],
  flags: [HELP],
} as const satisfies ProgramSpec;

export function toCompletionOptions(positional: string[]): CompletionOptions {
  const shell = SHELLS.find((known) => known === positional[0]); // the scan makes sure there is one
  if (shell === undefined) throw new UsageError(`unknown shell '${positional[0]}': pglock completion takes ${SHELLS.join(', ')}`);
  return { shell };
}
