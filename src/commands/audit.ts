// `podlogreader audit`: what every managed ServiceAccount and every grant can reach, asked of the
// apiserver's authorizer.
import { audit } from "../admin/audit.ts";
import { auditJson, auditTable } from "../admin/audit/format.ts";
import { connectionFlags, helpFlag, namespaceFlag, outputFlag } from "../flags/common.ts";
import { parseFlagSet, type ValuesOf } from "../flags/flag-set.ts";
import { writeStdout } from "../util/stdout.ts";
import { defineCommand, type HelpRequest } from "./command.ts";
import { connect, failed } from "./connect.ts";

/** The flags of audit and status: they read the cluster, in one namespace or all. */
export const LIST_FLAGS = {
  ...connectionFlags,
  namespace: namespaceFlag("Only this namespace. Default: all."),
  output: outputFlag(["table", "json"], "table"),
  help: helpFlag,
};

export type ListOptions = ValuesOf<typeof LIST_FLAGS>;

export function parseList(argv: string[]): ListOptions | HelpRequest {
  const { values } = parseFlagSet(LIST_FLAGS, argv);
  return values.help ? { help: true } : values;
}

export const auditCommand = defineCommand({
  name: "audit",
  args: "...",
  does: "ask the apiserver's authorizer what each managed ServiceAccount and grant reads",
  usage: "audit [-n NAMESPACE] [-o table|json]",
  summary:
    "For every ServiceAccount podlogreader manages: work out its workload's pods afresh (controller ownerReferences by UID), " +
    "compare them with the names in its Role, find every RoleBinding and ClusterRoleBinding that reaches it (also through groups), " +
    "and ask the apiserver's authorizer about pod logs in its namespace, in other namespaces and cluster-wide, about ways to act " +
    "as another identity (create, update or patch pods and workloads; ephemeral containers; exec, attach, port-forward; " +
    "impersonation; tokens of other ServiceAccounts; secrets; approving certificate requests), and about other paths (nodes/proxy, " +
    "nodes/log, escalate, bind). Then the RoleBindings to people: grants still there past their expiry, grants that bind anything " +
    "but the managed Role of the workload they name, and bindings to a managed Role that podlogreader did not issue. Each finding " +
    "has a kind: stale-name, foreign-member, namespace-wide, cross-namespace, cluster-wide, other-identity, other-path, " +
    "expired-grant, misdirected-grant, unissued-binding, missing-name. Exit code 1 on any over-grant, 0 otherwise; under-grants " +
    "(missing-name) are reported.",
  flags: LIST_FLAGS,
  parse: parseList,
  async execute(opts, program) {
    try {
      const { api } = connect({ ...opts, namespace: undefined });
      const report = await audit(api, { namespace: opts.namespace });
      await writeStdout(opts.output === "json" ? auditJson(report) : auditTable(report));
      return report.ok ? 0 : 1;
    } catch (err) {
      return failed(program, "audit", err);
    }
  },
});
