// Runs the admin commands and prints their results for a terminal (tables) or a machine (JSON).
import { chmodSync, writeFileSync } from "node:fs";
import { audit } from "../admin/audit.ts";
import { cleanup } from "../admin/cleanup.ts";
import { deletedLine, leftAloneLine } from "../admin/cleanup/format.ts";
import { CLEANUP_RESOURCES, type CleanupKind } from "../admin/cleanup/plan.ts";
import { auditJson, auditTable } from "../admin/audit/format.ts";
import { writeStdout } from "../admin/output.ts";
import { issueKubeconfig } from "../admin/kubeconfig.ts";
import { status } from "../admin/status.ts";
import { KubeApi } from "../kube/api.ts";
import { loadConnection } from "../kube/config.ts";
import { Leases } from "../kube/resources.ts";
import { Transport } from "../kube/transport.ts";
import { dump as dumpYaml, load as loadYaml } from "js-yaml";
import { VERSION } from "../version.ts";
import { commandHelp, parseAdmin, type AdminCommand } from "./admin.ts";
import { UsageError } from "./flags.ts";
import { programName } from "./program.ts";
import { runGrantCommand } from "./run-grants.ts";
import { table } from "../util/table.ts";

/** Everything a command prints goes out before the process exits, however slow the pipe. */
const out = writeStdout;
const err = (s: string) => process.stderr.write(`${s}\n`);

export async function runAdmin(command: AdminCommand, argv: string[]): Promise<number> {
  const program = programName();
  let opts;
  try {
    opts = parseAdmin(command, argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`${program} ${command}: ${e.message}\nRun '${program} ${command} --help' for the flags.`);
    return 2;
  }
  if (opts.help) {
    await out(commandHelp(command, program));
    return 0;
  }
  if (opts.command === "version") {
    const version = { version: VERSION };
    await out(opts.output === "json" ? JSON.stringify(version, null, 2) : opts.output === "yaml" ? dumpYaml(version) : `podlogreader ${VERSION}`);
    return 0;
  }
  try {
    const connection = loadConnection({ kubeconfig: opts.kubeconfig, context: opts.context });
    const api = new KubeApi(new Transport(connection));
    switch (opts.command) {
      case "grant":
      case "grants":
      case "revoke":
        return await runGrantCommand(api, opts, opts.namespace ?? connection.namespace ?? "default");
      case "kubeconfig": {
        const namespace = opts.namespace ?? connection.namespace ?? "default";
        const issued = await issueKubeconfig(api, connection, { namespace, kind: opts.kind, name: opts.name, durationSeconds: opts.durationMs / 1000 });
        const text = opts.output === "json" ? JSON.stringify(loadYaml(issued.yaml), null, 2) : issued.yaml;
        if (!opts.outputFile) {
          await out(text);
        } else {
          writeFileSync(opts.outputFile, text, { mode: 0o600 });
          chmodSync(opts.outputFile, 0o600);
          err(`Wrote ${opts.outputFile}: ServiceAccount ${namespace}/${issued.serviceAccount}, valid until ${issued.expires}.`);
        }
        return 0;
      }
      case "audit": {
        const report = await audit(api, { namespace: opts.namespace });
        await out(opts.output === "json" ? auditJson(report) : auditTable(report));
        return report.ok ? 0 : 1;
      }
      case "status": {
        const rows = await status(api, opts.namespace);
        if (opts.output === "json") await out(JSON.stringify(rows, null, 2));
        else await out(table(["NAMESPACE", "KIND", "NAME", "PODS", "ROLE", "MODE", "STATE", "LAST-SYNCED"], rows.map((r) => [r.namespace, r.kind, r.name, String(r.pods), r.role, r.mode ?? "-", r.state, r.lastSynced ?? "-"])));
        return 0;
      }
      case "cleanup": {
        const namespaces = opts.allNamespaces ? undefined : opts.namespaces.length > 0 ? opts.namespaces : [connection.namespace ?? "default"];
        const text = opts.output !== "json";
        const resource = (kind: string) => (kind === "Lease" ? Leases : CLEANUP_RESOURCES[kind as CleanupKind]);
        // Each deletion is printed as it happens, in order.
        let printed = Promise.resolve();
        const report = await cleanup(api, { namespaces, lease: opts.lease, waitForLeaseMs: opts.waitForLeaseMs, dryRun: opts.dryRun }, {
          removed: (r) => {
            if (text) printed = printed.then(() => out(deletedLine(resource(r.kind), r.namespace, r.name, opts.dryRun)));
          },
          warn: (message) => err(`Warning: ${message}`),
          note: err,
        });
        await printed;
        if (text) {
          for (const l of report.leftAlone) await out(leftAloneLine(resource(l.kind), l.namespace, l.name, l.why));
          if (report.ok && report.removed.length === 0) err(`No resources made by podlogreader found ${namespaces ? `in namespace ${namespaces.join(", ")}` : "in any namespace"}.`);
        } else {
          await out(JSON.stringify(report, null, 2));
        }
        for (const e of report.errors) err(`${program} cleanup: ${e}`);
        return report.ok ? 0 : 1;
      }
    }
  } catch (e) {
    err(`${program} ${command}: ${(e as Error).message}`);
    return 1;
  }
}
