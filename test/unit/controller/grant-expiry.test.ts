// The controller ends grants on time: the decision as a table, and the timers against a fake clock
// and a fake API that records every delete.
import { describe, expect, test } from "bun:test";
import { desiredGrant, type Subject } from "../../../src/access/grants.ts";
import { World } from "../../../src/access/membership.ts";
import { expiryVerdict, GRANT_ENDED, GrantExpiry, type Clock } from "../../../src/controller/grant-expiry.ts";
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

function setup(bindings: RoleBinding[], answers: (Error | undefined)[] = []) {
  const clock = new FakeClock(T0);
  const store = new Map(bindings.map((b) => [b.metadata.name, b]));
  const deletes: { name: string; uid?: string; resourceVersion?: string }[] = [];
  const events: string[] = [];
  let roleUid: string | undefined = ROLE_UID;
  const metrics = new Metrics();
  const world = new World();
  const expiry = new GrantExpiry({
    api: {
      async delete(_rt: ResourceType, _ns: string | undefined, name: string, pre?: { uid?: string; resourceVersion?: string }) {
        deletes.push({ name, ...pre });
        const a = answers[deletes.length - 1];
        if (a) throw a;
        const b = store.get(name);
        store.delete(name);
        expiry.onChange(b, undefined);
      },
    },
    grants: { get: (_ns, name) => store.get(name), values: () => store.values() },
    roleUid: (_ns, name) => (name === "podlogreader-web" ? roleUid : undefined),
    world,
    events: { normal: async (_on, reason) => void events.push(reason) },
    log: createLogger("error", "text"),
    metrics,
    clock,
  });
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return { clock, store, deletes, events, expiry, settle, metrics, world, dropRole: () => (roleUid = undefined) };
}

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
    expect(await s.metrics.registry.getSingleMetricAsString("podlogreader_grants_expired_total")).toContain(
      'podlogreader_grants_expired_total{namespace="ns",reason="expired"} 1',
    );
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
    expect(await s.metrics.registry.getSingleMetricAsString("podlogreader_grants_expired_total")).toContain('reason="role-gone"} 1');
  });

  test("a refused delete is retried with backoff until it goes through", async () => {
    const g = grant("a", T0 - 1);
    const s = setup(
      [g],
      [
        new ApiError("DELETE", "/rolebindings", 500, "InternalError", "etcd"),
        new ApiError("DELETE", "/rolebindings", 403, "Forbidden", "no"),
      ],
    );
    s.expiry.start();
    await s.settle();
    expect(s.deletes.length).toBe(1);
    for (let i = 0; i < 5 && s.store.size > 0; i++) {
      s.clock.advance(60_000);
      await s.settle();
    }
    expect(s.deletes.length).toBe(3);
    expect(s.store.size).toBe(0);
  });

  test("the Event on the workload names the reason GrantEnded", async () => {
    const g = grant("a", T0 - 1);
    const s = setup([g]);
    // The workload is known to the controller.
    s.world.updateWorkload(undefined, { kind: "Deployment", namespace: "ns", name: "web", uid: "w", optedIn: true });
    s.expiry.start();
    await s.settle();
    expect(s.events).toEqual([GRANT_ENDED]);
  });
});
