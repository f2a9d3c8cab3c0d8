// The scene the unit tests of the chaos judges (scripts/chaos/) judge: namespace "a" holding the
// opted-in StatefulSet w (UID w-uid), pods with a controller of their choosing, and the managed
// names as the chaos run's controller gives them.
import type { V1Pod, V1Role, V1RoleBinding } from "@kubernetes/client-node";
import type { Snapshot } from "../../scripts/chaos/model.ts";

/** The label of every object podlogreader manages. */
export const MANAGED = { "app.kubernetes.io/managed-by": "podlogreader" };

/** The managed name of a workload, as the controller of the chaos run names it. */
export const nameOf = (kind: string, name: string) => `podlogreader-${kind === "StatefulSet" ? "sts" : kind}-${name}`;

/** An opted-in pod whose controller is the StatefulSet w of UID `ownerUid` (another UID: someone else's). */
export const stsPod = (name: string, ownerUid: string): V1Pod => ({
  metadata: {
    name,
    uid: `${name}-uid`,
    labels: { "podlogreader-affiliate": "enable" },
    ownerReferences: [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "w", uid: ownerUid, controller: true }],
  },
});

/** Namespace "a" with the StatefulSet w and these pods, Roles and RoleBindings. */
export const stsSnapshot = (objects: { pods: V1Pod[]; roles: V1Role[]; roleBindings: V1RoleBinding[] }): Snapshot => ({
  namespace: "a",
  workloads: [{ kind: "StatefulSet", name: "w", uid: "w-uid", optedIn: true }],
  ...objects,
  serviceAccounts: [],
});
