// What every command of the binary is: its flags, its help, a parser and a runner. The registry
// (registry.ts) lists them; defineCommand gives each the same handling of usage errors and --help.
import { flagSetHelp, type FlagSet } from "../flags/flag-set.ts";
import { UsageError, wrap } from "../flags/parse.ts";
import { writeStdout } from "../util/stdout.ts";

export interface HelpRequest {
  help: true;
}

interface About {
  name: string;
  /** The arguments after the command word, for the program's list of commands. */
  args: string;
  /** What it does, in a few words, for the program's list of commands. */
  does: string;
  flags: FlagSet;
}

export interface CommandSpec<O> extends About {
  /** The usage line after the program's name. */
  usage: string;
  /** What --help says between the usage line and the flags. */
  summary: string;
  /** Throws UsageError naming the first bad flag or argument. */
  parse(argv: string[]): O | HelpRequest;
  /** Runs with parsed options; resolves to the exit code. */
  execute(options: O, program: string): Promise<number>;
  /** A help text of its own instead of usage, summary and flags. */
  help?(program: string): string;
}

export interface Command extends About {
  help(program: string): string;
  /** Parses, answers --help, or runs; resolves to the exit code (2 on a usage error). */
  run(argv: string[], program: string): Promise<number>;
}

function isHelpRequest(options: unknown): options is HelpRequest {
  return typeof options === "object" && options !== null && (options as HelpRequest).help === true;
}

export function defineCommand<O>(spec: CommandSpec<O>): Command {
  const help = (program: string) =>
    spec.help?.(program) ??
    [`Usage: ${program} ${spec.usage}`, "", ...wrap(spec.summary, 78), "", "Flags:", ...flagSetHelp(spec.flags)].join("\n");
  return {
    name: spec.name,
    args: spec.args,
    does: spec.does,
    flags: spec.flags,
    help,
    async run(argv, program) {
      let options: O | HelpRequest;
      try {
        options = spec.parse(argv);
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        // `podlogreader status: ...`, and `podlogreader: ...` for the controller.
        const who = spec.name === "run" ? program : `${program} ${spec.name}`;
        process.stderr.write(`${who}: ${err.message}\nRun '${who} --help' for the flags.\n`);
        return 2;
      }
      if (isHelpRequest(options)) {
        await writeStdout(help(program));
        return 0;
      }
      return spec.execute(options, program);
    },
  };
}
