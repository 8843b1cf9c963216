import type { CompletionOptions } from '../args/options.js';
import { listPrograms } from '../args/parse-args.js';
import { bashScript } from './bash.js';
import { fishScript } from './fish.js';
import { type Completable, toCompletable } from './model.js';
import { zshScript } from './zsh.js';

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
