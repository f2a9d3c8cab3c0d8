// The chaos run's front for the webhook authorizer (scripts/chaos/authorizer-front.ts) on a
// kube-apiserver that calls it: behind it a stand-in replica that allows every review, so any
// answer the apiserver reads as an Allow shows. Healthy, the Allow comes through; in every fault
// that gives no decision (killed, paused, slow past the timeout, each garbage answer) the
// apiserver grants what RBAC alone does, here nothing; healed, the Allow comes through again.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { Server } from "bun";
import { answersNothing, AuthorizerFront, GARBAGE, SLOW_DELAYS_MS, type FrontMode } from "../../scripts/chaos/authorizer-front.ts";
import { ServiceAccounts } from "../../src/kube/resources.ts";
import { canReadLog } from "../support/access.ts";
import { testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";

let c: TestCluster;
let ns: string;
let replica: Server<unknown>;
let front: AuthorizerFront;
let reviews = 0;
const SA = "reader";

beforeAll(async () => {
  c = await testCluster({ authorizer: true });
  ns = await useNamespace("front");
  await c.admin.create(ServiceAccounts, ns, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: SA } });
  const setup = c.authorizer!;
  replica = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: readFileSync(setup.certFile, "utf8"), key: readFileSync(setup.keyFile, "utf8") },
    fetch: () => {
      reviews++;
      return Response.json({
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        status: { allowed: true, reason: "stand-in replica" },
      });
    },
  });
  front = new AuthorizerFront(setup, [replica.port!]);
});
afterAll(() => {
  front?.stop();
  replica?.stop(true);
});

const readable = () => canReadLog(c.admin, ns, SA, "any-pod");

describe("the chaos front for the webhook authorizer", () => {
  test("healthy, the replica's Allow reaches the apiserver, which RBAC alone would refuse", async () => {
    const before = reviews;
    expect(await readable()).toBe(true);
    expect(reviews).toBeGreaterThan(before);
  });

  const modes: FrontMode[] = [
    { kind: "kill" },
    { kind: "pause" },
    ...SLOW_DELAYS_MS.map((delayMs): FrontMode => ({ kind: "slow", delayMs })),
    ...GARBAGE.map((garbage): FrontMode => ({ kind: "garbage", garbage })),
  ];
  const faults = modes.filter(answersNothing);

  test.each(faults.map((m) => [JSON.stringify(m), m] as const))(
    "%s gives the apiserver no Allow; healed, it does again",
    async (_, mode) => {
      await front.set(mode);
      try {
        expect(await readable()).toBe(false);
      } finally {
        await front.set({ kind: "healthy" });
      }
      expect(await readable()).toBe(true);
    },
  );
});
