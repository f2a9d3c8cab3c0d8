// `podlogreader grants`: who may read each workload's logs through its managed Role.
import { boundSubjects, formatSubject, type BindingSource } from "../../access/grants.ts";
import { isWorkloadKind, type WorkloadKind } from "../../access/kinds.ts";
import { MANAGED_SELECTOR } from "../../access/marks.ts";
import { managedName } from "../../access/names.ts";
import { managedOwner } from "../../access/ownership.ts";
import type { KubeApi } from "../../kube/api.ts";
import { parseObject, Role, RoleBinding } from "../../kube/objects.ts";
import { RoleBindings, Roles } from "../../kube/resources.ts";
import { AdminError } from "../errors.ts";

export interface GrantRow {
  namespace: string;
  workload: string;
  subject: string;
  /** service-account: the binding the controller keeps; grant: issued by podlogreader grant; foreign: bound by someone else. */
  source: "service-account" | "grant" | "foreign";
  binding: string;
  expires?: string;
  expired?: boolean;
  reason?: string;
  grantedBy?: string;
}

const SOURCE_NAMES: Record<BindingSource["kind"], GrantRow["source"]> = {
  "managed-service-account": "service-account",
  grant: "grant",
  foreign: "foreign",
};

export async function listGrants(
  api: KubeApi,
  namespace: string,
  only?: { kind: WorkloadKind; name: string },
  nowMs = Date.now(),
): Promise<GrantRow[]> {
  const roles = (await api.list(Roles, { namespace, labelSelector: MANAGED_SELECTOR })).items.map((r) => parseObject(Role, r, "Role"));
  const bindings = (await api.list(RoleBindings, { namespace })).items.map((b) => parseObject(RoleBinding, b, "RoleBinding"));
  const workloads = new Map<string, { kind: WorkloadKind; name: string }>();
  for (const r of roles) {
    const owner = managedOwner(r.metadata);
    if (!owner || !isWorkloadKind(owner.kind) || r.metadata.name !== managedName(owner.kind, owner.name)) continue;
    if (only && (owner.kind !== only.kind || owner.name !== only.name)) continue;
    workloads.set(`${owner.kind}/${owner.name}`, { kind: owner.kind, name: owner.name });
  }
  if (only && workloads.size === 0)
    throw new AdminError(
      `${only.kind} ${namespace}/${only.name} has no Role of podlogreader's (${managedName(only.kind, only.name)}): nobody reads ` +
        `its logs through podlogreader`,
    );
  const rows: GrantRow[] = [];
  for (const [ref, w] of [...workloads].sort(([a], [b]) => a.localeCompare(b))) {
    for (const b of boundSubjects(bindings, w, nowMs)) {
      const s = b.source;
      rows.push({
        namespace,
        workload: ref,
        subject: formatSubject(b.subject),
        source: SOURCE_NAMES[s.kind],
        binding: b.binding.name,
        ...(s.kind === "grant" ? { expires: s.expires, expired: s.expired, reason: s.reason, grantedBy: s.grantedBy } : {}),
      });
    }
  }
  return rows;
}

export function grantsTableRows(rows: GrantRow[]): string[][] {
  return rows.map((r) => [
    r.workload,
    r.subject,
    r.source,
    r.source !== "grant" ? "never" : `${r.expires ?? "unreadable"}${r.expired ? " (expired)" : ""}`,
    r.reason ?? "-",
    r.grantedBy ?? "-",
    r.binding,
  ]);
}
export const GRANTS_TABLE_HEADER = ["WORKLOAD", "SUBJECT", "SOURCE", "EXPIRES", "REASON", "GRANTED-BY", "BINDING"];
