// Fenced leadership: a leader that cannot renew its Lease stops writing before the Lease can be
// taken over, even while its renewal hangs and its watches keep bringing work. Two controllers
// run in this process against the real apiserver; the leader's requests to the Lease are cut in
// the middle of a burst of scaling, and every request it sends is recorded at its transport.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { managedName } from "../../src/access/names.ts";
import { Controller, type ControllerOptions } from "../../src/controller/controller.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { loadConnection } from "../../src/kube/config.ts";
import { LeaderElector } from "../../src/kube/lease.ts";
import { Transport, type Request } from "../../src/kube/transport.ts";
import { createLogger } from "../../src/log.ts";
import { testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { createDeployment, expectReadable, scale, waitForPods } from "../support/workloads.ts";

const TIMINGS = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 };

/** A transport that records every request it sends, and can be told to black-hole the Lease's. */
class CuttableTransport extends Transport {
  leaseCut = false;
  readonly sent: { at: number; method: string; path: string }[] = [];

  override async request(req: Request): Promise<Response> {
    const isLease = req.path.includes("/leases/");
    if (isLease && this.leaseCut) {
      // A network that swallows the request: nothing comes back until the caller gives up.
      await new Promise<void>((_, reject) => req.signal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true }));
    }
    this.sent.push({ at: Date.now(), method: req.method ?? "GET", path: req.path });
    return super.request(req);
  }
}

interface Replica {
  transport: CuttableTransport;
  leading: Promise<boolean>;
  lost: Promise<void>;
  stop(): Promise<void>;
}

function replica(c: TestCluster, namespace: string): Replica {
  const transport = new CuttableTransport(loadConnection({ kubeconfig: c.kubeconfig }));
  const api = new KubeApi(transport);
  const log = createLogger(process.env.PODLOGREADER_TEST_LOG === "debug" ? "debug" : "error", "text");
  const elector = new LeaderElector(api, { namespace, name: "fence", identity: crypto.randomUUID(), ...TIMINGS }, log);
  const options: ControllerOptions = {
    namespaces: [namespace],
    debounceMs: 100,
    resyncMs: 60_000,
    workers: 4,
    podVisibility: "namespace",
    createServiceAccountAndRoleBinding: true,
  };
  // Wired as the binary wires it: the controller's writes go through the leader's fence.
  const controller = new Controller(
    api.withWriteFence(() => elector.assertLeading()),
    options,
    log,
  );
  const abort = new AbortController();
  let markLost!: () => void;
  const lost = new Promise<void>((resolve) => (markLost = resolve));
  // The binary exits when it loses the Lease; here the controller keeps running, so that only the
  // fence stands between its work queue and the apiserver.
  const leading = elector.lead(abort.signal, markLost);
  const running = controller.run(
    abort.signal,
    leading.then(() => undefined),
  );
  return {
    transport,
    leading,
    lost,
    async stop() {
      abort.abort();
      await running;
    },
  };
}

let c: TestCluster;
let ns: string;
const replicas: Replica[] = [];

beforeAll(async () => {
  c = await testCluster();
  ns = await useNamespace("fence");
});
afterAll(async () => {
  for (const r of replicas) await r.stop();
});

describe("a leader that cannot renew its Lease", () => {
  test("starts no write after its renew deadline, while the standby takes over and gets it right", async () => {
    const first = replica(c, ns);
    replicas.push(first);
    expect(await first.leading).toBe(true);
    const standby = replica(c, ns);
    replicas.push(standby);

    await createDeployment(ns, "web", { replicas: 1 });
    await expectReadable(ns, managedName("Deployment", "web"), await waitForPods(ns, "web", 1));

    // A burst of scaling; the leader's Lease traffic is cut in the middle of it.
    await scale(ns, "web", 3);
    const cutAt = Date.now();
    first.transport.leaseCut = true;
    for (const replicas of [5, 2, 4]) {
      await Bun.sleep(1_000);
      await scale(ns, "web", replicas);
    }
    expect(await standby.leading).toBe(true);
    await Promise.race([first.lost, Bun.sleep(10_000)]);
    for (const replicas of [1, 3]) {
      await scale(ns, "web", replicas);
      await Bun.sleep(1_000);
    }

    // Its watches kept working and brought it events all along, yet from the renew deadline on
    // it sent nothing but reads.
    const fenceClosedBy = cutAt + TIMINGS.renewDeadlineMs;
    const late = first.transport.sent.filter((r) => r.at > fenceClosedBy && r.method !== "GET" && !r.path.includes("/leases/"));
    expect(late).toEqual([]);
    // And the standby, now the leader, keeps the grant exact.
    await expectReadable(ns, managedName("Deployment", "web"), await waitForPods(ns, "web", 3));
  });
});
