// `podlogreader status`: the opted-in workloads and whether their Roles list their pods.
import { managedName } from "../access/names.ts";
import { isManagedFor } from "../access/ownership.ts";
import type { KubeApi } from "../kube/api.ts";
import { grantedPods, roleMode, type RoleMode } from "../access/role-pods.ts";
import type { PolicyRule } from "../kube/objects.ts";
import { snapshot } from "./snapshot.ts";

export interface StatusRow {
  namespace: string;
  kind: string;
  name: string;
  pods: number;
  role: string;
  /** names: the Role names the pods; none: it names no pod (the webhook decides); absent without a Role of podlogreader's. */
  mode?: RoleMode;
  /** in-sync, out-of-sync, missing, or conflict (a Role of that name podlogreader did not create). */
  state: "in-sync" | "out-of-sync" | "missing" | "conflict";
  lastSynced?: string;
}

export async function status(api: KubeApi, namespace?: string): Promise<StatusRow[]> {
  const snap = await snapshot(api, namespace);
  const roles = new Map(snap.roles.map((r) => [`${r.metadata.namespace}/${r.metadata.name}`, r]));
  return snap.optedIn.map((w) => {
    const role = managedName(w.kind, w.name);
    const key = `${w.namespace}/${role}`;
    const pods = snap.world.podNamesOf(w).sort();
    const live = roles.get(key);
    const managed = live && isManagedFor(live.metadata, w);
    const state: StatusRow["state"] = !live ? "missing" : !managed ? "conflict" : syncState(live, pods);
    return {
      namespace: w.namespace,
      kind: w.kind,
      name: w.name,
      pods: pods.length,
      role,
      ...(managed ? { mode: roleMode(live) } : {}),
      state,
      lastSynced: snap.roleWrittenAt.get(key),
    };
  });
}

/**
 * Whether a managed Role is in sync with the workload's current pods: a Role that names pods must
 * name exactly them; one that names none (`none` mode, or a workload with no pods) holds nothing
 * that can go stale.
 */
export function syncState(role: { rules?: PolicyRule[] | null }, pods: readonly string[]): "in-sync" | "out-of-sync" {
  if (roleMode(role) === "none") return "in-sync";
  return JSON.stringify(grantedPods(role)) === JSON.stringify([...pods].sort()) ? "in-sync" : "out-of-sync";
}
