// How the binary was invoked: as `podlogreader`, or by kubectl as the plugin `kubectl-podlogreader`.
import { basename } from "node:path";
import { isAdminCommand } from "./admin.ts";

/** The name to show in usage and errors: "kubectl podlogreader" when run as a kubectl plugin. */
export function programName(invokedAs: string[] = [process.argv0, process.execPath]): string {
  const plugin = invokedAs.some((p) => /^kubectl-podlogreader(\.exe)?$/i.test(basename(p ?? "")));
  return plugin ? "kubectl podlogreader" : "podlogreader";
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
  if (word === "run" || word === "logs" || word === "authorizer-config" || isAdminCommand(word)) return { command: word, args: [...argv.slice(i + 1), ...leading] };
  return { command: "run", args: argv };
}
