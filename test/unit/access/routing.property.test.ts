// Routing of the events that are not about membership, as a property of src/access/routing.ts
// checked against a model written here from the rules alone (workload and pod events are checked
// in membership.property.test.ts):
//
//   A Role, RoleBinding or ServiceAccount carries podlogreader's marks for workload W when it has
//   the label app.kubernetes.io/managed-by=podlogreader and either a controller ownerReference to W
//   or (orphaned) the annotation podlogreader.dev/workload=KIND/NAME naming W. Any event on such an
//   object (a hand edit, a deletion) puts W in the queue at once, whatever W's state: the change
//   may grant more than W's Role may. An object without those marks concerns nobody, except a
//   ServiceAccount that appears or goes away under the name a managed workload's ServiceAccount
//   takes in the same namespace: that workload, at once. The resync concerns every managed
//   workload and every workload that an object with marks is for.
//
// Objects are generated from what they are meant to be (for which workload, with which marks)
// and the model reads that intent, never the metadata built from it.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { WorkloadKind } from "../../../src/access/kinds.ts";
import { parseWorkload, World } from "../../../src/access/membership.ts";
import { managedName } from "../../../src/access/names.ts";
import { applyManagedEvent, applyServiceAccountEvent, resyncKeys, type Touched } from "../../../src/access/routing.ts";
import type { PartialObjectMetadata } from "../../../src/kube/objects.ts";

const NAMESPACES = ["a", "b"];
const NAMES = ["web", "sts-web", "api"];
const TOP_LEVEL: readonly WorkloadKind[] = ["Deployment", "StatefulSet", "DaemonSet"];
const APPS = {
  Deployment: "apps/v1",
  StatefulSet: "apps/v1",
  DaemonSet: "apps/v1",
  ReplicaSet: "apps/v1",
  Job: "batch/v1",
  CronJob: "batch/v1",
} as const;

interface WorkloadSpec {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  optedIn: boolean;
}

/**
 * How an object is marked. `owner` and `annotation` are podlogreader's marks (with the label);
 * the others are lookalikes: the label alone, an owner or annotation without the label, an owner
 * reference that is not the controller, or nothing.
 */
type Marks = "owner" | "annotation" | "label-only" | "owner-no-label" | "annotation-no-label" | "non-controller-owner" | "none";
const OURS: readonly Marks[] = ["owner", "annotation"];

interface ObjectSpec {
  namespace: string;
  /** The workload it is for; a kind that is no workload (Rollout) is possible too. */
  forKind: WorkloadKind | "Rollout";
  forName: string;
  marks: Marks;
  /** Its own name: the one podlogreader gives W's objects, another managed-looking one, or another. */
  naming: "managed" | "prefixed" | "other";
}

const workloadSpec: fc.Arbitrary<WorkloadSpec> = fc.record({
  kind: fc.constantFrom(...TOP_LEVEL),
  namespace: fc.constantFrom(...NAMESPACES),
  name: fc.constantFrom(...NAMES),
  optedIn: fc.boolean(),
});

const objectSpec: fc.Arbitrary<ObjectSpec> = fc.record({
  namespace: fc.constantFrom(...NAMESPACES),
  forKind: fc.constantFrom<WorkloadKind | "Rollout">(...TOP_LEVEL, "ReplicaSet", "Job", "CronJob", "Rollout"),
  forName: fc.constantFrom(...NAMES),
  marks: fc.constantFrom<Marks>(
    "owner",
    "annotation",
    "label-only",
    "owner-no-label",
    "annotation-no-label",
    "non-controller-owner",
    "none",
  ),
  naming: fc.constantFrom("managed" as const, "prefixed" as const, "other" as const),
});

function objectName(o: ObjectSpec): string {
  if (o.naming === "managed") return o.forKind === "Rollout" ? `podlogreader-rollout-${o.forName}` : managedName(o.forKind, o.forName);
  return o.naming === "prefixed" ? `podlogreader-x-${o.forName}` : `${o.forName}-reader`;
}

function metadataOf(o: ObjectSpec, uid: string): PartialObjectMetadata {
  const label = ["owner", "annotation", "label-only", "non-controller-owner"].includes(o.marks);
  const ownerRef = o.marks === "owner" || o.marks === "owner-no-label" || o.marks === "non-controller-owner";
  const annotation = o.marks === "annotation" || o.marks === "annotation-no-label";
  const apiVersion = o.forKind === "Rollout" ? "argoproj.io/v1alpha1" : APPS[o.forKind];
  return {
    metadata: {
      name: objectName(o),
      namespace: o.namespace,
      uid,
      resourceVersion: "1",
      labels: label ? { "app.kubernetes.io/managed-by": "podlogreader" } : {},
      annotations: annotation ? { "podlogreader.dev/workload": `${o.forKind}/${o.forName}` } : {},
      ownerReferences: ownerRef
        ? [
            {
              apiVersion,
              kind: o.forKind,
              name: o.forName,
              uid: `uid-${o.forKind}-${o.forName}`,
              controller: o.marks !== "non-controller-owner",
            },
          ]
        : [],
    },
  };
}

