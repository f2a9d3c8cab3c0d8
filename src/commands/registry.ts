// Every command of the binary, in the order --help lists them. This list alone drives dispatch,
// the program's help and shell completion.
import { authorizerConfigCommand } from "./authorizer-config.ts";
import { auditCommand } from "./audit.ts";
import { cleanupCommand } from "./cleanup.ts";
import { defineCommand, type Command } from "./command.ts";
import { completionCommandFor } from "./completion.ts";
import { grantCommand } from "./grant.ts";
import { grantsCommand } from "./grants.ts";
import { kubeconfigCommand } from "./kubeconfig.ts";
import { logsCommand } from "./logs.ts";
import { revokeCommand } from "./revoke.ts";
import { RUN_COMMAND } from "./run.ts";
import { statusCommand } from "./status.ts";
import { versionCommand } from "./version.ts";
import { flagSetHelp } from "../flags/flag-set.ts";
import { programName } from "./program.ts";

const runCommand = defineCommand({ ...RUN_COMMAND, help: programHelp });

export const COMMANDS: readonly Command[] = [
  runCommand,
  kubeconfigCommand,
  auditCommand,
  statusCommand,
  grantCommand,
  grantsCommand,
  revokeCommand,
  cleanupCommand,
  logsCommand,
  authorizerConfigCommand,
  completionCommandFor(() => COMMANDS),
  versionCommand,
];

export function commandNamed(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** The help of one command, by name; throws for a name no command has. */
export function commandHelp(name: string, program = "podlogreader"): string {
  const command = commandNamed(name);
  if (!command) throw new Error(`no command ${name}`);
  return command.help(program);
}

/** The program's list of commands, as `--help` shows it. */
export function usageLines(program: string): string[] {
  const width = Math.max(...COMMANDS.map((c) => `${c.name} ${c.args}`.length)) + 2;
  return [
    ...COMMANDS.map((c, i) => {
      const words = c.name === "run" ? `[run] ${c.args}` : `${c.name} ${c.args}`;
      return `${i === 0 ? "Usage:" : "      "} ${program} ${words.padEnd(width)} ${c.does}`;
    }),
    `--kubeconfig, --context and -n/--namespace may also come before the command, as kubectl's`,
    `global flags do. Run '${program} COMMAND --help' for a command's flags.`,
  ];
}

/** `podlogreader --help`: what the controller does, the commands, and the controller's flags. */
export function programHelp(program = "podlogreader"): string {
  return [
    "podlogreader keeps, for every workload whose pod template carries the label",
    "podlogreader-affiliate: enable, a Role in its namespace that grants 'get pods/log' on",
    "exactly that workload's current pods. Workloads and the names they get:",
    "  Deployment podlogreader-<name>      StatefulSet podlogreader-sts-<name>",
    "  DaemonSet  podlogreader-ds-<name>   ReplicaSet  podlogreader-rs-<name> (if no Deployment owns it)",
    "  Job        podlogreader-job-<name>  CronJob     podlogreader-cronjob-<name>",
    "                                      (a Job a CronJob owns counts for the CronJob)",
    "  A Deployment whose name begins with sts-, ds-, rs-, job-, cronjob-, deploy- or hashed- gets",
    "  podlogreader-deploy-<name>, so it never asks for the name of a workload of another kind.",
    "  A name longer than 253 characters becomes podlogreader-hashed-<its beginning>-<hash>.",
    "",
    ...usageLines(program),
    "",
    "Flags of run:",
    ...flagSetHelp(RUN_COMMAND.flags),
    "",
    "Exit codes: 0 after SIGTERM or SIGINT, 1 on a fatal error, 2 on a bad flag.",
  ].join("\n");
}

/** kubectl's global flags, which may also stand before the command: `-n ns status`. */
const GLOBAL_WITH_VALUE = new Set(["--kubeconfig", "--context", "--namespace", "-n"]);

/**
 * Splits argv into the command and its arguments. Global flags written before the command move
 * behind it, so each command's own table parses them; without a command word it is `run`.
 */
export function splitCommand(argv: string[]): { command: string; args: string[] } {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i]!;
    const name = arg.includes("=") && arg.startsWith("--") ? arg.slice(0, arg.indexOf("=")) : arg;
    if (!GLOBAL_WITH_VALUE.has(name)) break;
    const width = name === arg ? 2 : 1;
    leading.push(...argv.slice(i, i + width));
    i += width;
  }
  const word = argv[i];
  if (word !== undefined && commandNamed(word)) return { command: word, args: [...argv.slice(i + 1), ...leading] };
  return { command: "run", args: argv };
}

/** Runs the command argv names (run when it names none); resolves to the exit code. */
export function dispatch(argv: string[], program = programName()): Promise<number> {
  const { command, args } = splitCommand(argv);
  return commandNamed(command)!.run(args, program);
}
