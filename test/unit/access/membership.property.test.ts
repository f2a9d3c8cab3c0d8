// Which pods belong to which workload, as a property of the membership index (src/access/membership.ts)
// checked against a reference model written here from the rules alone:
//
//   A pod belongs to workload W when W opted in (its own pod template carries
//   podlogreader-affiliate=enable) and the pod's controller ownerReference, followed by UID, reaches W
//   within the pod's namespace: Pod -> StatefulSet | DaemonSet | ReplicaSet | Job, then
//   ReplicaSet -> Deployment and Job -> CronJob when the ReplicaSet or Job has a controller. A
//   ReplicaSet or Job with a controller is never a workload by itself; a reference whose kind does
//   not match the object with that UID, or that crosses namespaces, leads nowhere. Non-controller
//   references count for nothing.
//
// The pod watch asks the apiserver only for pods labelled podlogreader-affiliate=enable, so a pod
// without that label is never seen (and never granted); the label alone never makes a pod a member.
//
// Worlds are random: workloads of every kind, opted in or not, with controller and non-controller
// references to objects of any kind and namespace, to deleted objects, to UIDs nobody has and to the
// wrong kind; pods with such references and with the label or without it. They reach the index as
// the informers deliver them: parsed by parseWorkload and parsePod, in a random order, some first in
// an earlier version (possibly with another UID), some added and deleted again.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { desiredAccess } from "../../../src/access/desired.ts";
import { KINDS, type WorkloadKind } from "../../../src/access/kinds.ts";
import { keyOf, parsePod, parseWorkload, World, type Owned, type Workload } from "../../../src/access/membership.ts";
import { applyPodEvent, applyWorkloadEvent, type Touched, type Urgency } from "../../../src/access/routing.ts";
import { ALL_KINDS, kind } from "../../support/arbitraries.ts";

const NAMESPACES = ["a", "b"];
// Few names, so that objects of different kinds and namespaces share them.
const NAMES = ["web", "sts-web"];
const POD_NAMES = Array.from({ length: 30 }, (_, i) => `web-${i}`);
const OTHER_KINDS = ["Rollout", "Pod", "Node"];
const POD_OWNERS: readonly string[] = ["ReplicaSet", "StatefulSet", "DaemonSet", "Job"];
const PARENT: Partial<Record<string, WorkloadKind>> = { ReplicaSet: "Deployment", Job: "CronJob" };
const OPT_IN_LABEL = "podlogreader-affiliate";

// ---------------------------------------------------------------------------------------------
// What is generated

interface RefSpec {
  /** Which object it points at: an index into the likely targets (or all objects). */
  target: number;
  likely: boolean;
  /** The target's current UID, the UID it had before it was recreated, or one nobody has. */
  uid: "current" | "stale" | "nowhere";
  /** null: the target's real kind. */
  forgedKind: string | null;
  rightName: boolean;
  controller: boolean | null | undefined;
}

type OptIn = "template" | "wrong-value" | "none" | "on-metadata" | "wrong-place";
type PodLabel = "enable" | "Enable" | "none" | "other";

interface Version<L> {
  label: L;
  refs: RefSpec[];
}

interface Entry<L> {
  namespace: string;
  name: string;
  /** A ghost is added, then deleted before the end. */
  ghost: boolean;
  now: Version<L>;
  earlier: Version<L> | null;
  /** The earlier version had another UID (deleted and created again). */
  recreated: boolean;
}
interface WorkloadEntry extends Entry<OptIn> {
  kind: WorkloadKind;
  /** `spec.replicas`, absent as often as not (a ReplicaSet then makes 1). */
  replicas: number | null;
}

const refSpec: fc.Arbitrary<RefSpec> = fc.record({
  target: fc.nat(),
  likely: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  uid: fc.oneof(
    { weight: 6, arbitrary: fc.constant("current" as const) },
    { weight: 1, arbitrary: fc.constantFrom("stale" as const, "nowhere" as const) },
  ),
  forgedKind: fc.oneof(
    { weight: 4, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constantFrom(...ALL_KINDS, ...OTHER_KINDS) },
  ),
  rightName: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  controller: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constantFrom(false, null, undefined) }),
});

