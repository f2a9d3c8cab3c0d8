// Whatever the apiserver refuses, the reconciler never leaves a grant behind that it could have
// taken away. The apiserver here is a model at the KubeApi boundary that refuses any set of
// verb × resource writes, each with its own status code (or no answer at all), across random
// histories of one StatefulSet: scale-downs and -ups, opt-outs, deletion, re-creation under the
// same name with a new UID (objects orphaned or not), a Role or ServiceAccount taken over by
// someone else, a foreign ServiceAccount of the managed name; with caches that lag behind, and
// with reads (GET) of some resources forbidden. What is granted is computed here
// from the model's objects (binding subjects × the Role's pod names, per ServiceAccount UID),
// sharing no code with the reconciler's judgement.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { World, type Workload } from "../../../src/access/membership.ts";
import { managedName } from "../../../src/access/names.ts";
import { Reconciler, type ObjectWriter } from "../../../src/controller/reconciler.ts";
import type { KubeObject } from "../../../src/kube/api.ts";
import type { PartialObjectMetadata, Role, RoleBinding } from "../../../src/kube/objects.ts";
import type { ResourceType } from "../../../src/kube/resources.ts";
import { ApiError, NetworkError } from "../../../src/kube/transport.ts";
import { createLogger } from "../../../src/log.ts";
import { Metrics } from "../../../src/telemetry/metrics.ts";
import { MapCache } from "../../support/map-cache.ts";

const NS = "shop";
const NAME = managedName("StatefulSet", "db");
const LABEL = "app.kubernetes.io/managed-by";
const OPTIONS = { podVisibility: "own" as const, createServiceAccountAndRoleBinding: true };
/** Retries of one reconcile after each change, as the work queue would make them. */
const RETRIES = 6;

const VERBS = ["create", "update", "patch", "delete"] as const;
const RESOURCES = ["roles", "rolebindings", "serviceaccounts"] as const;
type WriteVerb = (typeof VERBS)[number];
type Resource = (typeof RESOURCES)[number];
type Failure = { status: 403 | 404 | 409 | 422 | 429 | 500 } | { timeout: true; applied: boolean };

