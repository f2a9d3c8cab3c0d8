// Who belongs to which workload, worked out afresh from objects the audit itself read: controller
// ownerReferences followed by UID, opt-in read from the workload's own pod template. It shares no
// code with the controller's index on purpose, so that a mistake there shows up here as a finding.
import * as v from "valibot";
import { OPT_IN_LABEL, OPT_IN_VALUE } from "../../access/marks.ts";
import { getOrCreate } from "../../util/maps.ts";

const Owner = v.object({ kind: v.string(), uid: v.string(), controller: v.optional(v.nullable(v.boolean())) });
const Meta = v.object({
  name: v.string(),
  namespace: v.string(),
  uid: v.string(),
  ownerReferences: v.optional(v.nullable(v.array(Owner))),
});
const Labels = v.optional(v.nullable(v.object({ labels: v.optional(v.nullable(v.record(v.string(), v.string()))) })));
const Template = v.optional(v.nullable(v.object({ metadata: Labels })));
const Workload = v.object({
  metadata: Meta,
  spec: v.optional(
    v.nullable(
      v.object({
        template: Template,
        jobTemplate: v.optional(v.nullable(v.object({ spec: v.optional(v.nullable(v.object({ template: Template }))) }))),
      }),
    ),
  ),
});
const PodMeta = v.object({ metadata: Meta });

/** The kinds the audit follows, and for each kind the kind that may control it as a middle link. */
const LINK_PARENT: Record<string, string | undefined> = { ReplicaSet: "Deployment", Job: "CronJob" };
const POD_OWNERS = new Set(["ReplicaSet", "StatefulSet", "DaemonSet", "Job"]);

export interface AuditedWorkload {
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  optedIn: boolean;
  /** A workload of its own: not a ReplicaSet or Job controlled by something. */
  standalone: boolean;
  /** Names of the pods that belong to it, sorted. */
  pods: string[];
}

export interface Membership {
  /** Every workload read, keyed `Kind/namespace/name`. */
  workloads: Map<string, AuditedWorkload>;
  /** Every pod name, by namespace. */
  podsByNamespace: Map<string, Set<string>>;
  /** `namespace/pod` -> key of the opted-in workload it belongs to. */
  memberOf: Map<string, string>;
}

export const workloadId = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

function controller(meta: v.InferOutput<typeof Meta>) {
  return meta.ownerReferences?.find((o) => o.controller === true);
}

/** Pure: workloads by kind and pods (metadata is enough) in, membership out. */
export function membership(workloadsByKind: Record<string, unknown[]>, pods: unknown[]): Membership {
  const byUid = new Map<string, { w: AuditedWorkload; controller?: { kind: string; uid: string } }>();
  const workloads = new Map<string, AuditedWorkload>();
  for (const [kind, items] of Object.entries(workloadsByKind)) {
    for (const raw of items) {
      const o = v.parse(Workload, raw);
      const template = kind === "CronJob" ? o.spec?.jobTemplate?.spec?.template : o.spec?.template;
      const ctl = controller(o.metadata);
      const w: AuditedWorkload = {
        kind,
        namespace: o.metadata.namespace,
        name: o.metadata.name,
        uid: o.metadata.uid,
        optedIn: template?.metadata?.labels?.[OPT_IN_LABEL] === OPT_IN_VALUE,
        standalone: !(LINK_PARENT[kind] && ctl),
        pods: [],
      };
      byUid.set(w.uid, { w, controller: ctl });
      workloads.set(workloadId(kind, w.namespace, w.name), w);
    }
  }
  // The workload an object stands for: itself, or the Deployment/CronJob controlling a link.
  const top = (uid: string, kind: string, namespace: string): AuditedWorkload | undefined => {
    const entry = byUid.get(uid);
    if (!entry || entry.w.kind !== kind || entry.w.namespace !== namespace) return undefined;
    const parentKind = LINK_PARENT[kind];
    if (!parentKind || !entry.controller) return entry.w;
    if (entry.controller.kind !== parentKind) return undefined;
    const parent = byUid.get(entry.controller.uid);
    return parent && parent.w.kind === parentKind && parent.w.namespace === namespace ? parent.w : undefined;
  };

  const podsByNamespace = new Map<string, Set<string>>();
  const memberOf = new Map<string, string>();
  for (const raw of pods) {
    const { metadata } = v.parse(PodMeta, raw);
    getOrCreate(podsByNamespace, metadata.namespace, () => new Set<string>()).add(metadata.name);
    const ctl = controller(metadata);
    if (!ctl || !POD_OWNERS.has(ctl.kind)) continue;
    const w = top(ctl.uid, ctl.kind, metadata.namespace);
    if (!w?.optedIn) continue;
    w.pods.push(metadata.name);
    memberOf.set(`${metadata.namespace}/${metadata.name}`, workloadId(w.kind, w.namespace, w.name));
  }
  for (const w of workloads.values()) w.pods.sort();
  return { workloads, podsByNamespace, memberOf };
}
