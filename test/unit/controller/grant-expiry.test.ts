// The controller ends grants on time: the decision as a table, and the timers against a fake clock
// and a fake API that records every delete.
import { describe, expect, test } from "bun:test";
import { desiredGrant, type Subject } from "../../../src/access/grants.ts";
import { World } from "../../../src/access/membership.ts";
import { Reasons, type InvolvedObject } from "../../../src/controller/events.ts";
import { GrantEnding } from "../../../src/controller/grant-ending.ts";
import { expiryVerdict, GrantExpiry, type Clock } from "../../../src/controller/grant-expiry.ts";
import { ApiError } from "../../../src/kube/transport.ts";
import type { RoleBinding } from "../../../src/kube/objects.ts";
import type { ResourceType } from "../../../src/kube/resources.ts";
import { createLogger } from "../../../src/log.ts";
import { Metrics } from "../../../src/telemetry/metrics.ts";

const T0 = Date.parse("2026-12-04T12:00:00Z");
const frontend: Subject = { kind: "Group", name: "frontend" };
const ROLE_UID = "role-uid";

function grant(name: string, expiresAtMs: number, over: { resourceVersion?: string; roleUid?: string } = {}): RoleBinding {
  const body = desiredGrant({
    namespace: "ns",
    kind: "Deployment",
    name: "web",
    subjects: [{ ...frontend, name }],
    roleUid: over.roleUid ?? ROLE_UID,
    expiresAtMs,
    reason: "INC-1",
    grantedBy: "admin",
  });
  return { ...body, metadata: { ...body.metadata, uid: `uid-${name}`, resourceVersion: over.resourceVersion ?? "1" } };
}

class FakeClock implements Clock {
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  constructor(public ms: number) {}
  now() {
    return this.ms;
  }
  after(ms: number, fn: () => void) {
    const t = { at: this.ms + ms, fn, live: true };
    this.timers.push(t);
    return () => {
      t.live = false;
    };
  }
  /** Moves time forward, firing each timer due on the way, in order. */
  advance(ms: number) {
    const end = this.ms + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.live = false;
      this.ms = due.at;
      due.fn();
    }
    this.ms = end;
  }
  get pending() {
    return this.timers.filter((t) => t.live).length;
  }
}

/**
 * A fake API over a store of grants. `refuse` says which writes the apiserver refuses and with what
 * error: `deletes` and `patches` are used in turn, one per call, until they run out; a refused
 * write leaves the store as it was.
 */
function setup(bindings: RoleBinding[], refuse: { deletes?: (Error | undefined)[]; patches?: (Error | undefined)[] } = {}) {
  const clock = new FakeClock(T0);
  const store = new Map(bindings.map((b) => [b.metadata.name, b]));
  const deletes: { name: string; uid?: string; resourceVersion?: string }[] = [];
  const patches: { name: string; body: unknown }[] = [];
  const events: string[] = [];
  let roleUid: string | undefined = ROLE_UID;
  let version = 100;
  const metrics = new Metrics();
  const world = new World();
  const log = createLogger("error", "text");
  const recorder = {
    normal: async (_on: InvolvedObject, reason: string) => void events.push(reason),
    warn: async (_on: InvolvedObject, reason: string) => void events.push(`warning:${reason}`),
  };
  const ending = new GrantEnding({
    api: {
      async delete(_rt: ResourceType, _ns: string | undefined, name: string, pre?: { uid?: string; resourceVersion?: string }) {
        deletes.push({ name, ...pre });
        const refused = refuse.deletes?.[deletes.length - 1];
        if (refused) throw refused;
        const b = store.get(name);
        if (!b) throw new ApiError("DELETE", "/rolebindings", 404, "NotFound", "gone");
        if (pre?.resourceVersion !== b.metadata.resourceVersion) throw new ApiError("DELETE", "/rolebindings", 409, "Conflict", "changed");
        store.delete(name);
        expiry.onChange(b, undefined);
      },
      async mergePatch(_rt: ResourceType, _ns: string | undefined, name: string, body: unknown) {
        patches.push({ name, body });
        const refused = refuse.patches?.[patches.length - 1];
        if (refused) throw refused;
        const b = store.get(name)!;
        const patch = body as { metadata: { resourceVersion: string }; subjects: [] };
        if (patch.metadata.resourceVersion !== b.metadata.resourceVersion)
          throw new ApiError("PATCH", "/rolebindings", 409, "Conflict", "changed");
        const emptied = { ...b, subjects: patch.subjects, metadata: { ...b.metadata, resourceVersion: String(version++) } };
        store.set(name, emptied);
        expiry.onChange(b, emptied);
        return emptied;
      },
      async list(_rt: ResourceType, opts: { fieldSelector?: string } = {}) {
        const name = opts.fieldSelector?.replace("metadata.name=", "");
        return { items: [...store.values()].filter((b) => !name || b.metadata.name === name), resourceVersion: String(version) };
      },
    },
    world,
    events: recorder,
    log,
    metrics,
  });
  const expiry = new GrantExpiry({
    ending,
    grants: { get: (_ns, name) => store.get(name), values: () => store.values() },
    roleUid: (_ns, name) => (name === "podlogreader-web" ? roleUid : undefined),
    world,
    events: recorder,
    log,
    metrics,
    clock,
  });
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
  };
  const counter = async (name: string) =>
    (await metrics.registry.getSingleMetricAsString(name)).split("\n").filter((l) => !l.startsWith("#"));
  return { clock, store, deletes, patches, events, expiry, ending, settle, counter, world, dropRole: () => (roleUid = undefined) };
}

