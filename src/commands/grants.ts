// `podlogreader grants`: who may read each workload's logs, until when and why.
import type { WorkloadKind } from "../access/kinds.ts";
import { GRANTS_TABLE_HEADER, grantsTableRows, listGrants } from "../admin/grants/list.ts";
import { connectionFlags, helpFlag, namespaceFlag, outputFlag, workloadArg } from "../flags/common.ts";
import { parseFlagSet, type ValuesOf } from "../flags/flag-set.ts";
import { table } from "../util/table.ts";
import { writeStdout } from "../util/stdout.ts";
import { defineCommand, type HelpRequest } from "./command.ts";
import { connect, failed } from "./connect.ts";

export const GRANTS_FLAGS = {
  ...connectionFlags,
  namespace: namespaceFlag("The namespace. Default: the kubeconfig context's namespace."),
  output: outputFlag(["table", "json"], "table"),
  help: helpFlag,
};

export type GrantsOptions = ValuesOf<typeof GRANTS_FLAGS> & { workload?: { kind: WorkloadKind; name: string } };

export function parseGrants(argv: string[]): GrantsOptions | HelpRequest {
  const { values, positionals } = parseFlagSet(GRANTS_FLAGS, argv, 1);
  if (values.help) return { help: true };
  return { ...values, workload: workloadArg(positionals[0]) };
}

export const grantsCommand = defineCommand({
  name: "grants",
  args: "...",
  does: "list who may read each workload's logs, until when and why",
  usage: "grants -n NAMESPACE [KIND/NAME] [-o table|json]",
  summary:
    "List who may read each opted-in workload's logs through its managed Role: its managed ServiceAccount, grants (until when, " +
    "why, granted by whom) and RoleBindings podlogreader did not issue.",
  flags: GRANTS_FLAGS,
  parse: parseGrants,
  async execute(opts, program) {
    try {
      const { api, namespace } = connect(opts);
      const rows = await listGrants(api, namespace, opts.workload);
      if (opts.output === "json") await writeStdout(JSON.stringify(rows, null, 2));
      else if (rows.length === 0)
        process.stderr.write(
          `No workload of podlogreader's in namespace ` +
            `${namespace}${opts.workload ? ` matches ${opts.workload.kind}/${opts.workload.name}` : ""} has anyone bound to its ` +
            `Role.\n`,
        );
      else await writeStdout(table(GRANTS_TABLE_HEADER, grantsTableRows(rows)));
      return 0;
    } catch (err) {
      return failed(program, "grants", err);
    }
  },
});