interface Meta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
}
interface Obj {
  metadata: Meta;
  rules?: { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[] }[];
  roleRef?: { apiGroup: string; kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/** The apiserver's objects of one namespace, and the writes it refuses. */
class ModelApi implements ObjectWriter {
  readonly objects = new Map<string, Obj>();
  /** Which workload UID each ServiceAccount podlogreader created was made for (undefined: not podlogreader's). */
  readonly madeFor = new Map<string, string | undefined>();
  /** Writes podlogreader made to objects without its label: must stay empty. */
  readonly violations: string[] = [];
  refusals = new Map<string, Failure>();
  /** Resources whose GET is forbidden (a ClusterRole without `get` on them). */
  unreadable = new Set<string>();
  currentWorkloadUid: string | undefined;
  private revision = 100;
  private uids = 0;

  private key(rt: ResourceType, name: string) {
    return `${rt.plural}/${name}`;
  }
  private fail(verb: WriteVerb, rt: ResourceType, write: () => void): void {
    const failure = this.refusals.get(`${verb}:${rt.plural}`);
    if (!failure) {
      write();
      return;
    }
    if ("timeout" in failure) {
      if (failure.applied) write();
      throw new NetworkError(`${verb} ${rt.plural}: timed out`);
    }
    throw new ApiError(verb.toUpperCase(), `/${rt.plural}`, failure.status, "Refused", `${verb} of ${rt.plural} refused by policy`);
  }
  private nextRv() {
    return String(++this.revision);
  }
  put(
    rt: ResourceType,
    obj: Omit<Obj, "metadata"> & { metadata: Omit<Meta, "uid" | "resourceVersion" | "namespace"> },
    madeFor?: string,
  ): Obj {
    const stored: Obj = structuredClone({
      ...obj,
      metadata: { ...obj.metadata, namespace: NS, uid: `uid-${++this.uids}`, resourceVersion: this.nextRv() },
    }) as Obj;
    this.objects.set(this.key(rt, stored.metadata.name), stored);
    if (rt.plural === "serviceaccounts") this.madeFor.set(stored.metadata.uid, madeFor);
    return stored;
  }
  /** Someone else's change of an object, as it is. */
  edit(plural: Resource, name: string, change: (o: Obj) => void): void {
    const o = this.objects.get(`${plural}/${name}`);
    if (!o) return;
    change(o);
    o.metadata.resourceVersion = this.nextRv();
  }
  private checkMarks(verb: string, rt: ResourceType, o: Obj) {
    if (o.metadata.labels?.[LABEL] !== "podlogreader")
      this.violations.push(`${verb} of ${rt.kind} ${o.metadata.name}, which is not podlogreader's`);
  }
  private checkRules(body: { rules?: Obj["rules"] }) {
    for (const r of body.rules ?? []) {
      if (r.resources?.some((x) => x.startsWith("pods")) && !r.resourceNames?.length)
        this.violations.push("a rule on pods with no resourceNames");
    }
  }

  async get(rt: ResourceType, _ns: string | undefined, name: string): Promise<unknown> {
    if (this.unreadable.has(rt.plural)) throw new ApiError("GET", `/${rt.plural}/${name}`, 403, "Forbidden", `cannot get ${rt.plural}`);
    const o = this.objects.get(this.key(rt, name));
    if (!o) throw new ApiError("GET", `/${rt.plural}/${name}`, 404, "NotFound", "not found");
    return structuredClone(o);
  }

  async create(rt: ResourceType, _ns: string | undefined, body: KubeObject): Promise<unknown> {
    const name = body.metadata!.name!;
    this.checkRules(body as Obj);
    let made: Obj | undefined;
    this.fail("create", rt, () => {
      if (this.objects.has(this.key(rt, name))) throw new ApiError("POST", `/${rt.plural}`, 409, "AlreadyExists", `${name} exists`);
      made = this.put(rt, body as Obj, this.currentWorkloadUid);
    });
    return structuredClone(made);
  }

  async apply(rt: ResourceType, _ns: string, body: KubeObject): Promise<unknown> {
    const name = body.metadata!.name!;
    const o = this.objects.get(this.key(rt, name));
    if (!o) throw new ApiError("PATCH", `/${rt.plural}/${name}`, 404, "NotFound", "not found");
    if (body.metadata?.resourceVersion && body.metadata.resourceVersion !== o.metadata.resourceVersion)
      throw new ApiError("PATCH", `/${rt.plural}/${name}`, 409, "Conflict", "the object has been modified");
    this.checkMarks("update", rt, o);
    this.checkRules(body as Obj);
    const b = body as Obj;
    if (b.roleRef && o.roleRef && JSON.stringify(b.roleRef) !== JSON.stringify(o.roleRef))
      throw new ApiError("PATCH", `/${rt.plural}/${name}`, 422, "Invalid", "roleRef is immutable");
    const write = () => {
      const m = body.metadata!;
      o.metadata.labels = { ...o.metadata.labels, ...(m.labels ?? {}) };
      o.metadata.annotations = { ...o.metadata.annotations, ...(m.annotations ?? {}) };
      o.metadata.ownerReferences = structuredClone(m.ownerReferences ?? []) as Meta["ownerReferences"];
      if (b.rules) o.rules = structuredClone(b.rules);
      if (b.subjects) o.subjects = structuredClone(b.subjects);
      o.metadata.resourceVersion = this.nextRv();
    };
    // An apply is a PATCH, which admission sees as an UPDATE.
    this.fail("update", rt, () => this.fail("patch", rt, write));
    return structuredClone(o);
  }

  async delete(rt: ResourceType, _ns: string | undefined, name: string, pre?: { uid?: string; resourceVersion?: string }): Promise<void> {
    const o = this.objects.get(this.key(rt, name));
    if (!o) throw new ApiError("DELETE", `/${rt.plural}/${name}`, 404, "NotFound", "not found");
    if ((pre?.uid && pre.uid !== o.metadata.uid) || (pre?.resourceVersion && pre.resourceVersion !== o.metadata.resourceVersion)) {
      throw new ApiError("DELETE", `/${rt.plural}/${name}`, 409, "Conflict", "precondition failed");
    }
    this.checkMarks("delete", rt, o);
    this.fail("delete", rt, () => void this.objects.delete(this.key(rt, name)));
  }

  /** True when podlogreader could still write `verb` on the resource (a timeout that applies counts). */
  allows(verb: WriteVerb, plural: Resource): boolean {
    const f = this.refusals.get(`${verb}:${plural}`);
    return !f || ("timeout" in f && f.applied);
  }
}

/** What each ServiceAccount (by UID) can read the logs of, from the model's objects: binding subjects × the Role's names. */
function granted(api: ModelApi): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const binding = api.objects.get(`rolebindings/${NAME}`);
  if (binding?.roleRef?.kind !== "Role") return out;
  const role = api.objects.get(`roles/${binding.roleRef.name}`);
  if (!role) return out;
  const names = new Set<string>();
  for (const r of role.rules ?? []) {
    if (!r.resources?.includes("pods/log") || !(r.verbs.includes("get") || r.verbs.includes("*"))) continue;
    for (const n of r.resourceNames?.length ? r.resourceNames : ["*"]) names.add(n);
  }
  for (const s of binding.subjects ?? []) {
    const sa = s.kind === "ServiceAccount" && (s.namespace ?? NS) === NS ? api.objects.get(`serviceaccounts/${s.name}`) : undefined;
    if (sa && names.size > 0) out.set(sa.metadata.uid, new Set([...(out.get(sa.metadata.uid) ?? []), ...names]));
  }
  return out;
}

/** The history's model of the StatefulSet: which incarnation exists, whether it opted in, its pods. */
interface Model {
  uid?: string;
  optedIn: boolean;
  pods: string[];
  incarnation: number;
}

/** What the grants may be: the current pods, to the ServiceAccount podlogreader made for this incarnation, while opted in. */
function excess(api: ModelApi, model: Model): string[] {
  const found: string[] = [];
  for (const [uid, names] of granted(api)) {
    const sa = [...api.objects.values()].find((o) => o.metadata.uid === uid)!;
    const own =
      model.uid !== undefined && model.optedIn && api.madeFor.get(uid) === model.uid && sa.metadata.labels?.[LABEL] === "podlogreader";
    for (const n of names)
      if (!own || !model.pods.includes(n)) found.push(`${n} to ServiceAccount ${uid}${own ? "" : " (not this workload's own)"}`);
  }
  return found;
}

/** Some write that podlogreader may make and that would end the excess is allowed. */
function wayOut(api: ModelApi, model: Model): boolean {
  const ours = (plural: Resource) => api.objects.get(`${plural}/${NAME}`)?.metadata.labels?.[LABEL] === "podlogreader";
  const update = (plural: Resource) => api.allows("update", plural) && api.allows("patch", plural);
  if (ours("rolebindings") && (update("rolebindings") || api.allows("delete", "rolebindings"))) return true;
  if (ours("roles") && (update("roles") || api.allows("delete", "roles"))) return true;
  // A ServiceAccount that is not the workload's own stops holding the grant once deleted.
  const sa = api.objects.get(`serviceaccounts/${NAME}`);
  const ownSa = sa && model.uid !== undefined && api.madeFor.get(sa.metadata.uid) === model.uid;
  return !!(ours("serviceaccounts") && !ownSa && api.allows("delete", "serviceaccounts"));
}

type Action =
  | { type: "scaleDown" }
  | { type: "scaleUp" }
  | { type: "optOut" }
  | { type: "optIn" }
  | { type: "delete" }
  | { type: "recreate"; optedIn: boolean; pods: number; orphan: boolean }
  | { type: "takeOverRole" }
  | { type: "takeOverServiceAccount" }
  | { type: "foreignServiceAccount" };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.constant({ type: "scaleDown" as const }),
  fc.constant({ type: "scaleUp" as const }),
  fc.constant({ type: "optOut" as const }),
  fc.constant({ type: "optIn" as const }),
  fc.constant({ type: "delete" as const }),
  fc.record({ type: fc.constant("recreate" as const), optedIn: fc.boolean(), pods: fc.integer({ min: 0, max: 2 }), orphan: fc.boolean() }),
  fc.constant({ type: "takeOverRole" as const }),
  fc.constant({ type: "takeOverServiceAccount" as const }),
  fc.constant({ type: "foreignServiceAccount" as const }),
);

