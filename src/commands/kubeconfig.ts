// `podlogreader kubeconfig -n NS KIND/NAME`: a kubeconfig with a short-lived token of the
// workload's managed ServiceAccount.
import { chmodSync, writeFileSync } from "node:fs";
import { load as loadYaml } from "js-yaml";
import * as v from "valibot";
import type { WorkloadKind } from "../access/kinds.ts";
import { issueKubeconfig } from "../admin/kubeconfig.ts";
import { connectionFlags, helpFlag, namespaceFlag, outputFlag, requiredWorkloadArg } from "../flags/common.ts";
import { durationFlag, flag, parseFlagSet, type ValuesOf } from "../flags/flag-set.ts";
import { writeStdout } from "../util/stdout.ts";
import { defineCommand, type HelpRequest } from "./command.ts";
import { connect, failed } from "./connect.ts";

export const KUBECONFIG_FLAGS = {
  ...connectionFlags,
  namespace: namespaceFlag("The workload's namespace. Default: the kubeconfig context's namespace."),
  durationMs: durationFlag(
    { name: "duration", default: "1h", help: "How long the token is valid, e.g. 30m, 8h. The apiserver accepts 10m at least." },
    (ms) => (ms < 1000 || ms % 1000 !== 0 ? "--duration must be a whole number of seconds or more, e.g. 30m or 8h" : undefined),
  ),
  output: outputFlag(["yaml", "json"], "yaml"),
  outputFile: flag(
    { name: "output-file", kind: "string", value: "FILE", help: "Write the kubeconfig to FILE (mode 0600) instead of standard output." },
    v.optional(v.pipe(v.string(), v.minLength(1, "--output-file needs a file name"))),
  ),
  help: helpFlag,
};

export type KubeconfigOptions = ValuesOf<typeof KUBECONFIG_FLAGS> & { kind: WorkloadKind; name: string };

export function parseKubeconfig(argv: string[]): KubeconfigOptions | HelpRequest {
  const { values, positionals } = parseFlagSet(KUBECONFIG_FLAGS, argv, 1);
  if (values.help) return { help: true };
  return { ...values, ...requiredWorkloadArg(positionals[0], "kubeconfig") };
}

export const kubeconfigCommand = defineCommand({
  name: "kubeconfig",
  args: "...",
  does: "hand out a short-lived kubeconfig of a workload's ServiceAccount",
  usage: "kubeconfig -n NAMESPACE KIND/NAME [--duration 1h] [--output-file FILE]",
  summary:
    "Write a kubeconfig with a short-lived token of the workload's managed ServiceAccount: it reads that workload's pod logs and " +
    "nothing else. Refused (exit code 1), naming the permission and the binding, when the audit finds the ServiceAccount reaches " +
    "more, such as creating pods or workloads that could run as another ServiceAccount.",
  flags: KUBECONFIG_FLAGS,
  parse: parseKubeconfig,
  async execute(opts, program) {
    try {
      const { api, connection, namespace } = connect(opts);
      const issued = await issueKubeconfig(api, connection, {
        namespace,
        kind: opts.kind,
        name: opts.name,
        durationSeconds: opts.durationMs / 1000,
      });
      const text = opts.output === "json" ? JSON.stringify(loadYaml(issued.yaml), null, 2) : issued.yaml;
      if (!opts.outputFile) {
        await writeStdout(text);
      } else {
        writeFileSync(opts.outputFile, text, { mode: 0o600 });
        chmodSync(opts.outputFile, 0o600);
        process.stderr.write(
          `Wrote ${opts.outputFile}: ServiceAccount ${namespace}/${issued.serviceAccount}, valid until ${issued.expires}.\n`,
        );
      }
      return 0;
    } catch (err) {
      return failed(program, "kubeconfig", err);
    }
  },
});
