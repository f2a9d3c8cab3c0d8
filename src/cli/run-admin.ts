// Runs the admin commands and prints their results for a terminal (tables) or a machine (JSON).
import { chmodSync, writeFileSync } from "node:fs";
import { audit } from "../admin/audit.ts";
import { auditJson, auditTable } from "../admin/audit/format.ts";
import { writeStdout } from "../admin/output.ts";
import { issueKubeconfig } from "../admin/kubeconfig.ts";
import { status } from "../admin/status.ts";
import { KubeApi } from "../kube/api.ts";
import { loadConnection } from "../kube/config.ts";
import { Transport } from "../kube/transport.ts";
import { commandHelp, parseAdmin, type AdminCommand } from "./admin.ts";
import { UsageError } from "./flags.ts";
import { table } from "./table.ts";

const out = (s: string) => process.stdout.write(s.endsWith("\n") ? s : `${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

export async function runAdmin(command: AdminCommand, argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseAdmin(command, argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`podlogreader ${command}: ${e.message}\nRun 'podlogreader ${command} --help' for the flags.`);
    return 2;
  }
  if (opts.help) {
    out(commandHelp(command));
    return 0;
  }
  try {
    const connection = loadConnection({ kubeconfig: opts.kubeconfig });
    const api = new KubeApi(new Transport(connection));
    switch (opts.command) {
      case "kubeconfig": {
        const namespace = opts.namespace ?? connection.namespace ?? "default";
        const issued = await issueKubeconfig(api, connection, { namespace, kind: opts.kind, name: opts.name, durationSeconds: opts.durationSeconds });
        if (!opts.output) {
          out(issued.yaml);
        } else {
          writeFileSync(opts.output, issued.yaml, { mode: 0o600 });
          chmodSync(opts.output, 0o600);
          err(`Wrote ${opts.output}: ServiceAccount ${namespace}/${issued.serviceAccount}, valid until ${issued.expires}.`);
        }
        return 0;
      }
      case "audit": {
        const report = await audit(api, { namespace: opts.namespace });
        await writeStdout(opts.output === "json" ? auditJson(report) : auditTable(report));
        return report.ok ? 0 : 1;
      }
      case "status": {
        const rows = await status(api, opts.namespace);
        if (opts.output === "json") out(JSON.stringify(rows, null, 2));
        else out(table(["NAMESPACE", "KIND", "NAME", "PODS", "ROLE", "STATE", "LAST-SYNCED"], rows.map((r) => [r.namespace, r.kind, r.name, String(r.pods), r.role, r.state, r.lastSynced ?? "-"])));
        return 0;
      }
    }
  } catch (e) {
    err(`podlogreader ${command}: ${(e as Error).message}`);
    return 1;
  }
}
