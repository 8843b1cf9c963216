import type { Completable, CompletableProgram } from './model.js';

// fish: `complete` lines, each guarded by the program the command line is in (a subcommand only as
// the first word). The run program's command line, after `--` or from its first operand, is
// completed as fish completes that command.
export function fishScript(programs: Completable): string {
  const names = programs.subcommands.map((sub) => sub.name);
  const valued = programs.run.flags.filter((flag) => flag.value).flatMap((flag) => [flag.long, ...(flag.short ? [flag.short] : [])]);
  return `# pglock completion for fish, made by \`pglock completion fish\`.
# Install: pglock completion fish > ~/.config/fish/completions/pglock.fish
function __pglock_program --description 'the subcommand being completed, or run'
    set -l words (commandline -opc)
    if test (count $words) -ge 2; and contains -- $words[2] ${names.map(fishQuote).join(' ')}
        echo $words[2]
    else
        echo run
    end
end

function __pglock_command_start --description 'where the command starts in the run program, else nothing'
    set -l words (commandline -opc)
    set -l valued ${valued.map(fishQuote).join(' ')}
    set -l i 2
    while test $i -le (count $words)
        switch $words[$i]
            case --
                echo (math $i + 1)
                return
            case '--*=*'
            case '-?*'
                contains -- $words[$i] $valued; and set i (math $i + 1)
            case '*'
                echo $i
                return
        end
        set i (math $i + 1)
    end
end

function __pglock_in_options
    set -l start (__pglock_command_start)
    test (__pglock_program) = run; and test -z "$start"
end

function __pglock_in_command
    set -l start (__pglock_command_start)
    test (__pglock_program) = run; and test -n "$start"
end

function __pglock_complete_command --description 'complete the command line pglock runs'
    set -l words (commandline -opc)
    set -l command $words[(__pglock_command_start)..-1]
    if test (count $command) -eq 0
        __fish_complete_command (commandline -ct)
    else
        complete -C (string join ' ' -- (string escape -- $command) (commandline -ct))
    end
end

complete -c pglock -f
complete -c pglock -n __pglock_in_command -xa '(__pglock_complete_command)'
complete -c pglock -n __pglock_in_options -xa '(__fish_complete_command)'
${programs.subcommands.map((sub) => `complete -c pglock -n 'test (count (commandline -opc)) -eq 1' -xa ${fishQuote(sub.name)} -d ${fishQuote(sub.summary)}`).join('\n')}
${[programs.run, ...programs.subcommands].flatMap(completeLines).join('\n')}
`;
}

// One line per flag (and per operand with choices), guarded by its program.
function completeLines(program: CompletableProgram): string[] {
  const when = program.name === '' ? '__pglock_in_options' : fishQuote(`test (__pglock_program) = ${program.name}`);
  const flags = program.flags.map((flag) => [
    `complete -c pglock -n ${when}`,
    ...(flag.short ? [`-s ${flag.short.slice(1)}`] : []),
    `-l ${flag.long.slice(2)}`,
    ...(flag.value ? ['-x'] : []),
    ...(flag.choices ? [`-a ${fishQuote(flag.choices.join(' '))}`] : []),
    `-d ${fishQuote(flag.summary)}`,
  ].join(' '));
  const operands = program.operands === 'command' ? [] : program.operands.flatMap((operand) =>
    operand.choices ? [`complete -c pglock -n ${when} -xa ${fishQuote(operand.choices.join(' '))} -d ${fishQuote(operand.name)}`] : []);
  return [...flags, ...operands];
}

// Inside fish's single quotes only \\ and \' are special.
function fishQuote(text: string): string {
  return `'${text.replace(/[\\']/g, '\\$&')}'`;
}
