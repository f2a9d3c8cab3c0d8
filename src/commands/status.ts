// `podlogreader status`: the opted-in workloads and their Roles.
import { status } from "../admin/status.ts";
import { table } from "../util/table.ts";
import { writeStdout } from "../util/stdout.ts";
import { LIST_FLAGS, parseList } from "./audit.ts";
import { defineCommand } from "./command.ts";
import { connect, failed } from "./connect.ts";

export const statusCommand = defineCommand({
  name: "status",
  args: "...",
  does: "list the opted-in workloads and their Roles",
  usage: "status [-n NAMESPACE] [-o table|json]",
  summary:
    "List the opted-in workloads: namespace, kind and name, pod count, Role, whether the Role lists exactly the current pods, and " +
    "when podlogreader last wrote it.",
  flags: LIST_FLAGS,
  parse: parseList,
  async execute(opts, program) {
    try {
      const { api } = connect({ ...opts, namespace: undefined });
      const rows = await status(api, opts.namespace);
      if (opts.output === "json") await writeStdout(JSON.stringify(rows, null, 2));
      else
        await writeStdout(
          table(
            ["NAMESPACE", "KIND", "NAME", "PODS", "ROLE", "MODE", "STATE", "LAST-SYNCED"],
            rows.map((r) => [r.namespace, r.kind, r.name, String(r.pods), r.role, r.mode ?? "-", r.state, r.lastSynced ?? "-"]),
          ),
        );
      return 0;
    } catch (err) {
      return failed(program, "status", err);
    }
  },
});
