// The reconciler as a table: the caches it reads, the answers the apiserver gives, and the writes
// and Events that must follow. The apiserver is a fake at the KubeApi boundary that records every
// write and answers each from the row's script.
import { describe, expect, test } from "bun:test";
import { desiredAccess, ROLE_POD_NAMES_BUDGET_BYTES } from "../../../src/access/desired.ts";
import type { WorkloadKind } from "../../../src/access/kinds.ts";
import { World, type Workload } from "../../../src/access/membership.ts";
import { managedName } from "../../../src/access/names.ts";
import {
  ForeignObjectError,
  Reconciler,
  RoleWriteRefusedError,
  StaleCacheError,
  type ObjectWriter,
} from "../../../src/controller/reconciler.ts";
import type { KubeObject } from "../../../src/kube/api.ts";
import type { PartialObjectMetadata, Role, RoleBinding } from "../../../src/kube/objects.ts";
import type { ResourceType } from "../../../src/kube/resources.ts";
import { ApiError } from "../../../src/kube/transport.ts";
import { createLogger } from "../../../src/log.ts";
import { Metrics } from "../../../src/telemetry/metrics.ts";
import { MapCache } from "../../support/map-cache.ts";

const NS = "shop";
const WEB_UID = "uid-web";
const NAME = managedName("Deployment", "web");
const OPTIONS = { podVisibility: "namespace" as const, createServiceAccountAndRoleBinding: true };

/** A world with the Deployment web (opted in or not) and its pods through one ReplicaSet. */
function worldWith(pods: string[], opts: { optedIn?: boolean; exists?: boolean } = {}): World {
  const world = new World();
  if (opts.exists === false) return world;
  const deployment: Workload = { kind: "Deployment", namespace: NS, name: "web", uid: WEB_UID, optedIn: opts.optedIn ?? true };
  const rs: Workload = {
    kind: "ReplicaSet",
    namespace: NS,
    name: "web-1",
    uid: "uid-rs",
    optedIn: opts.optedIn ?? true,
    controllerKind: "Deployment",
    controllerUid: WEB_UID,
  };
  world.updateWorkload(undefined, deployment);
  world.updateWorkload(undefined, rs);
  for (const p of pods)
    world.updatePod(undefined, { namespace: NS, name: p, uid: `uid-${p}`, controllerKind: "ReplicaSet", controllerUid: "uid-rs" });
  return world;
}

const WEB = { kind: "Deployment" as WorkloadKind, namespace: NS, name: "web", uid: WEB_UID };
const ours = (rv = "10") => ({
  name: NAME,
  namespace: NS,
  uid: `uid-${rv}`,
  resourceVersion: rv,
  labels: { "app.kubernetes.io/managed-by": "podlogreader" },
  annotations: { "podlogreader.dev/workload": "Deployment/web" },
  ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: WEB_UID, controller: true }],
});
/** Marks of podlogreader's for an earlier Deployment web (another UID), or orphaned (no owner left). */
const earlier = (owner: "uid-old" | "orphaned") => {
  const m = ours();
  return owner === "orphaned" ? { ...m, ownerReferences: [] } : { ...m, ownerReferences: [{ ...m.ownerReferences[0]!, uid: owner }] };
};
const foreign = () => ({ name: NAME, namespace: NS, uid: "uid-foreign", resourceVersion: "7", labels: {} });

/** The live Role podlogreader would have written for these pods. */
function liveRole(pods: string[], meta: Role["metadata"] = ours()): Role {
  return { metadata: meta, rules: desiredAccess(WEB, pods, OPTIONS).role.rules };
}
function liveBinding(meta: PartialObjectMetadata["metadata"] = ours(), roleName = NAME): RoleBinding {
  return {
    metadata: meta,
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: roleName },
    subjects: [{ kind: "ServiceAccount", name: NAME, namespace: NS }],
  };
}
const liveServiceAccount = (): PartialObjectMetadata => ({ metadata: ours() });

type Answer = Error | undefined;
interface Write {
  verb: "create" | "apply" | "delete";
  kind: string;
  name: string;
  podNames?: string[];
  subjects?: number;
  resourceVersion?: string;
}
type Live = { metadata: { name: string; uid?: string } };
/** Every write of this verb and kind fails with `error`, as under an admission policy. */
type Refuse = { verb: Write["verb"]; kind: string; error: Error };