const failure: fc.Arbitrary<Failure> = fc.oneof(
  fc.record({ status: fc.constantFrom(403 as const, 404 as const, 409 as const, 422 as const, 429 as const, 500 as const) }),
  fc.record({ timeout: fc.constant(true as const), applied: fc.boolean() }),
);
const refusals = fc
  .array(fc.tuple(fc.constantFrom(...VERBS), fc.constantFrom(...RESOURCES), failure), { maxLength: 8 })
  .map((list) => new Map<string, Failure>(list.map(([verb, resource, f]) => [`${verb}:${resource}`, f])));

async function refusedCount(metrics: Metrics): Promise<number> {
  const values = (await metrics.registry.getSingleMetric("podlogreader_role_writes_refused_total")!.get()).values;
  return values.reduce((n, v) => n + v.value, 0);
}

/** One history, played: returns what went wrong, or undefined. */
async function play(
  refused: Map<string, Failure>,
  actions: Action[],
  laggingCache: boolean[],
  unreadable: string[] = [],
): Promise<string | undefined> {
  const api = new ModelApi();
  api.unreadable = new Set(unreadable);
  const world = new World();
  const model: Model = { uid: "sts-1", optedIn: true, pods: ["db-0", "db-1"], incarnation: 1 };
  const roles = new MapCache<Role>();
  const roleBindings = new MapCache<RoleBinding>();
  const serviceAccounts = new MapCache<PartialObjectMetadata>();
  const events: string[] = [];
  const sink = { normal: async () => {}, warn: async (_on: unknown, reason: string) => void events.push(reason) };
  const metrics = new Metrics();
  const reconciler = new Reconciler(
    api,
    { world, roles, roleBindings, serviceAccounts },
    OPTIONS,
    sink,
    createLogger("error", "text"),
    metrics,
  );

  let shownWorkload: Workload | undefined;
  let shownPods: string[] = [];
  const show = () => {
    // The world as the controller's watches see it: the workload and its pods.
    for (const p of shownPods)
      world.updatePod(
        { namespace: NS, name: p, uid: `${shownWorkload!.uid}-${p}`, controllerKind: "StatefulSet", controllerUid: shownWorkload!.uid },
        undefined,
      );
    if (shownWorkload) world.updateWorkload(shownWorkload, undefined);
    shownWorkload = model.uid ? { kind: "StatefulSet", namespace: NS, name: "db", uid: model.uid, optedIn: model.optedIn } : undefined;
    shownPods = model.uid ? [...model.pods] : [];
    if (shownWorkload) world.updateWorkload(undefined, shownWorkload);
    for (const p of shownPods)
      world.updatePod(undefined, {
        namespace: NS,
        name: p,
        uid: `${shownWorkload!.uid}-${p}`,
        controllerKind: "StatefulSet",
        controllerUid: shownWorkload!.uid,
      });
    api.currentWorkloadUid = model.uid;
  };
  const sync = () => {
    // The watches catch up: label-selected Roles and RoleBindings, every ServiceAccount.
    for (const [cache, plural, all] of [
      [roles, "roles", false],
      [roleBindings, "rolebindings", false],
      [serviceAccounts, "serviceaccounts", true],
    ] as const) {
      (cache.objects as Map<string, unknown>).clear();
      for (const [k, o] of api.objects) {
        if (k.startsWith(`${plural}/`) && (all || o.metadata.labels?.[LABEL] === "podlogreader"))
          (cache.objects as Map<string, unknown>).set(`${NS}/${o.metadata.name}`, structuredClone(o));
      }
    }
  };
  const reconcileUntilQuiet = async (lag: boolean): Promise<unknown> => {
    let last: unknown;
    for (let i = 0; i < RETRIES; i++) {
      // A lagging watch delivers the change later, and that brings the workload back anyway.
      const lagging = lag && i === 0;
      if (!lagging) sync();
      try {
        await reconciler.reconcile(`StatefulSet/${NS}/db`);
        if (!lagging) return undefined;
      } catch (err) {
        last = err;
      }
    }
    return last;
  };

  show();
  if (await reconcileUntilQuiet(false)) return "the first reconcile, with nothing refused, failed";
  api.refusals = refused;
  for (const [i, a] of actions.entries()) {
    switch (a.type) {
      case "scaleDown":
        model.pods.pop();
        break;
      case "scaleUp":
        model.pods.push(`db-${model.pods.length}`);
        break;
      case "optOut":
        model.optedIn = false;
        break;
      case "optIn":
        model.optedIn = true;
        break;
      case "delete":
        model.uid = undefined;
        model.pods = [];
        break;
      case "recreate":
        if (a.orphan)
          for (const o of api.objects.values()) o.metadata.ownerReferences = o.metadata.ownerReferences?.filter((r) => r.uid !== model.uid);
        model.uid = `sts-${++model.incarnation}`;
        model.optedIn = a.optedIn;
        model.pods = Array.from({ length: a.pods }, (_, n) => `db-${n}`);
        break;
      case "takeOverRole":
        api.edit("roles", NAME, (o) => {
          delete o.metadata.labels?.[LABEL];
          o.rules = [{ apiGroups: [""], resources: ["pods/log"], verbs: ["get"], resourceNames: ["other-team-0"] }];
        });
        break;
      case "takeOverServiceAccount":
        api.edit("serviceaccounts", NAME, (o) => void delete o.metadata.labels?.[LABEL]);
        break;
      case "foreignServiceAccount":
        if (!api.objects.has(`serviceaccounts/${NAME}`))
          api.put({ group: "", version: "v1", plural: "serviceaccounts", kind: "ServiceAccount" }, { metadata: { name: NAME } }, undefined);
        break;
    }
    show();
    const eventsBefore = events.length;
    const countedBefore = await refusedCount(metrics);
    const thrown = await reconcileUntilQuiet(laggingCache[i] ?? false);
    if (api.violations.length > 0) return `after ${a.type}: ${api.violations.join("; ")}`;
    const left = excess(api, model);
    if (left.length === 0) continue;
    if (wayOut(api, model)) return `after ${a.type}: still granted ${left.join(", ")}, though a way out was allowed`;
    if (!thrown) return `after ${a.type}: still granted ${left.join(", ")}, and the reconcile reported success`;
    const warned = events.slice(eventsBefore).some((r) => r === "RoleWriteRefused" || r === "NameConflict");
    const counted = (await refusedCount(metrics)) > countedBefore;
    if (!warned || !counted)
      return (
        `after ${a.type}: still granted ${left.join(", ")}, and ` + `${warned ? "no refusal was counted" : "no Warning Event was recorded"}`
      );
  }
  return undefined;
}