const refusedBy = (status: number) => new ApiError("DELETE", "/rolebindings", status, "Refused", "denied by policy");

describe("expiryVerdict", () => {
  const roleUid = (_ns: string, name: string) => (name === "podlogreader-web" ? ROLE_UID : undefined);
  const live = grant("a", T0 + 20_000);
  test.each([
    ["a live grant waits until its expiry", live, T0, { action: "wait", untilMs: T0 + 20_000 }],
    ["at its expiry it is deleted", live, T0 + 20_000, { action: "delete", why: "expired" }],
    [
      "its Role gone, it is deleted before expiry",
      grant("b", T0 + 20_000, { roleUid: "another-role" }),
      T0,
      { action: "delete", why: "role-gone" },
    ],
    ["no readable expiry: deleted", { ...live, metadata: { ...live.metadata, annotations: {} } }, T0, { action: "delete", why: "expired" }],
    [
      "a binding without the grant marks is never touched, expired or not",
      { ...live, metadata: { ...live.metadata, labels: {} } },
      T0 + 10 ** 9,
      { action: "ignore" },
    ],
  ])("%s", (_, b, now, verdict) => {
    expect(expiryVerdict(b as RoleBinding, now, roleUid)).toEqual(verdict as ReturnType<typeof expiryVerdict>);
  });
});

describe("GrantExpiry", () => {
  test("nothing is deleted before start, however late it is", async () => {
    const g = grant("a", T0 - 1000);
    const s = setup([g]);
    s.expiry.onChange(undefined, g);
    s.clock.advance(60_000);
    await s.settle();
    expect(s.deletes).toEqual([]);
  });

  test("a grant that expired while the controller was down is deleted at start, with preconditions", async () => {
    const old = grant("a", T0 - 1000, { resourceVersion: "42" });
    const s = setup([old, grant("b", T0 + 60_000)]);
    s.expiry.start();
    await s.settle();
    expect(s.deletes).toEqual([{ name: old.metadata.name, uid: old.metadata.uid, resourceVersion: "42" }]);
    expect(s.events).toEqual([]); // the workload is not in the world; the log line and metric remain
    expect(await s.counter("podlogreader_grants_expired_total")).toEqual([
      'podlogreader_grants_expired_total{namespace="ns",reason="expired"} 1',
    ]);
  });

  test("a live grant is deleted by a timer at its expiry, not before, without polling", async () => {
    const g = grant("a", T0 + 20_000);
    const s = setup([g]);
    s.expiry.start();
    expect(s.clock.pending).toBe(1);
    s.clock.advance(19_999);
    await s.settle();
    expect(s.deletes).toEqual([]);
    s.clock.advance(1);
    await s.settle();
    expect(s.deletes.map((d) => d.name)).toEqual([g.metadata.name]);
    expect(s.clock.pending).toBe(0);
  });

  test("a renewal moves the timer to the new expiry", async () => {
    const g = grant("a", T0 + 20_000);
    const s = setup([g]);
    s.expiry.start();
    const renewed = grant("a", T0 + 3600_000, { resourceVersion: "2" });
    s.store.set(g.metadata.name, renewed);
    s.expiry.onChange(g, renewed);
    s.clock.advance(60_000);
    await s.settle();
    expect(s.deletes).toEqual([]);
    s.clock.advance(3600_000);
    await s.settle();
    expect(s.deletes).toEqual([{ name: g.metadata.name, uid: g.metadata.uid, resourceVersion: "2" }]);
  });

  test("a grant whose Role went away is deleted when the Role's change arrives", async () => {
    const g = grant("a", T0 + 3600_000);
    const s = setup([g]);
    s.expiry.start();
    s.dropRole();
    s.expiry.roleChanged("ns", "podlogreader-web");
    await s.settle();
    expect(s.deletes.map((d) => d.name)).toEqual([g.metadata.name]);
    expect(await s.counter("podlogreader_grants_expired_total")).toEqual([
      'podlogreader_grants_expired_total{namespace="ns",reason="role-gone"} 1',
    ]);
  });

  describe("when the apiserver refuses the delete, whatever its status code", () => {
    test.each([403, 404, 409, 422, 429, 500])("%i: the grant is emptied at once, and its delete retried until it goes", async (status) => {
      const g = grant("a", T0 - 1);
      const s = setup([g], { deletes: [refusedBy(status), refusedBy(status)] });
      s.world.updateWorkload(undefined, { kind: "Deployment", namespace: "ns", name: "web", uid: "w", optedIn: true });
      s.expiry.start();
      await s.settle();
      expect(s.store.get(g.metadata.name)?.subjects).toEqual([]);
      expect(s.events).toEqual([Reasons.GrantEnded, `warning:${Reasons.RoleWriteRefused}`]);
      expect(await s.counter("podlogreader_role_writes_refused_total")).toEqual([
        'podlogreader_role_writes_refused_total{namespace="ns",verb="delete",resource="rolebindings"} 1',
      ]);
      for (let i = 0; i < 5 && s.store.size > 0; i++) {
        s.clock.advance(60_000);
        await s.settle();
      }
      expect(s.deletes.length).toBe(3);
      expect(s.store.size).toBe(0);
      // Counted once: when it stopped binding anyone.
      expect(await s.counter("podlogreader_grants_expired_total")).toEqual([
        'podlogreader_grants_expired_total{namespace="ns",reason="expired"} 1',
      ]);
    });
  });

  test("with deletes and updates both refused, the grant is reported and retried, and ends once a way out opens", async () => {
    const g = grant("a", T0 - 1);
    const s = setup([g], { deletes: [refusedBy(403), refusedBy(403)], patches: [refusedBy(403)] });
    s.world.updateWorkload(undefined, { kind: "Deployment", namespace: "ns", name: "web", uid: "w", optedIn: true });
    s.expiry.start();
    await s.settle();
    expect(s.store.get(g.metadata.name)?.subjects).toEqual(g.subjects);
    expect(s.events).toEqual([`warning:${Reasons.RoleWriteRefused}`]);
    expect(await s.counter("podlogreader_role_writes_refused_total")).toEqual([
      'podlogreader_role_writes_refused_total{namespace="ns",verb="delete",resource="rolebindings"} 1',
      'podlogreader_role_writes_refused_total{namespace="ns",verb="update",resource="rolebindings"} 1',
    ]);
    s.clock.advance(1000);
    await s.settle();
    // The second delete is refused again, and the update now goes through.
    expect(s.store.get(g.metadata.name)?.subjects).toEqual([]);
  });

  test("a delete refused because the grant was renewed meanwhile is judged again, not emptied", async () => {
    const g = grant("a", T0 - 1);
    const s = setup([g]);
    const renewed = grant("a", T0 + 3600_000, { resourceVersion: "2" });
    // The cache still holds the old version when the timer fires; the apiserver has the renewal.
    s.store.set(g.metadata.name, renewed);
    expect(await s.ending.end(g, "expired")).toEqual({ ended: false, done: [], refusals: [], changed: true });
    expect(s.patches).toEqual([]);
    expect(s.store.get(g.metadata.name)).toEqual(renewed);
  });

  test("a grant gone already (revoked) is not counted as ended by the controller", async () => {
    const g = grant("a", T0 - 1);
    const s = setup([]);
    expect(await s.ending.end(g, "expired")).toEqual({ ended: true, done: [], refusals: [] });
    expect(await s.counter("podlogreader_grants_expired_total")).toEqual([]);
  });
});