const version = <L>(label: fc.Arbitrary<L>): fc.Arbitrary<Version<L>> =>
  fc.record({
    label,
    refs: fc.oneof(
      { weight: 1, arbitrary: fc.constant<RefSpec[]>([]) },
      { weight: 4, arbitrary: fc.array(refSpec, { minLength: 1, maxLength: 3 }) },
    ),
  });

function entry<L>(label: fc.Arbitrary<L>, names: readonly string[]) {
  return {
    namespace: fc.oneof({ weight: 3, arbitrary: fc.constant(NAMESPACES[0]!) }, { weight: 1, arbitrary: fc.constant(NAMESPACES[1]!) }),
    name: fc.constantFrom(...names),
    ghost: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    now: version(label),
    earlier: fc.option(version(label), { freq: 3 }),
    recreated: fc.boolean(),
  };
}

const optIn: fc.Arbitrary<OptIn> = fc.oneof(
  { weight: 3, arbitrary: fc.constant("template" as const) },
  { weight: 2, arbitrary: fc.constantFrom("wrong-value" as const, "none" as const, "on-metadata" as const, "wrong-place" as const) },
);
const podLabel: fc.Arbitrary<PodLabel> = fc.oneof(
  { weight: 4, arbitrary: fc.constant("enable" as const) },
  { weight: 1, arbitrary: fc.constantFrom("Enable" as const, "none" as const, "other" as const) },
);

const worldSpec = fc.record({
  workloads: fc.uniqueArray(fc.record({ kind, replicas: fc.option(fc.nat(3)), ...entry(optIn, NAMES) }), {
    minLength: 2,
    maxLength: 16,
    selector: (w) => `${w.kind}/${w.namespace}/${w.name}`,
  }),
  pods: fc.uniqueArray(fc.record(entry(podLabel, POD_NAMES)), { minLength: 3, maxLength: 24, selector: (p) => `${p.namespace}/${p.name}` }),
  /** Decides the order in which the informers deliver the events. */
  order: fc.array(fc.nat(), { maxLength: 80 }),
});
type WorldSpec = typeof worldSpec extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------------------------------------
// From what is generated to concrete objects: every object's UID, and its references.

const uidOf = (prefix: string, i: number, earlier = false) => `${prefix}${i}${earlier ? "-old" : ""}`;

interface Ref {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean | null;
}

/** An entry's events, in order: its earlier version if any, its version now, and its deletion if it is a ghost. */
function lifecycle<L, R>(
  e: Entry<L>,
  raw: (v: Version<L>, earlier: boolean) => R,
  deliver: (raw: R | undefined) => () => void,
): (() => void)[] {
  return [...(e.earlier ? [deliver(raw(e.earlier, true))] : []), deliver(raw(e.now, false)), ...(e.ghost ? [deliver(undefined)] : [])];
}

/** The pod as the informer parses it; undefined for no object, or one that does not parse. */
function podOf(raw: unknown): Owned | undefined {
  try {
    return raw === undefined ? undefined : parsePod(raw);
  } catch {
    return undefined;
  }
}

/** Runs each object's events in order, the objects interleaved as `order` says. */
function interleave(queues: (() => void)[][], order: number[]): void {
  for (const pick of order) {
    const open = queues.filter((q) => q.length > 0);
    if (open.length === 0) break;
    open[pick % open.length]!.shift()!();
  }
  for (const q of queues) while (q.length > 0) q.shift()!();
}

/**
 * References as written on the object: at most one controller reference, as the apiserver enforces.
 * A likely reference points at an object of a likely kind in the same namespace, any other at any object.
 */