describe("whatever the apiserver refuses", () => {
  test("nothing stays granted beyond the workload's own pods to its own ServiceAccount while any way out is allowed; otherwise the " +
    "reconcile keeps failing, and says so", async () => {
    await fc.assert(
      fc.asyncProperty(
        refusals,
        fc.array(action, { minLength: 1, maxLength: 8 }),
        fc.array(fc.boolean(), { maxLength: 8 }),
        fc.subarray([...RESOURCES]),
        async (refused, actions, lagging, unreadable) => {
          const problem = await play(refused, actions, lagging, unreadable);
          expect(problem).toBeUndefined();
        },
      ),
      {
        numRuns: Number(process.env.PROPERTY_RUNS ?? 300),
        // The histories of an outside review, each of which the reconciler once failed.
        examples: [
          // Role UPDATE and RoleBinding DELETE refused; db scales 2 -> 1.
          [
            new Map<string, Failure>([
              ["update:roles", { status: 403 }],
              ["delete:rolebindings", { status: 422 }],
            ]),
            [{ type: "scaleDown" }],
            [],
            [],
          ],
          // DELETE of all three refused; db opts out, is deleted, and another db that never opted in appears.
          [
            new Map<string, Failure>(RESOURCES.map((r) => [`delete:${r}`, { status: 403 }])),
            [{ type: "optOut" }, { type: "delete" }, { type: "recreate", optedIn: false, pods: 1, orphan: false }],
            [],
            [],
          ],
          // A webhook refuses Role UPDATE with 409.
          [new Map<string, Failure>([["update:roles", { status: 409 }]]), [{ type: "scaleDown" }], [], []],
          // The Role taken over while RoleBinding DELETE is refused.
          [new Map<string, Failure>([["delete:rolebindings", { status: 403 }]]), [{ type: "takeOverRole" }], [], []],
          // Deleted with propagationPolicy=Orphan and made again under the same name before the controller saw it go.
          [new Map<string, Failure>(), [{ type: "recreate", optedIn: true, pods: 1, orphan: true }], [], []],
          // Throttled: 429 and 500 on the Role's update while a pod leaves; the name still goes.
          [
            new Map<string, Failure>([
              ["update:roles", { status: 429 }],
              ["patch:roles", { status: 500 }],
            ]),
            [{ type: "scaleDown" }],
            [],
            [],
          ],
        ] satisfies [Map<string, Failure>, Action[], boolean[], Resource[]][],
      },
    );
  }, 300_000);
});
