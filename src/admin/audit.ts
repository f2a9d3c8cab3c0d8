// `podlogreader audit`: for every managed ServiceAccount, ask the apiserver's own authorizer
// (SubjectAccessReview) which pods' logs it can read, and compare with its workload's pods.
// Bindings podlogreader did not make count too: that is the point.
import { isWorkloadKind } from "../access/kinds.ts";
import { managedOwner } from "../access/ownership.ts";
import { serviceAccountCan } from "../kube/access-review.ts";
import type { KubeApi } from "../kube/api.ts";
import { Pods } from "../kube/resources.ts";
import { snapshot } from "./snapshot.ts";

export interface AuditEntry {
  namespace: string;
  workload: string;
  serviceAccount: string;
  /** The workload's current pods. */
  pods: string[];
  /** Pods in the namespace whose logs the ServiceAccount can get. */
  readable: string[];
  /** Readable pods outside the workload. */
  overGrants: string[];
  /** Pods of the workload it cannot read (yet). */
  underGrants: string[];
  /** It can read the logs of every pod in the namespace, present and future. */
  namespaceWide: boolean;
}

export interface AuditReport {
  entries: AuditEntry[];
  overGrants: number;
  underGrants: number;
}

const CONCURRENCY = 16;

export async function audit(api: KubeApi, namespace?: string): Promise<AuditReport> {
  const snap = await snapshot(api, namespace);
  // Every managed Role and ServiceAccount names an account to check, with the workload it serves.
  const subjects = new Map<string, { namespace: string; serviceAccount: string; kind: string; name: string }>();
  for (const obj of [...snap.roles, ...snap.serviceAccounts]) {
    const owner = managedOwner(obj.metadata);
    if (!owner || !isWorkloadKind(owner.kind)) continue;
    const { namespace: ns, name } = obj.metadata;
    subjects.set(`${ns}/${name}`, { namespace: ns, serviceAccount: name, kind: owner.kind, name: owner.name });
  }

  const podsByNamespace = new Map<string, string[]>();
  const podsIn = async (ns: string) => {
    let pods = podsByNamespace.get(ns);
    if (!pods) {
      const { items } = await api.list(Pods, { namespace: ns, metadataOnly: true });
      pods = items.map((p) => (p as { metadata: { name: string } }).metadata.name).sort();
      podsByNamespace.set(ns, pods);
    }
    return pods;
  };

  const entries: AuditEntry[] = [];
  for (const s of [...subjects.values()].sort((a, b) => `${a.namespace}/${a.serviceAccount}`.localeCompare(`${b.namespace}/${b.serviceAccount}`))) {
    const w = snap.world.get(s.kind, s.namespace, s.name);
    const current = w && snap.world.isManaged(w) ? snap.world.podNamesOf(w).sort() : [];
    const all = await podsIn(s.namespace);
    const can = (name?: string) => canGetLog(api, s.namespace, s.serviceAccount, name);
    const readable = (await mapLimit(all, CONCURRENCY, async (p) => ((await can(p)) ? p : undefined))).filter((p): p is string => !!p);
    const namespaceWide = (await can(undefined)) || (await can(`podlogreader-audit-no-such-pod-${crypto.randomUUID().slice(0, 8)}`));
    const mine = new Set(current);
    const readableSet = new Set(readable);
    entries.push({
      namespace: s.namespace,
      workload: `${s.kind}/${s.name}`,
      serviceAccount: s.serviceAccount,
      pods: current,
      readable,
      overGrants: readable.filter((p) => !mine.has(p)),
      underGrants: current.filter((p) => !readableSet.has(p)),
      namespaceWide,
    });
  }
  return {
    entries,
    overGrants: entries.reduce((n, e) => n + e.overGrants.length + (e.namespaceWide ? 1 : 0), 0),
    underGrants: entries.reduce((n, e) => n + e.underGrants.length, 0),
  };
}

function canGetLog(api: KubeApi, namespace: string, serviceAccount: string, pod: string | undefined): Promise<boolean> {
  return serviceAccountCan(api, namespace, serviceAccount, { verb: "get", resource: "pods", subresource: "log", ...(pod ? { name: pod } : {}) });
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
