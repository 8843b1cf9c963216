import { type Completable, type CompletableProgram, quote } from './model.js';

// bash: one function, `_pglock`, reading COMP_WORDS. Subcommands only as the first word; after
// `--` or the first operand, the run program's words are a command line, completed as bash would
// complete that command (bash-completion's _command_offset when loaded, else commands, then files).
export function bashScript(programs: Completable): string {
  const all = [programs.run, ...programs.subcommands];
  const names = programs.subcommands.map((sub) => sub.name);
  return `# pglock completion for bash, made by \`pglock completion bash\`.
# Install: pglock completion bash > ~/.local/share/bash-completion/completions/pglock
_pglock_value() { # <program> <flag> <current word>: complete the flag's value
  local choices=
  case "$1 $2" in
${all.flatMap(valueCases).join('\n')}
  esac
  COMPREPLY=($(compgen -W "$choices" -- "$3"))
}

_pglock_command() { # <index>: the words from <index> on are a command line
  if declare -F _command_offset >/dev/null; then
    _command_offset "$1"
  elif (( COMP_CWORD == $1 )); then
    COMPREPLY=($(compgen -c -- "\${COMP_WORDS[COMP_CWORD]}"))
  else
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "\${COMP_WORDS[COMP_CWORD]}"))
  fi
}

_pglock() {
  local cur=\${COMP_WORDS[COMP_CWORD]} program= i=1 ended= operand=0 word flags valued operands
  COMPREPLY=()
  case \${COMP_WORDS[1]} in
    ${names.map(bashWord).join('|') || "''"}) (( COMP_CWORD > 1 )) && program=\${COMP_WORDS[1]} i=2 ;;
  esac
  case $program in
${all.map(programCase).join('\n')}
  esac
  for (( ; i < COMP_CWORD; i++ )); do
    word=\${COMP_WORDS[i]}
    if [[ -z $ended && $word == -- ]]; then
      ended=1
      [[ $operands == command ]] && { _pglock_command $((i + 1)); return; }
    elif [[ -z $ended && $word == -?* ]]; then
      if [[ \${COMP_WORDS[i+1]} == = ]]; then # --flag=value: bash splits the word at =
        (( i + 2 >= COMP_CWORD )) && { _pglock_value "$program" "$word" "\${cur#=}"; return; }
        (( i += 2 ))
      elif [[ " $valued " == *" $word "* ]]; then
        (( i + 1 == COMP_CWORD )) && { _pglock_value "$program" "$word" "$cur"; return; }
        (( i++ ))
      fi
    elif [[ $operands == command ]]; then
      _pglock_command "$i"
      return
    else
      (( operand++ ))
    fi
  done
  if [[ -z $ended && $cur == --*=* ]]; then # --flag=value in one word (= not in COMP_WORDBREAKS)
    _pglock_value "$program" "\${cur%%=*}" "\${cur#*=}"
    COMPREPLY=("\${COMPREPLY[@]/#/\${cur%%=*}=}")
  elif [[ -z $ended && $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ $operands == command ]]; then
    (( COMP_CWORD == 1 )) && COMPREPLY=($(compgen -W ${quote(names.join(' '))} -- "$cur"))
    COMPREPLY+=($(compgen -c -- "$cur"))
  else
    _pglock_value "$program" "#$operand" "$cur"
  fi
}
complete -F _pglock pglock
`;
}

// One case line per flag (and per operand, as #0, #1...) that has choices.
function valueCases(program: CompletableProgram): string[] {
  const flags = program.flags.filter((flag) => flag.choices).map((flag) => ({ words: [flag.long, ...(flag.short ? [flag.short] : [])], choices: flag.choices ?? [] }));
  const operands = program.operands === 'command' ? [] : program.operands.flatMap((operand, index) => (operand.choices ? [{ words: [`#${index}`], choices: operand.choices }] : []));
  return [...flags, ...operands].map(({ words, choices }) =>
    `    ${words.map((word) => bashWord(`${program.name} ${word}`)).join('|')}) choices=${quote(choices.join(' '))} ;;`);
}

function programCase(program: CompletableProgram): string {
  const words = program.flags.flatMap((flag) => [flag.long, ...(flag.short ? [flag.short] : [])]);
  const valued = program.flags.filter((flag) => flag.value).flatMap((flag) => [flag.long, ...(flag.short ? [flag.short] : [])]);
  return [
    `    ${bashWord(program.name)})`,
    `      flags=${quote(words.join(' '))}`,
    `      valued=${quote(valued.join(' '))}`,
    `      operands=${program.operands === 'command' ? 'command' : program.operands.length} ;;`,
  ].join('\n');
}

// A case pattern that matches the word literally ('' for the run program's empty name).
function bashWord(word: string): string {
  return /^[A-Za-z0-9_#-]+$/.test(word) ? word : quote(word);
}
