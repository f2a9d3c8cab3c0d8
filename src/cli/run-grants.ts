// Runs grant, grants and revoke, and prints their results for a person or (-o json) a machine.
import { grant } from "../admin/grants/grant.ts";
import { GRANTS_TABLE_HEADER, grantsTableRows, listGrants } from "../admin/grants/list.ts";
import { revoke } from "../admin/grants/revoke.ts";
import { writeStdout as out } from "../admin/output.ts";
import type { KubeApi } from "../kube/api.ts";
import type { GrantOptions, GrantsOptions, RevokeOptions } from "./grant-flags.ts";
import { table } from "../util/table.ts";

export async function runGrantCommand(api: KubeApi, opts: GrantOptions | GrantsOptions | RevokeOptions, namespace: string): Promise<number> {
  switch (opts.command) {
    case "grant": {
      const g = await grant(api, { namespace, kind: opts.kind, name: opts.name, subjects: opts.subjects, forMs: opts.forMs, reason: opts.reason });
      if (g.advisory) process.stderr.write(`${g.advisory}\n`);
      if (opts.output === "json") await out(JSON.stringify(g, null, 2));
      else await out(`${g.renewed ? "Renewed" : "Granted"}: ${g.subjects.join(", ")} may read the logs of ${g.workload} in namespace ${namespace} until ${g.expires} (RoleBinding ${g.binding}, reason: ${g.reason}, granted by ${g.grantedBy}).`);
      return 0;
    }
    case "grants": {
      const rows = await listGrants(api, namespace, opts.workload);
      if (opts.output === "json") await out(JSON.stringify(rows, null, 2));
      else if (rows.length === 0) process.stderr.write(`No workload of podlogreader's in namespace ${namespace}${opts.workload ? ` matches ${opts.workload.kind}/${opts.workload.name}` : ""} has anyone bound to its Role.\n`);
      else await out(table(GRANTS_TABLE_HEADER, grantsTableRows(rows)));
      return 0;
    }
    case "revoke": {
      const target = opts.target;
      const done = await revoke(api, "binding" in target ? { namespace, binding: target.binding } : { namespace, ...target.workload, subject: target.subject });
      if (opts.output === "json") await out(JSON.stringify(done, null, 2));
      else {
        for (const r of done) {
          await out(r.action === "deleted"
            ? `Revoked: deleted RoleBinding ${namespace}/${r.binding} (${r.subjects.join(", ")}).`
            : `Revoked: took ${r.subjects.join(", ")} out of RoleBinding ${namespace}/${r.binding}; its other subjects keep the grant.`);
        }
        process.stderr.write("A log stream already open (kubectl logs -f) goes on until it ends: Kubernetes authorizes a request when it starts.\n");
      }
      return 0;
    }
  }
}
