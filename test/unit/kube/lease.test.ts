// How the leader renews its Lease: with one conditional update of the Lease it last wrote, as
// client-go does, and by reading the Lease again only when that update fails.
import { describe, expect, test } from "bun:test";
import type { KubeApi, KubeObject } from "../../../src/kube/api.ts";
import { LeaderElector } from "../../../src/kube/lease.ts";
import { ApiError } from "../../../src/kube/transport.ts";
import { createLogger } from "../../../src/log.ts";
import { until } from "../../support/wait.ts";

type Lease = KubeObject & { metadata: { name: string; namespace: string; resourceVersion: string }; spec: Record<string, unknown> };

/** One Lease in memory, with resourceVersion preconditions as the apiserver checks them. */
class FakeLeases {
  lease: Lease | undefined;
  version = 0;
  readonly calls: string[] = [];
  /** Answers the next update with 409, as when someone else changed the Lease meanwhile. */
  conflictNext = false;

  readonly api = {
    get: async () => {
      this.calls.push("get");
      if (!this.lease) throw new ApiError("GET", "/leases/l", 404, "NotFound", "not found");
      return structuredClone(this.lease);
    },
    create: async (_rt: unknown, _ns: unknown, body: Lease) => {
      this.calls.push("create");
      return this.store(body);
    },
    update: async (_rt: unknown, _ns: unknown, body: Lease) => {
      this.calls.push("update");
      if (this.conflictNext || body.metadata.resourceVersion !== this.lease?.metadata.resourceVersion) {
        this.conflictNext = false;
        this.bump();
        throw new ApiError("PUT", "/leases/l", 409, "Conflict", "the object has been modified");
      }
      return this.store(body);
    },
  } as unknown as KubeApi;

  private store(body: Lease): Lease {
    this.lease = structuredClone({ ...body, metadata: { ...body.metadata, resourceVersion: String(++this.version) } });
    return structuredClone(this.lease);
  }

  /** Another writer touched the Lease (its spec unchanged): only the resourceVersion moves. */
  private bump(): void {
    if (this.lease) this.lease.metadata.resourceVersion = String(++this.version);
  }
}

function elector(fake: FakeLeases): LeaderElector {
  return new LeaderElector(
    fake.api,
    { namespace: "ns", name: "l", identity: "me", retryPeriodMs: 10, renewDeadlineMs: 10_000, leaseDurationMs: 15_000 },
    createLogger("error", "text"),
  );
}

describe("LeaderElector", () => {
  test("the leader renews with one update of the Lease it last wrote, without reading it first", async () => {
    const fake = new FakeLeases();
    const abort = new AbortController();
    expect(await elector(fake).lead(abort.signal, () => {})).toBe(true);
    await until(() => fake.calls.filter((c) => c === "update").length >= 5);
    abort.abort();
    expect(fake.calls.slice(0, 2)).toEqual(["get", "create"]);
    expect(new Set(fake.calls.slice(2))).toEqual(new Set(["update"]));
    expect(fake.lease?.spec.holderIdentity).toBe("me");
  });

  test("an update that conflicts is followed by a read of the Lease, and renewing goes on", async () => {
    const fake = new FakeLeases();
    const abort = new AbortController();
    let lost = false;
    expect(await elector(fake).lead(abort.signal, () => (lost = true))).toBe(true);
    await until(() => fake.calls.length >= 3);
    fake.conflictNext = true;
    const conflictAt = fake.calls.length;
    await until(() => fake.calls.length >= conflictAt + 5);
    abort.abort();
    // The conflicting update, then the slow path: read and update; then the fast path again.
    expect(fake.calls.slice(conflictAt, conflictAt + 4)).toEqual(["update", "get", "update", "update"]);
    expect(lost).toBe(false);
    expect(fake.lease?.spec.holderIdentity).toBe("me");
  });
});
