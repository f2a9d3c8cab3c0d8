// One consistent-enough read of what the admin commands look at: the workloads and opted-in pods
// (through the same membership rules as the controller) and the objects podlogreader manages.
import { KINDS, WORKLOAD_KINDS, type WorkloadKind } from "../access/kinds.ts";
import { MANAGED_SELECTOR, OPT_IN_SELECTOR } from "../access/marks.ts";
import { parsePod, parseWorkload, World, type Workload } from "../access/membership.ts";
import { FIELD_MANAGER, type KubeApi } from "../kube/api.ts";
import { PartialObjectMetadata, parseObject, Role } from "../kube/objects.ts";
import { Pods, Roles, ServiceAccounts } from "../kube/resources.ts";

export interface Snapshot {
  world: World;
  /** Workloads that opted in and are workloads of their own (not a Deployment's ReplicaSet). */
  optedIn: Workload[];
  roles: Role[];
  /** When podlogreader last wrote each managed Role (`namespace/name`), from its managedFields. */
  roleWrittenAt: Map<string, string>;
  serviceAccounts: PartialObjectMetadata[];
}

export async function snapshot(api: KubeApi, namespace?: string): Promise<Snapshot> {
  const world = new World();
  const lists = await Promise.all(
    WORKLOAD_KINDS.map(async (kind) => [kind, (await api.list(KINDS[kind].resource, { namespace })).items] as const),
  );
  for (const [kind, items] of lists) for (const raw of items) world.updateWorkload(undefined, parseWorkload(kind as WorkloadKind)(raw));
  for (const raw of (await api.list(Pods, { namespace, labelSelector: OPT_IN_SELECTOR, metadataOnly: true })).items)
    world.updatePod(undefined, parsePod(raw));
  const roleWrittenAt = new Map<string, string>();
  const [roles, serviceAccounts] = await Promise.all([
    api.list(Roles, { namespace, labelSelector: MANAGED_SELECTOR }).then((l) =>
      l.items.map((raw) => {
        const role = parseObject(Role, raw, "Role");
        const fields = (raw as { metadata?: { managedFields?: { manager?: string; time?: string }[] } }).metadata?.managedFields ?? [];
        const times = fields
          .filter((f) => f.manager === FIELD_MANAGER && f.time)
          .map((f) => f.time!)
          .sort();
        if (times.length) roleWrittenAt.set(`${role.metadata.namespace}/${role.metadata.name}`, times.at(-1)!);
        return role;
      }),
    ),
    api
      .list(ServiceAccounts, { namespace, labelSelector: MANAGED_SELECTOR, metadataOnly: true })
      .then((l) => l.items.map((r) => parseObject(PartialObjectMetadata, r, "ServiceAccount"))),
  ]);
  const optedIn = [...world.managedWorkloads()].sort((a, b) =>
    `${a.namespace}/${a.kind}/${a.name}`.localeCompare(`${b.namespace}/${b.kind}/${b.name}`),
  );
  return { world, optedIn, roles, roleWrittenAt, serviceAccounts };
}
