// The audit report for a terminal (a table, then one line per finding) or a machine (JSON with a
// top-level `ok`).
import { table } from "../../util/table.ts";
import type { AuditReport } from "../audit.ts";

export function auditJson(report: AuditReport): string {
  return JSON.stringify(report, null, 2);
}

export function auditTable(report: AuditReport): string {
  const counts = new Map<string, { over: number; under: number }>();
  for (const f of report.findings) {
    const key = `${f.namespace}/${f.serviceAccount}`;
    const c = counts.get(key) ?? { over: 0, under: 0 };
    if (f.overGrant) c.over++;
    else c.under++;
    counts.set(key, c);
  }
  const lines = [
    table(
      ["NAMESPACE", "WORKLOAD", "SERVICEACCOUNT", "PODS", "READABLE", "OVER-GRANTS", "UNDER-GRANTS", "RESULT"],
      report.entries.map((e) => {
        const c = counts.get(`${e.namespace}/${e.serviceAccount}`) ?? { over: 0, under: 0 };
        return [
          e.namespace,
          e.workload,
          e.serviceAccount,
          String(e.pods.length),
          String(e.readable.length),
          String(c.over),
          String(c.under),
          c.over ? "OVER-GRANT" : c.under ? "under-grant" : "ok",
        ];
      }),
    ),
  ];
  const kindWidth = Math.max(0, ...report.findings.map((f) => f.kind.length));
  for (const f of report.findings)
    lines.push(`${(f.overGrant ? "OVER-GRANT" : "under-grant").padEnd(11)}  ${f.kind.padEnd(kindWidth)}  ${f.message}`);
  lines.push(
    `${report.entries.length} ServiceAccount(s) checked with ${report.reviews} access review(s): ${report.overGrants} ` +
      `over-grant(s), ${report.underGrants} under-grant(s).`,
  );
  return lines.join("\n");
}
