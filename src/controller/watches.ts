// The watches the controller keeps, one informer per resource (per namespace when scoped), each
// told to call back the controller's handler for every change.
import { KINDS, WORKLOAD_KINDS } from "../access/kinds.ts";
import { MANAGED_SELECTOR, OPT_IN_SELECTOR } from "../access/marks.ts";
import { keyOf, parsePod, parseWorkload, type Owned, type Workload } from "../access/membership.ts";
import type { KubeApi } from "../kube/api.ts";
import { Informer, InformerGroup, type InformerOptions } from "../kube/informer.ts";
import { PartialObjectMetadata, parseObject, Role, RoleBinding } from "../kube/objects.ts";
import { Pods, RoleBindings, Roles, ServiceAccounts, type ResourceType } from "../kube/resources.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../telemetry/metrics.ts";

type Change<T> = (old: T | undefined, current: T | undefined) => void;

export interface WatchHandlers {
  workload: Change<Workload>;
  pod: Change<Owned>;
  /** A managed Role or RoleBinding: `old` or `current`, whichever exists. */
  managed: (obj: PartialObjectMetadata) => void;
  serviceAccount: Change<PartialObjectMetadata>;
}

export interface Watches {
  workloads: InformerGroup<Workload>[];
  /** Only pods labelled to opt in, metadata only: other pods never enter memory. */
  pods: InformerGroup<Owned>;
  /** Only objects labelled as podlogreader's. */
  roles: InformerGroup<Role>;
  /** Only with --create-sa-and-rolebinding. */
  roleBindings?: InformerGroup<RoleBinding>;
  /** Every ServiceAccount, metadata only: a foreign one of a managed name must be seen to be kept unbound. */
  serviceAccounts?: InformerGroup<PartialObjectMetadata>;
  all: InformerGroup<unknown>[];
  /** Every group by the resource it watches (its plural), for the watch-failing metric. */
  byResource: ReadonlyMap<string, InformerGroup<unknown>>;
}

export function openWatches(
  api: KubeApi,
  scope: { namespaces: string[]; withServiceAccounts: boolean },
  on: WatchHandlers,
  log: Logger,
  metrics?: Metrics,
): Watches {
  const group = <T extends { metadata: { namespace: string; name: string } } | { namespace: string; name: string }>(
    resource: ResourceType,
    parse: (raw: unknown) => T,
    onChange: Change<T>,
    extra: Partial<InformerOptions<T>> = {},
  ) =>
    new InformerGroup<T>(
      scope.namespaces,
      (namespace) =>
        new Informer<T>({
          api,
          resource,
          namespace,
          parse,
          onChange,
          log: log.with({ resource: resource.plural }),
          key: (o) => keyOf("metadata" in o ? o.metadata : o),
          onRestart: () => metrics?.watchRestarts.inc({ resource: resource.plural }),
          ...extra,
        }),
    );
  const versioned = <T extends PartialObjectMetadata>() => ({
    versionOf: (o: T) => o.metadata.resourceVersion,
    uidOf: (o: T) => o.metadata.uid,
  });

  const workloads = WORKLOAD_KINDS.map((kind) => group(KINDS[kind].resource, parseWorkload(kind), on.workload));
  const pods = group(Pods, parsePod, on.pod, { metadataOnly: true, labelSelector: OPT_IN_SELECTOR });
  const roles = group(
    Roles,
    (r) => parseObject(Role, r, "Role"),
    (o, c) => on.managed((o ?? c)!),
    { labelSelector: MANAGED_SELECTOR, ...versioned<Role>() },
  );
  const roleBindings = scope.withServiceAccounts
    ? group(
        RoleBindings,
        (r) => parseObject(RoleBinding, r, "RoleBinding"),
        (o, c) => on.managed((o ?? c)!),
        { labelSelector: MANAGED_SELECTOR, ...versioned<RoleBinding>() },
      )
    : undefined;
  const serviceAccounts = scope.withServiceAccounts
    ? group(ServiceAccounts, (r) => parseObject(PartialObjectMetadata, r, "ServiceAccount"), on.serviceAccount, {
        metadataOnly: true,
        ...versioned<PartialObjectMetadata>(),
      })
    : undefined;
  const all = [
    ...workloads,
    pods,
    roles,
    ...(roleBindings ? [roleBindings] : []),
    ...(serviceAccounts ? [serviceAccounts] : []),
  ] as InformerGroup<unknown>[];
  const resources = [
    ...WORKLOAD_KINDS.map((kind) => KINDS[kind].resource),
    Pods,
    Roles,
    ...(roleBindings ? [RoleBindings] : []),
    ...(serviceAccounts ? [ServiceAccounts] : []),
  ];
  const byResource = new Map(resources.map((rt, i) => [rt.plural, all[i]!]));
  return { workloads, pods, roles, roleBindings, serviceAccounts, all, byResource };
}
