import type { CompletionOptions } from './options.js';
import { listPrograms } from './parse-args.js';
import { bashScript } from './completion/bash.js';
import { fishScript } from './completion/fish.js';
import { type Completable, toCompletable } from './completion/model.js';
import { zshScript } from './completion/zsh.js';

// `pglock completion <shell>`: a completion script made from the same program specs that parse the
// command line, so a new option, subcommand or choice is completed as soon as it exists. Key names
// are not completed: that would take a connection to the database (and its timeout) at every Tab.
const SCRIPTS: Record<CompletionOptions['shell'], (programs: Completable) => string> = { bash: bashScript, zsh: zshScript, fish: fishScript };

/** Print the script on stdout; exit code 0. */
export function printCompletion(options: CompletionOptions, write: (text: string) => void = (text) => void process.stdout.write(text)): number {
  write(completionScript(options.shell));
  return 0;
}

/** The completion script for one shell. */
export function completionScript(shell: CompletionOptions['shell']): string {
  return SCRIPTS[shell](toCompletable(listPrograms()));
}