describe("GrantEnding.endGrantsOf: a Role that cannot be kept from over-granting", () => {
  test("ends every grant of that Role, and only those", async () => {
    const a = grant("a", T0 + 3600_000);
    const b = grant("b", T0 + 3600_000);
    const otherRole = {
      ...grant("c", T0 + 3600_000),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "podlogreader-api" },
    };
    const unmarked = { ...grant("d", T0 + 3600_000), metadata: { ...grant("d", T0 + 3600_000).metadata, labels: {} } };
    const s = setup([a, b, otherRole, unmarked], { deletes: [undefined, refusedBy(403)] });
    const end = await s.ending.endGrantsOf("ns", "podlogreader-web");
    expect(end.ended).toBe(true);
    expect(s.store.has(a.metadata.name)).toBe(false);
    expect(s.store.get(b.metadata.name)?.subjects).toEqual([]);
    expect(s.store.get(otherRole.metadata.name)).toEqual(otherRole);
    expect(s.store.get(unmarked.metadata.name)).toEqual(unmarked);
    expect(end.refusals.map((r) => [r.verb, r.name])).toEqual([["delete", b.metadata.name]]);
    expect(await s.counter("podlogreader_grants_expired_total")).toEqual([
      'podlogreader_grants_expired_total{namespace="ns",reason="role-over-grants"} 2',
    ]);
  });

  test("says it could not when every way out is refused", async () => {
    const a = grant("a", T0 + 3600_000);
    const s = setup([a], { deletes: [refusedBy(403)], patches: [refusedBy(403)] });
    const end = await s.ending.endGrantsOf("ns", "podlogreader-web");
    expect(end.ended).toBe(false);
    expect(end.refusals.map((r) => r.verb)).toEqual(["delete", "update"]);
    expect(s.store.get(a.metadata.name)?.subjects).toEqual(a.subjects);
  });
});

describe("GrantExpiry events", () => {
  test("the Event on the workload names the reason GrantEnded", async () => {
    const g = grant("a", T0 - 1);
    const s = setup([g]);
    // The workload is known to the controller.
    s.world.updateWorkload(undefined, { kind: "Deployment", namespace: "ns", name: "web", uid: "w", optedIn: true });
    s.expiry.start();
    await s.settle();
    expect(s.events).toEqual([Reasons.GrantEnded]);
  });
});
