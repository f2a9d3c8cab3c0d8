// A namespace's objects as the model reads them: fresh from LISTs (for verdicts) or from the
// monitor's watches (while the run goes on).
import type { V1Pod, V1Role, V1RoleBinding, V1ServiceAccount } from "@kubernetes/client-node";
import { KINDS, type WorkloadKind } from "../../src/access/kinds.ts";
import type { KubeApi } from "../../src/kube/api.ts";
import { Pods, RoleBindings, Roles, ServiceAccounts, type ResourceType } from "../../src/kube/resources.ts";
import { listObjects } from "./kube.ts";
import { workloadFact, type RawWorkload, type Snapshot } from "./model.ts";
import { ALL_KINDS } from "./plan.ts";

/** Every resource the model reads, by name. */
export const RESOURCES: Record<WorkloadKind | "Pod" | "Role" | "RoleBinding" | "ServiceAccount", ResourceType> = {
  ...(Object.fromEntries(ALL_KINDS.map((k) => [k, KINDS[k].resource])) as Record<WorkloadKind, ResourceType>),
  Pod: Pods,
  Role: Roles,
  RoleBinding: RoleBindings,
  ServiceAccount: ServiceAccounts,
};
export type ResourceName = keyof typeof RESOURCES;

export type Objects = { [K in ResourceName]: unknown[] };

export function snapshotOf(namespace: string, o: Objects): Snapshot {
  return {
    namespace,
    workloads: ALL_KINDS.flatMap((k) => (o[k] as RawWorkload[]).map((w) => workloadFact(k, w))),
    pods: o.Pod as V1Pod[],
    roles: o.Role as V1Role[],
    roleBindings: o.RoleBinding as V1RoleBinding[],
    serviceAccounts: o.ServiceAccount as V1ServiceAccount[],
  };
}

export async function loadSnapshot(api: KubeApi, namespace: string): Promise<Snapshot> {
  const names = Object.keys(RESOURCES) as ResourceName[];
  const lists = await Promise.all(names.map((n) => listObjects<unknown>(api, RESOURCES[n], namespace)));
  return snapshotOf(namespace, Object.fromEntries(names.map((n, i) => [n, lists[i]!])) as Objects);
}
