// `podlogreader status`: the opted-in workloads and whether their Roles list their pods.
import { managedName } from "../access/names.ts";
import { isManagedFor } from "../access/ownership.ts";
import type { KubeApi } from "../kube/api.ts";
import { snapshot } from "./snapshot.ts";

export interface StatusRow {
  namespace: string;
  kind: string;
  name: string;
  pods: number;
  role: string;
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
    let state: StatusRow["state"];
    if (!live) state = "missing";
    else if (!isManagedFor(live.metadata, w)) state = "conflict";
    else {
      const granted = (live.rules ?? []).find((r) => r.resources?.includes("pods/log"))?.resourceNames ?? [];
      state = JSON.stringify([...granted].sort()) === JSON.stringify(pods) ? "in-sync" : "out-of-sync";
    }
    return { namespace: w.namespace, kind: w.kind, name: w.name, pods: pods.length, role, state, lastSynced: snap.roleWrittenAt.get(key) };
  });
}
