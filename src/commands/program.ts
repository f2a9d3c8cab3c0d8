// How the binary was invoked: as `podlogreader`, or by kubectl as the plugin `kubectl-podlogreader`.
import { basename } from "node:path";

/** The name to show in usage and errors: "kubectl podlogreader" when run as a kubectl plugin. */
export function programName(invokedAs: string[] = [process.argv0, process.execPath]): string {
  const plugin = invokedAs.some((p) => /^kubectl-podlogreader(\.exe)?$/i.test(basename(p ?? "")));
  return plugin ? "kubectl podlogreader" : "podlogreader";
}