/**
 * Records every write; answers the n-th with `answers[n]` (an error to throw) or echoes the body
 * back. Reads answer what the apiserver holds: the row's objects, changed by the writes that went
 * through.
 */
class FakeApi implements ObjectWriter {
  readonly writes: Write[] = [];
  private readonly live = new Map<string, Live>();
  constructor(
    private readonly answers: Answer[] = [],
    objects: Partial<Record<string, Live | undefined>> = {},
    private readonly refuse: Refuse[] = [],
  ) {
    for (const [kind, o] of Object.entries(objects)) if (o) this.live.set(`${kind}/${o.metadata.name}`, o);
  }
  private answer(w: Write, body?: KubeObject): unknown {
    const n = this.writes.length;
    this.writes.push(w);
    const a = this.answers[n] ?? this.refuse.find((r) => r.verb === w.verb && r.kind === w.kind)?.error;
    if (a) throw a;
    if (w.verb === "delete") {
      this.live.delete(`${w.kind}/${w.name}`);
      return undefined;
    }
    const uid = w.verb === "create" ? `uid-written-${n}` : this.live.get(`${w.kind}/${w.name}`)?.metadata.uid;
    const written = { ...body, metadata: { ...body?.metadata, uid, resourceVersion: `${100 + n}` } } as Live;
    this.live.set(`${w.kind}/${w.name}`, written);
    return written;
  }
  async get(rt: ResourceType, _ns: string | undefined, name: string) {
    const o = this.live.get(`${rt.kind}/${name}`);
    if (!o) throw new ApiError("GET", `/${rt.plural}/${name}`, 404, "NotFound", "not found");
    return structuredClone(o);
  }
  async create(rt: ResourceType, _ns: string | undefined, body: KubeObject) {
    return this.answer({ verb: "create", kind: rt.kind, name: body.metadata!.name!, podNames: podsIn(body) }, body);
  }
  async apply(rt: ResourceType, _ns: string, body: KubeObject) {
    const subjects = (body as { subjects?: unknown[] }).subjects?.length;
    return this.answer(
      {
        verb: "apply",
        kind: rt.kind,
        name: body.metadata!.name!,
        podNames: podsIn(body),
        subjects,
        resourceVersion: body.metadata?.resourceVersion ?? undefined,
      },
      body,
    );
  }
  async delete(rt: ResourceType, _ns: string | undefined, name: string, pre?: { resourceVersion?: string }) {
    this.answer({ verb: "delete", kind: rt.kind, name, resourceVersion: pre?.resourceVersion });
  }
}

function podsIn(body: KubeObject): string[] | undefined {
  const rules = (body as { rules?: { resources?: string[]; resourceNames?: string[] }[] }).rules;
  if (!rules) return undefined;
  return rules.find((r) => r.resources?.includes("pods/log"))?.resourceNames ?? [];
}

interface Row {
  name: string;
  world: World;
  role?: Role;
  binding?: RoleBinding;
  serviceAccount?: PartialObjectMetadata;
  /** What the apiserver holds where the cache is behind it; by default what the cache holds. */
  live?: { role?: Role | null };
  answers?: Answer[];
  refuse?: Refuse[];
  writes: Write[];
  events: string[];
  throws?: new (...args: never[]) => Error;
}

/** The Role's create was attempted and failed: the binding of ours is deleted, so nothing is bound to a Role of unknown content. */
const CREATE_ROLE_THEN_UNBIND: Write[] = [
  { verb: "create", kind: "Role", name: NAME, podNames: ["web-a"] },
  { verb: "delete", kind: "RoleBinding", name: NAME, resourceVersion: "10" },
];

/** The Role's update to web-b was attempted and failed: the Role is shrunk to no pod, since it may still name web-a. */
const APPLY_THEN_SHRINK: Write[] = [
  { verb: "apply", kind: "Role", name: NAME, podNames: ["web-b"], resourceVersion: "10" },
  { verb: "apply", kind: "Role", name: NAME, podNames: [], resourceVersion: "10" },
];

/**
 * A world with these pods, and podlogreader's Role (naming `rolePods`, by default the same pods),
 * RoleBinding and ServiceAccount in place; `instead` names what is otherwise, or absent.
 */
