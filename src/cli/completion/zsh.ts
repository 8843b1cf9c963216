import { type Completable, type CompletableFlag, type CompletableProgram, quote } from './model.js';

// zsh: one _arguments call per program. Subcommands only as the first word; the run program's
// command line, after `--` or from its first operand, is completed as zsh completes that command.
export function zshScript(programs: Completable): string {
  const subcommands = programs.subcommands.map((sub) => quote(`${sub.name}:${sub.summary.replace(/:/g, '\\:')}`));
  return `#compdef pglock
# pglock completion for zsh, made by \`pglock completion zsh\`.
# Install: pglock completion zsh > "\${fpath[1]}/_pglock" (or any directory in $fpath), then compinit.
_pglock() {
  local -a subcommands=(${subcommands.join(' ')})
  local first=$(( CURRENT == 2 )) curcontext=$curcontext state line ret=1
  if (( CURRENT > 2 )) && (( \${subcommands[(I)\${words[2]}:*]} )); then
    local subcommand=\${words[2]}
    shift words
    (( CURRENT-- ))
    curcontext=\${curcontext%:*:*}:pglock-$subcommand:
    case $subcommand in
${programs.subcommands.map((sub) => `      ${quote(sub.name)}) _arguments -s -S : ${specs(sub).join(' ')} ;;`).join('\n')}
    esac
    return
  fi
  _arguments -C -s -S : ${specs(programs.run).join(' ')} '*:: :->command' && ret=0
  if [[ $state == command ]]; then
    (( first && CURRENT == 1 )) && _describe -t subcommands 'pglock subcommand' subcommands && ret=0
    _normal && ret=0
  fi
  return ret
}
# Autoloaded from $fpath, this file is _pglock's first call; sourced, it registers _pglock.
if [[ $funcstack[1] == _pglock ]]; then
  _pglock "$@"
else
  compdef _pglock pglock
fi
`;
}

// _arguments specs: the flags, then the operands (a command line is the caller's state).
function specs(program: CompletableProgram): string[] {
  const operands = program.operands === 'command' ? [] : program.operands.map((operand, index) =>
    quote(`${index + 1}:${operand.name}:${operand.choices ? `(${operand.choices.join(' ')})` : ' '}`));
  return [...program.flags.map(flagSpec), ...operands];
}

// '(-k --key)'{-k,--key=}'[lock name]:name: ' — a value may follow as the next word or after =.
function flagSpec(flag: CompletableFlag): string {
  const forms = [flag.short, flag.long].filter((form): form is string => form !== undefined);
  const exclusive = flag.alone ? '(- *)' : forms.length > 1 ? `(${forms.join(' ')})` : '';
  const value = flag.value ? `:${flag.value.replace(/:/g, '\\:')}:${flag.choices ? `(${flag.choices.join(' ')})` : ' '}` : '';
  const text = `[${flag.summary.replace(/[\\[\]]/g, '\\$&')}]${value}`;
  const named = forms.map((form) => (flag.value && form.startsWith('--') ? `${form}=` : flag.value ? `${form}+` : form));
  return named.length === 1 ? quote(`${exclusive}${named[0]}${text}`) : `${quote(exclusive)}{${named.join(',')}}${quote(text)}`;
}