/** The world as the informers would fill it: top-level workloads, opted in through their template or not. */
function worldOf(workloads: WorkloadSpec[]): World {
  const world = new World();
  const seen = new Set<string>();
  for (const [i, w] of workloads.entries()) {
    const key = `${w.kind}/${w.namespace}/${w.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const raw = {
      apiVersion: APPS[w.kind],
      kind: w.kind,
      metadata: { name: w.name, namespace: w.namespace, uid: `w${i}`, resourceVersion: "1" },
      spec: {
        selector: { matchLabels: { app: w.name } },
        template: { metadata: { labels: { app: w.name, ...(w.optedIn ? { "podlogreader-affiliate": "enable" } : {}) } } },
      },
    };
    world.updateWorkload(undefined, parseWorkload(w.kind)(raw));
  }
  return world;
}

// The model.
const keyOf = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;
const isWorkloadKind = (k: string) => ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"].includes(k);
const managedKeys = (workloads: WorkloadSpec[]) =>
  new Set(workloads.filter((w) => w.optedIn).map((w) => keyOf(w.kind, w.namespace, w.name)));
/** The workload an object is for, when it carries podlogreader's marks for one. */
const markedFor = (o: ObjectSpec) =>
  OURS.includes(o.marks) && isWorkloadKind(o.forKind) ? keyOf(o.forKind, o.namespace, o.forName) : undefined;

function expectedForServiceAccount(workloads: WorkloadSpec[], o: ObjectSpec, event: "added" | "updated" | "deleted"): Touched[] {
  if (OURS.includes(o.marks)) return markedFor(o) ? [{ key: markedFor(o)!, urgency: "now" }] : [];
  if (event === "updated") return [];
  const name = objectName(o);
  return [...managedKeys(workloads)]
    .filter((key) => {
      const [kind, namespace, wname] = key.split("/") as [WorkloadKind, string, string];
      return namespace === o.namespace && managedName(kind, wname) === name;
    })
    .map((key) => ({ key, urgency: "now" as const }));
}

const sorted = (t: Touched[]) => [...t].sort((x, y) => x.key.localeCompare(y.key));
const runs = { numRuns: 1000 };

describe("routing of managed objects, ServiceAccounts and the resync", () => {
  test("an event on a Role or RoleBinding concerns, at once, exactly the workload whose marks it carries", () => {
    fc.assert(
      fc.property(objectSpec, (o) => {
        const expected = markedFor(o);
        expect(applyManagedEvent(metadataOf(o, "o1"))).toEqual(expected ? [{ key: expected, urgency: "now" }] : []);
      }),
      runs,
    );
  });

  test(
    "a ServiceAccount event concerns its workload when it is ours, and when foreign, the managed workload whose name it takes as it " +
      "comes or goes",
    () => {
      fc.assert(
        fc.property(
          fc.array(workloadSpec, { maxLength: 8 }),
          objectSpec,
          fc.constantFrom("added" as const, "updated" as const, "deleted" as const),
          (workloads, o, event) => {
            const unique = [...new Map(workloads.map((w) => [keyOf(w.kind, w.namespace, w.name), w])).values()];
            const world = worldOf(unique);
            const obj = metadataOf(o, "sa1");
            const [old, current] =
              event === "added"
                ? [undefined, obj]
                : event === "deleted"
                  ? [obj, undefined]
                  : [obj, { metadata: { ...obj.metadata, resourceVersion: "2" } }];
            expect(sorted(applyServiceAccountEvent(world, old, current))).toEqual(sorted(expectedForServiceAccount(unique, o, event)));
          },
        ),
        runs,
      );
    },
  );

  test("the resync concerns every managed workload and every workload a marked object is for, each once", () => {
    fc.assert(
      fc.property(fc.array(workloadSpec, { maxLength: 8 }), fc.array(objectSpec, { maxLength: 10 }), (workloads, objects) => {
        const unique = [...new Map(workloads.map((w) => [keyOf(w.kind, w.namespace, w.name), w])).values()];
        const keys = resyncKeys(
          worldOf(unique),
          objects.map((o, i) => metadataOf(o, `o${i}`)),
        );
        const expected = new Set([...managedKeys(unique), ...objects.flatMap((o) => markedFor(o) ?? [])]);
        expect(keys.length).toBe(new Set(keys).size);
        expect(new Set(keys)).toEqual(expected);
      }),
      runs,
    );
  });
});