function inPlace(
  pods: string[],
  instead: Pick<Row, "role" | "binding" | "serviceAccount"> & { rolePods?: string[]; optedIn?: boolean; exists?: boolean } = {},
): Pick<Row, "world" | "role" | "binding" | "serviceAccount"> {
  const { rolePods = pods, optedIn, exists, ...objects } = instead;
  return {
    world: worldWith(pods, { optedIn, exists }),
    role: liveRole(rolePods),
    binding: liveBinding(),
    serviceAccount: liveServiceAccount(),
    ...objects,
  };
}

/**
 * The RoleBinding's delete was refused: the binding is emptied and the Role shrunk to no pod, then
 * the Role is deleted at the version that write left, and the ServiceAccount.
 */
const REFUSED_DELETE_EMPTIES_FIRST: Write[] = [
  { verb: "delete", kind: "RoleBinding", name: NAME, resourceVersion: "10" },
  { verb: "apply", kind: "RoleBinding", name: NAME, subjects: 0, resourceVersion: "10" },
  { verb: "apply", kind: "Role", name: NAME, podNames: [], resourceVersion: "10" },
  { verb: "delete", kind: "Role", name: NAME, resourceVersion: "102" },
  { verb: "delete", kind: "ServiceAccount", name: NAME, resourceVersion: "10" },
];

const refused = (status = 422) => new ApiError("PATCH", "/roles", status, "Invalid", "denied by policy");

