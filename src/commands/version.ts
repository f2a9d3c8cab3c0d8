// `podlogreader version`.
import { dump as dumpYaml } from "js-yaml";
import { helpFlag, outputFlag } from "../flags/common.ts";
import { parseFlagSet, type ValuesOf } from "../flags/flag-set.ts";
import { writeStdout } from "../util/stdout.ts";
import { VERSION } from "../version.ts";
import { defineCommand, type HelpRequest } from "./command.ts";

export const VERSION_FLAGS = {
  output: outputFlag(["json", "yaml"]),
  help: helpFlag,
};

export function parseVersion(argv: string[]): ValuesOf<typeof VERSION_FLAGS> | HelpRequest {
  const { values } = parseFlagSet(VERSION_FLAGS, argv);
  return values.help ? { help: true } : values;
}

export const versionCommand = defineCommand({
  name: "version",
  args: "",
  does: "print the version (-o json for JSON)",
  usage: "version [-o json|yaml]",
  summary: "Print the version of podlogreader.",
  flags: VERSION_FLAGS,
  parse: parseVersion,
  async execute(opts) {
    const version = { version: VERSION };
    await writeStdout(
      opts.output === "json" ? JSON.stringify(version, null, 2) : opts.output === "yaml" ? dumpYaml(version) : `podlogreader ${VERSION}`,
    );
    return 0;
  },
});