function references(spec: WorldSpec, namespace: string, refs: RefSpec[], likelyKinds: readonly string[]): Ref[] {
  let controllerSeen = false;
  return refs.map((r) => {
    const likely = spec.workloads.map((w, i) => ({ w, i })).filter(({ w }) => w.namespace === namespace && likelyKinds.includes(w.kind));
    const pool = r.likely && likely.length > 0 ? likely : spec.workloads.map((w, i) => ({ w, i }));
    const picked = pool.length > 0 ? pool[r.target % pool.length] : undefined;
    const kind = r.forgedKind ?? picked?.w.kind ?? "ReplicaSet";
    const uid = !picked || r.uid === "nowhere" ? "uid-nobody-has" : uidOf("w", picked.i, r.uid === "stale");
    const controller = r.controller === true && controllerSeen ? false : r.controller;
    if (controller === true) controllerSeen = true;
    const ref: Ref = {
      apiVersion: KINDS[kind as WorkloadKind]?.apiVersion ?? "example.com/v1",
      kind,
      name: r.rightName && picked ? picked.w.name : "impostor",
      uid,
    };
    if (controller !== undefined) ref.controller = controller;
    return ref;
  });
}

function rawWorkload(spec: WorldSpec, w: WorkloadEntry, v: Version<OptIn>, uid: string): unknown {
  const enable = { [OPT_IN_LABEL]: "enable" };
  const labels = v.label === "template" ? enable : v.label === "wrong-value" ? { [OPT_IN_LABEL]: "Enable" } : { app: w.name };
  const template = { metadata: { labels } };
  const placed =
    v.label === "wrong-place"
      ? w.kind === "CronJob"
        ? { template: { metadata: { labels: enable } } }
        : { jobTemplate: { spec: { template: { metadata: { labels: enable } } } } }
      : w.kind === "CronJob"
        ? { jobTemplate: { spec: { template } } }
        : { template };
  return {
    metadata: {
      name: w.name,
      namespace: w.namespace,
      uid,
      resourceVersion: "1",
      labels: v.label === "on-metadata" ? enable : { app: w.name },
      // A ReplicaSet or Job points at a Deployment or CronJob more often than not, any other object otherwise.
      ownerReferences: references(spec, w.namespace, v.refs, PARENT[w.kind] ? ["Deployment", "CronJob"] : ALL_KINDS),
    },
    spec: w.replicas === null ? placed : { ...placed, replicas: w.replicas },
  };
}

