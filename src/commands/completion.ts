// `podlogreader completion bash|zsh`: a shell completion script for the commands and their flags,
// written from the registry, so it cannot name a command or flag the binary does not have.
import * as v from "valibot";
import { helpFlag } from "../flags/common.ts";
import { parseFlagSet, type FlagSet } from "../flags/flag-set.ts";
import { UsageError } from "../flags/parse.ts";
import { writeStdout } from "../util/stdout.ts";
import { defineCommand, type Command, type HelpRequest } from "./command.ts";

const SHELLS = ["bash", "zsh"] as const;
type Shell = (typeof SHELLS)[number];

const COMPLETION_FLAGS = { help: helpFlag };

function flagWords(flags: FlagSet): string {
  return Object.values(flags)
    .flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])])
    .join(" ");
}

/** The script; `run`'s flags are also offered with no command word, since run is the default. */
export function completionScript(shell: Shell, commands: readonly Command[]): string {
  const names = commands.map((c) => c.name).join(" ");
  const run = commands.find((c) => c.name === "run");
  const cases = commands.map((c) => `    ${c.name}) flags="${flagWords(c.flags)}" ;;`);
  const bash = [
    "# podlogreader shell completion: commands and flags.",
    "_podlogreader() {",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's own parameter expansion
    '  local cur="${COMP_WORDS[COMP_CWORD]}" command="" flags="" i',
    `  local commands="${names}"`,
    "  for ((i = 1; i < COMP_CWORD; i++)); do",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's own parameter expansion
    '    if [[ " $commands " == *" ${COMP_WORDS[i]} "* ]]; then command="${COMP_WORDS[i]}"; break; fi',
    "  done",
    '  case "$command" in',
    ...cases,
    `    *) flags="${run ? flagWords(run.flags) : ""}" ;;`,
    "  esac",
    '  if [[ "$cur" == -* ]]; then',
    '    COMPREPLY=($(compgen -W "$flags" -- "$cur"))',
    '  elif [[ -z "$command" ]]; then',
    '    COMPREPLY=($(compgen -W "$commands" -- "$cur"))',
    "  else",
    "    COMPREPLY=()",
    "  fi",
    "}",
    "complete -F _podlogreader podlogreader",
  ];
  const zsh = ["autoload -U +X bashcompinit && bashcompinit"];
  return [...(shell === "zsh" ? zsh : []), ...bash].join("\n");
}

export function parseCompletion(argv: string[]): { shell: Shell } | HelpRequest {
  const { values, positionals } = parseFlagSet(COMPLETION_FLAGS, argv, 1);
  if (values.help) return { help: true };
  const shell = v.safeParse(v.picklist(SHELLS), positionals[0]);
  if (!shell.success)
    throw new UsageError(
      positionals[0] === undefined
        ? "completion needs a shell: bash or zsh"
        : `${JSON.stringify(positionals[0])} is not a shell this command writes for: bash or zsh`,
    );
  return { shell: shell.output };
}

/** The command, given the registry's list (which includes it). */
export function completionCommandFor(commands: () => readonly Command[]): Command {
  return defineCommand({
    name: "completion",
    args: "bash|zsh",
    does: "print a shell completion script",
    usage: "completion bash|zsh",
    summary:
      "Print a completion script for bash or zsh: it completes the command names and each command's flags. Load it with 'source " +
      "<(podlogreader completion bash)', or save it where your shell loads completions (for bash, " +
      "/etc/bash_completion.d/podlogreader).",
    flags: COMPLETION_FLAGS,
    parse: parseCompletion,
    async execute({ shell }) {
      await writeStdout(completionScript(shell, commands()));
      return 0;
    },
  });
}