const rows: Row[] = [
  {
    name: "create: a new workload gets its Role, ServiceAccount and RoleBinding, the Role listing its pods",
    world: worldWith(["web-a", "web-b"]),
    writes: [
      { verb: "create", kind: "Role", name: NAME, podNames: ["web-a", "web-b"] },
      { verb: "create", kind: "ServiceAccount", name: NAME },
      { verb: "create", kind: "RoleBinding", name: NAME },
    ],
    events: ["Normal AccessGranted"],
  },
  {
    name: "no-op: everything in place writes nothing and records nothing",
    ...inPlace(["web-a"]),
    writes: [],
    events: [],
  },
  {
    name: "update: a Role naming a pod that left is applied anew, on the condition of the version read",
    ...inPlace(["web-b", "web-c"], { rolePods: ["web-a", "web-b"] }),
    writes: [{ verb: "apply", kind: "Role", name: NAME, podNames: ["web-b", "web-c"], resourceVersion: "10" }],
    // A routine update is for the log and the metrics; Events are for what a person should know.
    events: [],
  },
  {
    name: "update: no pods left means no rule naming pods at all",
    ...inPlace([], { rolePods: ["web-a"] }),
    writes: [{ verb: "apply", kind: "Role", name: NAME, podNames: [], resourceVersion: "10" }],
    events: [],
  },
  {
    name: "foreign Role whose binding cannot be deleted: the binding binds nobody any more",
    ...inPlace(["web-a"], { role: liveRole(["web-a"], foreign()) }),
    refuse: [{ verb: "delete", kind: "RoleBinding", error: refused(403) }],
    writes: [
      { verb: "delete", kind: "RoleBinding", name: NAME, resourceVersion: "10" },
      { verb: "apply", kind: "RoleBinding", name: NAME, subjects: 0, resourceVersion: "10" },
    ],
    events: ["Warning RoleWriteRefused", "Warning NameConflict"],
    throws: ForeignObjectError,
  },
  {
    name: "foreign Role: left alone, and podlogreader's RoleBinding of that name is deleted",
    ...inPlace(["web-a"], { role: liveRole(["web-a"], foreign()) }),
    writes: [{ verb: "delete", kind: "RoleBinding", name: NAME, resourceVersion: "10" }],
    events: ["Warning NameConflict"],
    throws: ForeignObjectError,
  },
  {
    name: "foreign Role the cache does not hold (409 on create): the RoleBinding is deleted too",
    ...inPlace(["web-a"], { role: undefined }),
    live: { role: liveRole(["other-team-0"], foreign()) },
    answers: [new ApiError("POST", "/roles", 409, "AlreadyExists", "exists")],
    writes: CREATE_ROLE_THEN_UNBIND,
    events: ["Warning NameConflict"],
    throws: ForeignObjectError,
  },
  {
    name: "foreign RoleBinding: left alone with a Warning; the Role is still kept",
    ...inPlace(["web-a"], { binding: liveBinding(foreign()) }),
    writes: [],
    events: ["Warning NameConflict"],
    throws: ForeignObjectError,
  },
  {
    name: "roleRef change: a RoleBinding pointing elsewhere is deleted and created again",
    ...inPlace(["web-a"], { binding: liveBinding(ours(), "something-else") }),
    writes: [
      { verb: "delete", kind: "RoleBinding", name: NAME, resourceVersion: "10" },
      { verb: "create", kind: "RoleBinding", name: NAME },
    ],
    events: [],
  },
  {
    name: "deletion: a workload that is gone loses its RoleBinding, Role and ServiceAccount, binding first",
    ...inPlace([], { exists: false, rolePods: ["web-a"] }),
    writes: [
      { verb: "delete", kind: "RoleBinding", name: NAME, resourceVersion: "10" },
      { verb: "delete", kind: "Role", name: NAME, resourceVersion: "10" },
      { verb: "delete", kind: "ServiceAccount", name: NAME, resourceVersion: "10" },
    ],
    events: [],
  },
  {
    name: "opt-out: the same, and objects podlogreader did not create are not touched",
    ...inPlace(["web-a"], { optedIn: false, binding: liveBinding(foreign()), serviceAccount: { metadata: foreign() } }),
    writes: [{ verb: "delete", kind: "Role", name: NAME, resourceVersion: "10" }],
    events: [],
  },
  {
    name: "failed write: an update refused for its new names is followed by one that only removes names",
    ...inPlace(["web-b", "web-c"], { rolePods: ["web-a", "web-b"] }),
    answers: [refused()],
    writes: [
      { verb: "apply", kind: "Role", name: NAME, podNames: ["web-b", "web-c"], resourceVersion: "10" },
      { verb: "apply", kind: "Role", name: NAME, podNames: ["web-b"], resourceVersion: "10" },
    ],
    events: ["Warning RoleWriteRefused"],
    throws: RoleWriteRefusedError,
  },
  {
    name:
      "failed write: when the shrinking write is refused too, the binding is emptied, the Role still naming a pod that left is " +
      "deleted, and then the binding",
    ...inPlace(["web-b", "web-c"], { rolePods: ["web-a", "web-b"] }),
    answers: [refused(), refused(403)],
    writes: [
      { verb: "apply", kind: "Role", name: NAME, podNames: ["web-b", "web-c"], resourceVersion: "10" },
      { verb: "apply", kind: "Role", name: NAME, podNames: ["web-b"], resourceVersion: "10" },
      { verb: "apply", kind: "RoleBinding", name: NAME, subjects: 0, resourceVersion: "10" },
      { verb: "delete", kind: "Role", name: NAME, resourceVersion: "10" },
      { verb: "delete", kind: "RoleBinding", name: NAME, resourceVersion: "102" },
    ],
    events: ["Warning RoleWriteRefused"],
    throws: RoleWriteRefusedError,
  },
  {
    name: "failed write: a shrinking write that would leave no name drops the rule naming pods",
    ...inPlace(["web-c"], { rolePods: ["web-a"] }),
    answers: [refused()],
    writes: [
      { verb: "apply", kind: "Role", name: NAME, podNames: ["web-c"], resourceVersion: "10" },
      { verb: "apply", kind: "Role", name: NAME, podNames: [], resourceVersion: "10" },
    ],
    events: ["Warning RoleWriteRefused"],
    throws: RoleWriteRefusedError,
  },
  {
    name: "failed write: a refused update that only adds names needs no second write, only the report",
    ...inPlace(["web-a", "web-b"], { rolePods: ["web-a"] }),
    answers: [refused(413)],
    writes: [{ verb: "apply", kind: "Role", name: NAME, podNames: ["web-a", "web-b"], resourceVersion: "10" }],
    events: ["Warning RoleWriteRefused"],
    throws: RoleWriteRefusedError,
  },
  {
    name: "failed write: a 409 of a Role that had changed since the cache's copy means the cache was behind; it is retried, not reported",
    ...inPlace(["web-b"], { rolePods: ["web-a"] }),
    live: { role: liveRole(["web-b"], ours("11")) },
    answers: [new ApiError("PATCH", "/roles", 409, "Conflict", "modified")],
    writes: [{ verb: "apply", kind: "Role", name: NAME, podNames: ["web-b"], resourceVersion: "10" }],
    events: [],
    throws: StaleCacheError,
  },
  {
    name: "failed write: a 409 of a Role that had not changed is a refusal (a webhook may answer any code), and the Role is shrunk",
    ...inPlace(["web-b"], { rolePods: ["web-a"] }),
    answers: [new ApiError("PATCH", "/roles", 409, "Conflict", "denied by webhook")],
    writes: APPLY_THEN_SHRINK,
    events: ["Warning RoleWriteRefused"],
    throws: RoleWriteRefusedError,
  },
  {
    name: "failed write: a 503 is tried again as it is, but what still grants too much is taken away first",
    ...inPlace(["web-b"], { rolePods: ["web-a"] }),
    answers: [new ApiError("PATCH", "/roles", 503, "ServiceUnavailable", "try later")],
    writes: APPLY_THEN_SHRINK,
    events: [],
    throws: ApiError,
  },
  {
    name: "failed write: a refused create binds nothing, and an old binding of ours goes",
    ...inPlace(["web-a"], { role: undefined }),
    answers: [refused()],
    writes: CREATE_ROLE_THEN_UNBIND,
    events: ["Warning RoleWriteRefused"],
    throws: RoleWriteRefusedError,
  },
  {
    name: "recreated workload: a ServiceAccount made for the earlier one is deleted and made anew, so its tokens end",
    ...inPlace(["web-a"], { serviceAccount: { metadata: earlier("uid-old") } }),
    writes: [
      { verb: "delete", kind: "ServiceAccount", name: NAME, resourceVersion: "10" },
      { verb: "create", kind: "ServiceAccount", name: NAME },
    ],
    events: [],
  },
  {
    name: "recreated workload: an orphaned Role (only the annotation left) is replaced, not taken over",
    ...inPlace(["web-a"], { role: liveRole(["web-a"], earlier("orphaned")) }),
    writes: [
      { verb: "delete", kind: "Role", name: NAME, resourceVersion: "10" },
      { verb: "create", kind: "Role", name: NAME, podNames: ["web-a"] },
    ],
    events: ["Normal AccessGranted"],
  },
  {
    name: "recreated workload: while the earlier ServiceAccount cannot be deleted, the binding binds nobody",
    ...inPlace(["web-a"], { serviceAccount: { metadata: earlier("orphaned") } }),
    answers: [refused(403)],
    writes: [
      { verb: "delete", kind: "ServiceAccount", name: NAME, resourceVersion: "10" },
      { verb: "apply", kind: "RoleBinding", name: NAME, subjects: 0, resourceVersion: "10" },
    ],
    events: ["Warning RoleWriteRefused"],
    throws: RoleWriteRefusedError,
  },
  {
    name: "foreign ServiceAccount of the managed name: never bound",
    ...inPlace(["web-a"], { serviceAccount: { metadata: foreign() } }),
    writes: [{ verb: "apply", kind: "RoleBinding", name: NAME, subjects: 0, resourceVersion: "10" }],
    events: ["Warning NameConflict"],
    throws: ForeignObjectError,
  },
  {
    name: "opt-out with every delete refused: the binding binds nobody, the Role names nothing, and each refusal is reported",
    ...inPlace(["web-a"], { optedIn: false }),
    refuse: ["RoleBinding", "Role", "ServiceAccount"].map((kind) => ({ verb: "delete" as const, kind, error: refused(403) })),
    writes: REFUSED_DELETE_EMPTIES_FIRST,
    events: ["Warning RoleWriteRefused", "Warning RoleWriteRefused", "Warning RoleWriteRefused"],
    throws: RoleWriteRefusedError,
  },
  {
    name: "a delete answered 404 while the object is still there is a refusal, not a success",
    ...inPlace([], { exists: false, rolePods: ["web-a"] }),
    answers: [new ApiError("DELETE", "/rolebindings", 404, "NotFound", "denied by webhook")],
    writes: REFUSED_DELETE_EMPTIES_FIRST,
    // On the RoleBinding: a workload that is gone holds no Events.
    events: ["Warning RoleWriteRefused"],
    throws: RoleWriteRefusedError,
  },
];