function rawPod(spec: WorldSpec, p: Entry<PodLabel>, v: Version<PodLabel>, uid: string): unknown {
  const labels =
    v.label === "enable"
      ? { [OPT_IN_LABEL]: "enable" }
      : v.label === "Enable"
        ? { [OPT_IN_LABEL]: "Enable" }
        : v.label === "other"
          ? { app: "web" }
          : undefined;
  return {
    metadata: {
      name: p.name,
      namespace: p.namespace,
      uid,
      resourceVersion: "1",
      labels,
      ownerReferences: references(spec, p.namespace, v.refs, POD_OWNERS),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The reference model: the final state only, followed pod by pod, no indexes.

interface ModelObject {
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  optedIn: boolean;
  controller?: { kind: string; uid: string };
}

/**
 * Following controller references among `workloads`: the object a reference points at (same UID,
 * same kind, same namespace), and the workload an object is or belongs to.
 */
function chainsOf(workloads: ModelObject[]) {
  const byUid = new Map(workloads.map((w) => [w.uid, w]));
  const follow = (from: ModelObject) => {
    const target = from.controller && byUid.get(from.controller.uid);
    return target && target.kind === from.controller!.kind && target.namespace === from.namespace ? target : undefined;
  };
  const workloadOf = (o: ModelObject): ModelObject | undefined => {
    const parentKind = PARENT[o.kind];
    if (!parentKind || !o.controller) return o;
    const parent = follow(o);
    return parent?.kind === parentKind ? parent : undefined;
  };
  return { follow, workloadOf };
}

function model(spec: WorldSpec) {
  const controllerOf = (refs: Ref[]) => refs.find((r) => r.controller === true);
  const workloads: ModelObject[] = spec.workloads.flatMap((w, i) => {
    if (w.ghost) return [];
    const raw = rawWorkload(spec, w, w.now, uidOf("w", i)) as { metadata: { ownerReferences: Ref[] } };
    return [
      {
        kind: w.kind,
        namespace: w.namespace,
        name: w.name,
        uid: uidOf("w", i),
        optedIn: w.now.label === "template",
        controller: controllerOf(raw.metadata.ownerReferences),
      },
    ];
  });
  const pods: ModelObject[] = spec.pods.flatMap((p, i) => {
    // Pods without the label are never delivered by the watch.
    if (p.ghost || p.now.label !== "enable") return [];
    const raw = rawPod(spec, p, p.now, uidOf("p", i)) as { metadata: { ownerReferences: Ref[] } };
    return [
      {
        kind: "Pod",
        namespace: p.namespace,
        name: p.name,
        uid: uidOf("p", i),
        optedIn: false,
        controller: controllerOf(raw.metadata.ownerReferences),
      },
    ];
  });
  const { follow, workloadOf } = chainsOf(workloads);
  const ownerOfPod = (pod: ModelObject) => {
    const owner = follow(pod);
    return owner && POD_OWNERS.includes(owner.kind) ? workloadOf(owner) : undefined;
  };
  const managed = workloads.filter((w) => w.optedIn && workloadOf(w) === w);
  const members = new Map(
    managed.map((w) => [
      w,
      pods
        .filter((p) => ownerOfPod(p) === w)
        .map((p) => p.name)
        .sort(),
    ]),
  );
  return { workloads, pods, managed, members, ownerOfPod };
}

// ---------------------------------------------------------------------------------------------
// The code under test, fed as the informers feed it.

function build(spec: WorldSpec) {
  const world = new World();
  const workloadCache = new Map<string, Workload>();
  const podCache = new Map<string, Owned>();
  const queues: (() => void)[][] = [];

  spec.workloads.forEach((w, i) => {
    const key = `${w.kind}/${w.namespace}/${w.name}`;
    const deliver = (raw: unknown) => () => {
      const current = raw === undefined ? undefined : parseWorkload(w.kind)(raw);
      world.updateWorkload(workloadCache.get(key), current);
      if (current) workloadCache.set(key, current);
      else workloadCache.delete(key);
    };
    queues.push(lifecycle(w, (v, earlier) => rawWorkload(spec, w, v, uidOf("w", i, earlier && w.recreated)), deliver));
  });

  spec.pods.forEach((p, i) => {
    const key = `${p.namespace}/${p.name}`;
    const deliver = (raw: unknown) => () => {
      // A label-selected watch delivers a pod that stops matching as deleted.
      const current = podOf(raw);
      const old = podCache.get(key);
      if (!old && !current) return;
      world.updatePod(old, current);
      if (current) podCache.set(key, current);
      else podCache.delete(key);
    };
    queues.push(lifecycle(p, (v, earlier) => rawPod(spec, p, v, uidOf("p", i, earlier && p.recreated)), deliver));
  });

  interleave(queues, spec.order);
  return { world, podCache };
}

/** What the reconciler does with a workload key: act only for a managed workload. */
function managedByController(world: World, kind: WorkloadKind, namespace: string, name: string): Workload | undefined {
  return world.managed(kind, namespace, name);
}

const runs = { numRuns: 500 };
const keyOfModel = (o: ModelObject | undefined) => o && `${o.kind}/${o.namespace}/${o.name}`;
const keyOfRef = (o: Workload | undefined) => o && `${o.kind}/${o.namespace}/${o.name}`;

describe("membership: a workload's pods are exactly those whose controller chain reaches it", () => {
  test("the workloads podlogreader keeps access for are exactly the opted-in ones that belong to no other workload", () => {
    fc.assert(
      fc.property(worldSpec, (spec) => {
        const { world } = build(spec);
        const m = model(spec);
        for (const w of m.workloads) {
          expect(world.get(w.kind, w.namespace, w.name)?.uid).toBe(w.uid);
          expect(managedByController(world, w.kind as WorkloadKind, w.namespace, w.name) !== undefined).toBe(m.managed.includes(w));
        }
        for (const w of spec.workloads.filter((w) => w.ghost)) expect(world.get(w.kind, w.namespace, w.name)).toBeUndefined();
      }),
      runs,
    );
  });

  test("each such workload's pods, and the pods its Role names, are exactly the model's", () => {
    fc.assert(
      fc.property(worldSpec, (spec) => {
        const { world } = build(spec);
        const m = model(spec);
        for (const [w, members] of m.members) {
          const self = managedByController(world, w.kind as WorkloadKind, w.namespace, w.name);
          expect(self).toBeDefined();
          const pods = world.podNamesOf(self!);
          expect([...pods].sort()).toEqual(members);
          // Computed as the reconciler computes it.
          const { role } = desiredAccess({ kind: self!.kind, namespace: self!.namespace, name: self!.name, uid: self!.uid }, pods, {
            podVisibility: "namespace",
            createServiceAccountAndRoleBinding: true,
          });
          const named = role.rules.filter((r) => r.resources?.includes("pods/log")).flatMap((r) => r.resourceNames ?? []);
          for (const p of named) expect(members).toContain(p);
          expect(named.length).toBe(members.length);
        }
      }),
      runs,
    );
  });

  test("each pod the watch delivers is attributed to the workload the model says, or to none", () => {
    fc.assert(
      fc.property(worldSpec, (spec) => {
        const { world, podCache } = build(spec);
        const m = model(spec);
        expect([...podCache.keys()].sort()).toEqual(m.pods.map((p) => keyOf(p)).sort());
        for (const p of m.pods) {
          expect(keyOfRef(world.workloadOfPod(podCache.get(keyOf(p))!))).toBe(keyOfModel(m.ownerOfPod(p)));
        }
      }),
      runs,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Routing: each watch event, applied as the controller applies it, names exactly the workloads
// whose desired state it changed. The expected answer is the reference model, read afresh from
// the raw objects delivered so far, before and after the event.

interface RawObject {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string>; ownerReferences?: Ref[] };
  spec?: {
    template?: { metadata?: { labels?: Record<string, string> } };
    jobTemplate?: { spec?: { template?: { metadata?: { labels?: Record<string, string> } } } };
  };
}

/** The model's desired state of every workload key: its sorted pods, or null when it is not managed. */
function modelDesired(
  workloads: Map<string, { kind: WorkloadKind; raw: RawObject }>,
  pods: Map<string, RawObject>,
): Map<string, string | null> {
  const controllerOf = (o: RawObject) => {
    const ref = o.metadata.ownerReferences?.find((r) => r.controller === true);
    return ref && { kind: ref.kind, uid: ref.uid };
  };
  const objects: ModelObject[] = [...workloads.values()].map(({ kind, raw }) => {
    const template = kind === "CronJob" ? raw.spec?.jobTemplate?.spec?.template : raw.spec?.template;
    return {
      kind,
      namespace: raw.metadata.namespace,
      name: raw.metadata.name,
      uid: raw.metadata.uid,
      optedIn: template?.metadata?.labels?.[OPT_IN_LABEL] === "enable",
      controller: controllerOf(raw),
    };
  });
  const { follow, workloadOf } = chainsOf(objects);
  // What a managed workload's Role names: its pods, and a CronJob's Jobs (those it controls).
  const members = new Map<ModelObject, string[]>();
  for (const w of objects) if (w.optedIn && workloadOf(w) === w) members.set(w, []);
  for (const raw of pods.values()) {
    if (raw.metadata.labels?.[OPT_IN_LABEL] !== "enable") continue;
    const pod: ModelObject = {
      kind: "Pod",
      namespace: raw.metadata.namespace,
      name: raw.metadata.name,
      uid: raw.metadata.uid,
      optedIn: false,
      controller: controllerOf(raw),
    };
    const owner = follow(pod);
    const w = owner && POD_OWNERS.includes(owner.kind) ? workloadOf(owner) : undefined;
    if (w) members.get(w)?.push(`pod/${pod.name}`);
  }
  for (const job of objects) {
    const cron = job.kind === "Job" ? follow(job) : undefined;
    if (cron?.kind === "CronJob") members.get(cron)?.push(`job/${job.name}`);
  }
  const state = new Map<string, string | null>();
  for (const w of objects) state.set(`${w.kind}/${w.namespace}/${w.name}`, members.has(w) ? JSON.stringify(members.get(w)!.sort()) : null);
  return state;
}

describe("routing: a watch event names exactly the workloads whose desired state it changed", () => {
  test("in random worlds and random event orders, with how soon each must be written", () => {
    fc.assert(
      fc.property(worldSpec, (spec) => {
        const world = new World();
        const rawWorkloads = new Map<string, { kind: WorkloadKind; raw: RawObject }>();
        const rawPods = new Map<string, RawObject>();
        const workloadCache = new Map<string, Workload>();
        const podCache = new Map<string, Owned>();

        /**
         * The model of "more of its ReplicaSet's pods are on the way" for an opted-in pod: its
         * controller is a ReplicaSet that exists under that UID, and fewer pods name that UID as their
         * controller (with a kind that owns pods) than the ReplicaSet's spec.replicas (1 when absent).
         */
        const moreOnTheWay = (pod: RawObject) => {
          const ref = pod.metadata.ownerReferences?.find((r) => r.controller === true);
          if (ref?.kind !== "ReplicaSet") return false;
          const owner = [...rawWorkloads.values()].find((w) => w.raw.metadata.uid === ref.uid);
          if (owner?.kind !== "ReplicaSet") return false;
          const replicas = (owner.raw as { spec?: { replicas?: number } }).spec?.replicas ?? 1;
          const siblings = [...rawPods.values()].filter((p) => {
            const r = p.metadata.ownerReferences?.find((x) => x.controller === true);
            return r?.uid === ref.uid && ["ReplicaSet", "StatefulSet", "DaemonSet", "Job"].includes(r.kind);
          });
          return siblings.length < replicas;
        };

        /** Runs one event and checks what it touched against the model's before and after. */
        const check = (apply: () => Touched[], arrived?: () => RawObject | undefined) => {
          const before = modelDesired(rawWorkloads, rawPods);
          const touched = apply();
          const after = modelDesired(rawWorkloads, rawPods);
          const expected = new Map<string, Urgency>();
          for (const key of new Set([...before.keys(), ...after.keys()])) {
            const b = before.get(key) ?? null;
            const a = after.get(key) ?? null;
            if (b === a) continue;
            const left = b !== null && (a === null || (JSON.parse(b) as string[]).some((p) => !(JSON.parse(a) as string[]).includes(p)));
            const bornEmpty = b === null && !(JSON.parse(a!) as string[]).some((n) => n.startsWith("pod/"));
            const pod = arrived?.();
            expected.set(key, left ? "now" : bornEmpty ? "later" : pod && moreOnTheWay(pod) ? "gather" : "batch");
          }
          expect(new Map(touched.map((t) => [t.key, t.urgency]))).toEqual(expected);
          expect(touched.length).toBe(expected.size);
        };

        const queues: (() => void)[][] = [];
        spec.workloads.forEach((w, i) => {
          const key = `${w.kind}/${w.namespace}/${w.name}`;
          const deliver = (raw: RawObject | undefined) => () =>
            check(() => {
              const current = raw === undefined ? undefined : parseWorkload(w.kind)(raw);
              const touched = applyWorkloadEvent(world, workloadCache.get(key), current);
              if (current) workloadCache.set(key, current);
              else workloadCache.delete(key);
              if (raw) rawWorkloads.set(key, { kind: w.kind, raw });
              else rawWorkloads.delete(key);
              return touched;
            });
          queues.push(lifecycle(w, (v, earlier) => rawWorkload(spec, w, v, uidOf("w", i, earlier && w.recreated)) as RawObject, deliver));
        });
        spec.pods.forEach((p, i) => {
          const key = `${p.namespace}/${p.name}`;
          const deliver = (raw: RawObject | undefined) => () => {
            const current = podOf(raw);
            const old = podCache.get(key);
            if (!old && !current) return;
            check(
              () => {
                const touched = applyPodEvent(world, old, current);
                if (current) podCache.set(key, current);
                else podCache.delete(key);
                if (current && raw) rawPods.set(key, raw);
                else rawPods.delete(key);
                return touched;
              },
              () => (current ? raw : undefined),
            );
          };
          queues.push(lifecycle(p, (v, earlier) => rawPod(spec, p, v, uidOf("p", i, earlier && p.recreated)) as RawObject, deliver));
        });
        interleave(queues, spec.order);
      }),
      runs,
    );
  });
});
