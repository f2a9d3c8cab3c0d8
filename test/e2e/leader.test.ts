// Two replicas of the compiled binary with leader election against the real apiserver: only the
// leader writes; a standby takes over when the leader is killed in the middle of a scale, and at
// once when the leader shuts down and releases the Lease.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { Leases } from "../../src/kube/resources.ts";
import { eventually, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { createDeployment, expectReadable, scale, waitForPods } from "../support/workloads.ts";
import { BINARY } from "../support/process.ts";

interface Replica {
  name: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  log: string[];
}

let c: TestCluster;
let ns: string;
const replicas: Replica[] = [];

function start(name: string): Replica {
  const proc = Bun.spawn(
    [
      BINARY,
      "--leader-elect",
      `--leader-election-namespace=${ns}`,
      "--leader-election-id=podlogreader",
      `--namespace=${ns}`,
      "--debounce=200ms",
      "--create-sa-and-rolebinding",
      "--metrics-bind-address=127.0.0.1:0",
      "--health-probe-bind-address=127.0.0.1:0",
    ],
    {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { PATH: process.env.PATH ?? "", KUBECONFIG: c.kubeconfig },
    },
  );
  const log: string[] = [];
  void (async () => {
    for await (const chunk of proc.stderr) log.push(...new TextDecoder().decode(chunk).split("\n").filter(Boolean));
  })();
  const replica = { name, proc, log };
  replicas.push(replica);
  return replica;
}

const leads = (r: Replica) => r.log.some((l) => l.includes("Became the leader"));
const writes = (r: Replica) => r.log.filter((l) => /(Created|Updated|Deleted) (Role|RoleBinding|ServiceAccount)/.test(l));

async function holder(): Promise<string | undefined> {
  const lease = (await c.admin.get(Leases, ns, "podlogreader")) as { spec?: { holderIdentity?: string | null } };
  return lease.spec?.holderIdentity ?? undefined;
}

beforeAll(async () => {
  c = await testCluster();
  ns = await useNamespace("leader");
});
afterAll(() => {
  for (const r of replicas) if (r.proc.exitCode === null) r.proc.kill("SIGKILL");
});

describe("leader election", () => {
  let a: Replica;
  let b: Replica;

  test("one of two replicas leads, and only the leader writes", async () => {
    a = start("a");
    await eventually("a to lead", async () => leads(a) || undefined);
    b = start("b");
    await eventually("b to sync and wait", async () => b.log.some((l) => l.includes("Caches synced")) || undefined);
    await createDeployment(ns, "web", { replicas: 2 });
    await expectReadable(ns, "podlogreader-web", await waitForPods(ns, "web", 2));
    expect(leads(b)).toBe(false);
    expect(writes(b)).toEqual([]);
    expect(await holder()).toBeDefined();
  });

  test("a standby takes over when the leader is killed in the middle of a scale", async () => {
    await scale(ns, "web", 6);
    a.proc.kill("SIGKILL");
    await a.proc.exited;
    // The killed leader never released the Lease: b waits for it to expire (15 s), then leads.
    await eventually("b to lead", async () => leads(b) || undefined, 60_000);
    const pods = await waitForPods(ns, "web", 6);
    await eventually(
      "the Role to follow the whole scale",
      async () => {
        await expectReadable(ns, "podlogreader-web", pods);
        return true;
      },
      60_000,
    );
  });

  test("on SIGTERM the leader releases the Lease and exits 0, and a standby leads without waiting for expiry", async () => {
    const standby = start("c");
    await eventually("c to sync and wait", async () => standby.log.some((l) => l.includes("Waiting to become the leader")) || undefined);
    const identity = b.log.find((l) => l.includes("identity "))?.match(/identity ([^)\s]+)/)?.[1];
    expect(identity).toBeDefined();
    expect(await holder()).toBe(identity);
    b.proc.kill("SIGTERM");
    expect(await b.proc.exited).toBe(0);
    // Released, not left to expire: the Lease no longer names b the moment b is gone.
    expect(await holder()).not.toBe(identity);
    await eventually("c to lead", async () => leads(standby) || undefined);
    await scale(ns, "web", 1);
    await expectReadable(ns, "podlogreader-web", await waitForPods(ns, "web", 1));
    expect(writes(standby).length).toBeGreaterThan(0);
  });
});