async function play(row: Row, extra: { log?: ReturnType<typeof createLogger>; metrics?: Metrics } = {}) {
  const role = row.live && "role" in row.live ? (row.live.role ?? undefined) : row.role;
  const api = new FakeApi(row.answers, { Role: role, RoleBinding: row.binding, ServiceAccount: row.serviceAccount }, row.refuse);
  const events: string[] = [];
  const sink = {
    normal: async (_on: unknown, reason: string) => void events.push(`Normal ${reason}`),
    warn: async (_on: unknown, reason: string) => void events.push(`Warning ${reason}`),
  };
  const reconciler = new Reconciler(
    api,
    {
      world: row.world,
      roles: new MapCache([row.role]),
      roleBindings: new MapCache([row.binding]),
      serviceAccounts: new MapCache([row.serviceAccount]),
    },
    OPTIONS,
    sink,
    extra.log ?? createLogger("error", "text"),
    extra.metrics,
  );
  let error: unknown;
  try {
    await reconciler.reconcile(`Deployment/${NS}/web`);
  } catch (err) {
    error = err;
  }
  return { writes: api.writes, events, error };
}

describe("Reconciler", () => {
  test.each(rows.map((r) => [r.name, r] as const))("%s", async (_name, row) => {
    const { writes, events, error } = await play(row);
    expect(writes).toEqual(
      row.writes.map((w) => ({ podNames: undefined, subjects: undefined, resourceVersion: undefined, ...w })) as Write[],
    );
    expect(events).toEqual(row.events);
    if (row.throws) expect(error).toBeInstanceOf(row.throws);
    else expect(error).toBeUndefined();
  });

  test("a workload whose pods do not fit one Role gets the pods that fit, and a Warning that names how many are left out", async () => {
    const pods = Array.from({ length: 4_100 }, (_, i) => `${String(i).padStart(5, "0")}-${"p".repeat(247)}`);
    const { writes, events } = await play({ name: "", world: worldWith(pods), writes: [], events: [] });
    const granted = writes[0]!.podNames!;
    expect(granted.length).toBeLessThan(pods.length);
    expect(granted.reduce((n, p) => n + p.length + 3, 0)).toBeLessThanOrEqual(ROLE_POD_NAMES_BUDGET_BYTES);
    expect(granted).toEqual(pods.slice(0, granted.length));
    expect(events).toEqual(["Warning TooManyPods", "Normal AccessGranted"]);
  });

  test("every refused write is counted by verb and resource, and logged as a warning naming the object", async () => {
    const lines: { msg: string; level: string; object?: string }[] = [];
    const log = createLogger("info", "json", (line) => void lines.push(JSON.parse(line)));
    const metrics = new Metrics();
    const row = rows.find((r) => r.name.startsWith("opt-out with every delete refused"))!;
    await play(row, { log, metrics });
    const counted = (await metrics.registry.getSingleMetric("podlogreader_role_writes_refused_total")!.get()).values;
    expect(counted.map((v) => [v.labels, v.value])).toEqual([
      [{ namespace: NS, verb: "delete", resource: "rolebindings" }, 1],
      [{ namespace: NS, verb: "delete", resource: "roles" }, 1],
      [{ namespace: NS, verb: "delete", resource: "serviceaccounts" }, 1],
    ]);
    const warned = lines.filter((l) => l.level === "warn" && l.msg.startsWith("The apiserver refused")).map((l) => l.object);
    expect(warned).toEqual([`RoleBinding/${NAME}`, `Role/${NAME}`, `ServiceAccount/${NAME}`]);
  });

  test("a routine update of the Role is a log line and a count of writes, not an Event", async () => {
    const lines: string[] = [];
    const log = createLogger("info", "json", (line) => void lines.push(JSON.parse(line).msg));
    const metrics = new Metrics();
    const row = rows.find((r) => r.name.startsWith("update: a Role naming a pod that left"))!;
    const { writes, events } = await play(row, { log, metrics });
    expect(writes.map((w) => w.verb)).toEqual(["apply"]);
    expect(events).toEqual([]);
    expect(lines).toContain(`Updated Role ${NS}/${NAME} for Deployment/web: 2 pod(s) (+1 -1)`);
    const counted = (await metrics.registry.getSingleMetric("podlogreader_object_writes_total")!.get()).values;
    expect(counted).toEqual([expect.objectContaining({ labels: { kind: "Role", operation: "update" }, value: 1 })]);
  });
});
