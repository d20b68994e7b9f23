// `resource-hooks completion bash|zsh|fish`: commander has no completion of its own, so the
// scripts are generated from the live command tree — a command or flag added later completes
// without anyone editing a script.
import { Argument, type Command, type Option } from "commander";

interface Node {
  /** Command names from the root, e.g. ["runs", "list"]; [] for the program itself. */
  path: string[];
  description: string;
  subcommands: Node[];
  /** Choices of positional arguments (completion's shell), completed like subcommands. */
  argChoices: string[];
  options: Array<{ flags: string[]; takesValue: boolean; choices: string[]; description: string }>;
}

function tree(cmd: Command, path: string[] = []): Node {
  const options = cmd.options.map((o: Option) => ({
    flags: [o.short, o.long].filter((f): f is string => Boolean(f)),
    takesValue: o.required || o.optional,
    choices: o.argChoices ?? [],
    description: o.description,
  }));
  // commander adds -h/--help itself, without listing it among the options.
  options.push({ flags: ["-h", "--help"], takesValue: false, choices: [], description: "show help" });
  return {
    path,
    description: cmd.description(),
    subcommands: cmd.commands.map((c) => tree(c, [...path, c.name()])),
    argChoices: cmd.registeredArguments.flatMap((a) => a.argChoices ?? []),
    options,
  };
}

function flatten(node: Node): Node[] {
  return [node, ...node.subcommands.flatMap(flatten)];
}

const words = (xs: string[]) => xs.join(" ");
/** Single-quoted for sh and fish: descriptions may hold any character. */
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const fishQuote = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

/**
 * One table shared by the bash and zsh scripts: for a command path, its subcommands, its flags,
 * the flags that take a value, and the choices of those that have them.
 */
function shellTable(nodes: Node[], fn: string): string {
  const cases = nodes
    .map((n) => {
      const opts = n.options.flatMap((o) => o.flags);
      const valued = n.options.filter((o) => o.takesValue).flatMap((o) => o.flags);
      const choiceCases = n.options
        .filter((o) => o.choices.length > 0)
        .map((o) => `${o.flags.join("|")}) rh_choices=${quote(words(o.choices))};;`)
        .join(" ");
      const subs = [...n.subcommands.map((s) => s.path.at(-1)!), ...n.argChoices];
      return [
        `    ${quote(words(n.path))})`,
        `      rh_subs=${quote(words(subs))}`,
        `      rh_opts=${quote(words(opts))}`,
        `      rh_valued=${quote(words(valued))}`,
        `      case "$2" in ${choiceCases} esac;;`,
      ].join("\n");
    })
    .join("\n");
  return `${fn}() {
  # $1: command path ("runs list"), $2: the previous word; sets rh_subs, rh_opts, rh_valued, rh_choices
  rh_subs=""; rh_opts=""; rh_valued=""; rh_choices=""
  case "$1" in
${cases}
  esac
}`;
}

export function bashScript(program: Command): string {
  const name = program.name();
  const nodes = flatten(tree(program));
  return `# ${name} completion for bash: source <(${name} completion bash)
${shellTable(nodes, "_resource_hooks_table")}

_resource_hooks() {
  local cur prev w i rh_path="" rh_subs rh_opts rh_valued rh_choices
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    _resource_hooks_table "$rh_path" ""
    case " $rh_subs " in *" $w "*) rh_path="\${rh_path:+$rh_path }$w" ;; esac
  done
  _resource_hooks_table "$rh_path" "$prev"
  if [[ -n "$rh_choices" ]]; then
    COMPREPLY=($(compgen -W "$rh_choices" -- "$cur"))
    return
  fi
  if [[ " $rh_valued " == *" $prev "* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$rh_opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$rh_subs" -- "$cur"))
  fi
}
complete -o default -F _resource_hooks ${name}
`;
}

export function zshScript(program: Command): string {
  const name = program.name();
  const nodes = flatten(tree(program));
  return `#compdef ${name}
# ${name} completion for zsh: source <(${name} completion zsh)  (after compinit)
${shellTable(nodes, "_resource_hooks_table")}

_resource_hooks() {
  local w i rh_path="" rh_subs rh_opts rh_valued rh_choices
  for ((i = 2; i < CURRENT; i++)); do
    w="\${words[i]}"
    _resource_hooks_table "$rh_path" ""
    if (( \${\${(z)rh_subs}[(Ie)$w]} )); then rh_path="\${rh_path:+$rh_path }$w"; fi
  done
  _resource_hooks_table "$rh_path" "\${words[CURRENT-1]}"
  if [[ -n "$rh_choices" ]]; then
    compadd -- \${(z)rh_choices}
  elif (( \${\${(z)rh_valued}[(Ie)\${words[CURRENT-1]}]} )); then
    _files
  elif [[ "\${words[CURRENT]}" == -* ]]; then
    compadd -- \${(z)rh_opts}
  else
    compadd -- \${(z)rh_subs}
  fi
}
compdef _resource_hooks ${name}
`;
}

export function fishScript(program: Command): string {
  const name = program.name();
  const nodes = flatten(tree(program));
  const lines = [`# ${name} completion for fish: ${name} completion fish | source`, `complete -c ${name} -f`];
  for (const n of nodes) {
    // The condition that the command line is at exactly this command path.
    const seen = n.path.map((p) => `__fish_seen_subcommand_from ${p}`);
    const atNode = n.path.length === 0 ? "__fish_use_subcommand" : seen.join("; and ");
    const childNames = n.subcommands.map((s) => s.path.at(-1)!);
    const noChild = childNames.length > 0 ? `; and not __fish_seen_subcommand_from ${words(childNames)}` : "";
    const subCondition = fishQuote(`${atNode}${n.path.length === 0 ? "" : noChild}`);
    for (const s of n.subcommands)
      lines.push(`complete -c ${name} -n ${subCondition} -a ${s.path.at(-1)!} -d ${fishQuote(s.description)}`);
    if (n.argChoices.length > 0)
      lines.push(`complete -c ${name} -n ${fishQuote(atNode)} -a ${fishQuote(words(n.argChoices))}`);
    // The program's own flags (--version) only before a command; a command's flags only at it.
    const condition = ` -n ${fishQuote(n.path.length === 0 ? atNode : `${atNode}${noChild}`)}`;
    for (const o of n.options) {
      const short = o.flags.find((f) => /^-[^-]$/.test(f));
      const long = o.flags.find((f) => f.startsWith("--"));
      let value = o.takesValue ? " -r -F" : "";
      if (o.choices.length > 0) value = ` -x -a ${fishQuote(words(o.choices))}`;
      const flags = `${short ? ` -s ${short.slice(1)}` : ""}${long ? ` -l ${long.slice(2)}` : ""}`;
      lines.push(`complete -c ${name}${condition}${flags}${value} -d ${fishQuote(o.description)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

export function registerCompletion(program: Command): void {
  program
    .command("completion")
    .description("print a shell completion script: bash (source <(resource-hooks completion bash)), zsh, fish")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(["bash", "zsh", "fish"]))
    .action((shell: "bash" | "zsh" | "fish") => {
      const make = { bash: bashScript, zsh: zshScript, fish: fishScript }[shell];
      process.stdout.write(make(program));
    });
}
