// The webhook authorizer on a real kube-apiserver started with --authorization-config (Node, RBAC,
// podlogreader's webhook), as a workload's ServiceAccount with a real token through kubectl: in
// the strict default (--pod-visibility=own) the webhook adds reads by workload and selector, never
// another workload's pod, and a caller that is not the apiserver learns nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { managedName } from "../../src/access/names.ts";
import { KINDS } from "../../src/access/kinds.ts";
import { Pods } from "../../src/kube/resources.ts";
import { ApiError } from "../../src/kube/transport.ts";
import { serviceAccountCan } from "../support/access.ts";
import { testUser } from "../support/users.ts";
import { desiredGrant } from "../../src/access/grants.ts";
import { RoleBindings, Roles } from "../../src/kube/resources.ts";
import { kubeconfigYaml } from "../../scripts/lib/controlplane.ts";
import { eventually, serviceAccountToken, useNamespace, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { OPT_IN } from "../support/fixtures.ts";
import { lineOf, webhookScene } from "../support/webhook-scene.ts";
import { createDeployment, expectReadable, rollout, scale, waitForPods } from "../support/workloads.ts";
import { background, kubectl } from "../support/process.ts";
import { withLogs } from "../support/pod-logs.ts";

let c: TestCluster;
let ns: string;
let dir: string;
let controller: RunningController;
let webPods: string[];
let other: string;
let kubeconfig: string;
/** web's ServiceAccount's kubeconfig; `kubeconfig` is whoever the current test acts as. */
let webKubeconfig: string;

/** Exits 0 and prints every line it should (`some`: at least one of them). */
async function works(args: string[], shows: string[], some = false, as = kubeconfig): Promise<void> {
  await eventually(`kubectl ${args.join(" ")} to work`, async () => {
    const r = await kubectl(args, { kubeconfig: as, timeoutMs: 30_000 });
    return (r.code === 0 && (some ? shows.some((s) => r.stdout.includes(s)) : shows.every((s) => r.stdout.includes(s)))) || undefined;
  });
}

/** Exits non-zero with Forbidden and prints none of the lines it must not. */
async function refused(args: string[], hidden: string[] = [], as = kubeconfig): Promise<void> {
  const r = await kubectl(args, { kubeconfig: as, timeoutMs: 30_000 });
  expect({ args, code: r.code === 0 ? 0 : "non-zero", forbidden: /forbidden/i.test(r.stderr) ? true : r.stderr }).toEqual({
    args,
    code: "non-zero",
    forbidden: true,
  });
  for (const line of hidden) expect(r.stdout).not.toContain(line);
}

/**
 * With the webhook unreachable, a request that nothing else allows fails with the apiserver's
 * InternalError (the webhook's connection error) instead of Forbidden: still nothing is read.
 */
async function notGranted(args: string[], hidden: string[] = []): Promise<void> {
  const r = await kubectl(args, { kubeconfig: kubeconfig, timeoutMs: 30_000 });
  const why = /forbidden/i.test(r.stderr) ? "forbidden" : /InternalError.*\/authorize/.test(r.stderr) ? "webhook unreachable" : r.stderr;
  expect({
    args,
    code: r.code === 0 ? 0 : "non-zero",
    refusedBecause: ["forbidden", "webhook unreachable"].includes(why) ? "either" : why,
  }).toEqual({ args, code: "non-zero", refusedBecause: "either" });
  for (const line of hidden) expect(r.stdout).not.toContain(line);
}

/** Makes a pod no workload controls; returns its uid. */
async function barePod(name: string, labels: Record<string, string>, namespace = ns): Promise<string> {
  const made = await c.admin.create(Pods, namespace, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels },
    spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }], terminationGracePeriodSeconds: 0 },
  } as never);
  return (made as { metadata: { uid: string } }).metadata.uid;
}

beforeAll(async () => {
  ({ c, ns, dir, controller, webPods, other, webKubeconfig } = await webhookScene("authorizer"));
  kubeconfig = webKubeconfig;
});
afterAll(async () => {
  await controller?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("with --pod-visibility=own and the webhook", () => {
  test("kubectl logs deploy/web and kubectl logs -l app=web --prefix work", async () => {
    await works(["logs", "deploy/web"], webPods.map(lineOf), true);
    await works(["logs", "-l", "app=web", "--prefix"], webPods.map(lineOf));
  });

  test("stern follows a Deployment across a scale-up and a rollout: it watches pods by the Deployment's selector", async () => {
    const build = spawnSync("bash", [resolve(import.meta.dir, "../../scripts/build-tool.sh"), "stern"], {
      stdio: ["ignore", "pipe", "inherit"],
      encoding: "utf8",
    });
    expect(build.status).toBe(0);
    // A Deployment of its own, so that web's pods stay as the other tests expect them.
    await createDeployment(ns, "feed", { replicas: 1 });
    const first = await waitForPods(ns, "feed", 1);
    await withLogs(ns, first, (p) => [lineOf(p)]);
    const sa = managedName("Deployment", "feed");
    await expectReadable(ns, sa, first);
    const token = await eventually(`a token for ${sa}`, () => serviceAccountToken(ns, sa));
    const feed = join(dir, "feed.kubeconfig");
    writeFileSync(feed, kubeconfigYaml(c.server, c.caPem, { token }, ns), { mode: 0o600 });
    const stern = background([build.stdout.trim().split("\n").at(-1)!, "--kubeconfig", feed, "-n", ns, "--color", "never", "deploy/feed"]);
    // stern may open a new pod's log before the harness gives it lines of its own, and then prints
    // the local cluster's default line: either way that pod's log, under its name.
    const printsEvery = (pods: string[]) => (out: string) => pods.every((p) => out.includes(`${p} app `));
    try {
      await stern.waitFor("stern to print the first pod's line", printsEvery(first));
      await scale(ns, "feed", 2);
      const scaled = await waitForPods(ns, "feed", 2);
      await withLogs(ns, scaled, (p) => [lineOf(p)]);
      await stern.waitFor("stern to print the line of the pod the scale-up made", printsEvery(scaled));
      await rollout(ns, "feed");
      const rolled = await eventually(
        "the rollout's two new pods",
        async () => {
          const pods = await waitForPods(ns, "feed", 2).catch(() => undefined);
          return pods?.every((p) => !scaled.includes(p)) ? pods : undefined;
        },
        120_000,
      );
      await withLogs(ns, rolled, (p) => [lineOf(p)]);
      await stern.waitFor("stern to print the lines of the rollout's pods", printsEvery(rolled));
      expect(stern.proc.exitCode).toBeNull();
    } finally {
      await stern.stop();
    }
    expect(stern.seen.stdout).not.toContain(lineOf(other));
    expect(stern.seen.stdout).not.toContain(lineOf(webPods[0]!));
  }, 240_000);

  test("a CronJob's ServiceAccount runs kubectl logs job/RUN for its run, and reads nothing of other workloads", async () => {
    const template = {
      metadata: { labels: { app: "nightly", ...OPT_IN } },
      spec: { restartPolicy: "Never", containers: [{ name: "app", image: "registry.invalid/app:1" }], terminationGracePeriodSeconds: 0 },
    };
    const cron = (await c.admin.create(KINDS.CronJob.resource, ns, {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: "nightly", namespace: ns },
      spec: { schedule: "0 0 1 1 *", suspend: true, jobTemplate: { spec: { template } } },
    } as never)) as { metadata: { uid: string } };
    // As `kubectl create job --from=cronjob/nightly` makes it.
    await c.admin.create(KINDS.Job.resource, ns, {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        name: "nightly-run-1",
        namespace: ns,
        ownerReferences: [{ apiVersion: "batch/v1", kind: "CronJob", name: "nightly", uid: cron.metadata.uid, controller: true }],
      },
      spec: { template },
    } as never);
    const run = await eventually("a pod of Job nightly-run-1", async () => {
      const { items } = await c.admin.list(Pods, { namespace: ns, labelSelector: "job-name=nightly-run-1" });
      return (items[0] as { metadata: { name: string } } | undefined)?.metadata.name;
    });
    await withLogs(ns, [run], (p) => [lineOf(p)]);
    const sa = managedName("CronJob", "nightly");
    const token = await eventually(`a token for ${sa}`, () => serviceAccountToken(ns, sa));
    const nightly = join(dir, "nightly.kubeconfig");
    writeFileSync(nightly, kubeconfigYaml(c.server, c.caPem, { token }, ns), { mode: 0o600 });
    await works(["logs", "job/nightly-run-1"], [lineOf(run)], false, nightly);
    await refused(["logs", other], [lineOf(other)], nightly);
    await refused(["logs", "-l", "app=web"], webPods.map(lineOf), nightly);
  });

  test("a person granted web's Role through a group runs kubectl logs -l app=web and deploy/web, and nothing of other", async () => {
    const alice = await testUser("alice", ["frontend"], ns);
    const role = (await c.admin.get(Roles, ns, managedName("Deployment", "web"))) as { metadata: { uid: string } };
    const grant = desiredGrant({
      namespace: ns,
      kind: "Deployment",
      name: "web",
      subjects: [{ kind: "Group", name: "frontend" }],
      roleUid: role.metadata.uid,
      expiresAtMs: Date.now() + 3_600_000,
      reason: "test",
      grantedBy: "admin",
    });
    await c.admin.create(RoleBindings, ns, grant as never);
    await works(["logs", "-l", "app=web", "--prefix"], webPods.map(lineOf), false, alice.kubeconfig);
    await works(["logs", "deploy/web"], webPods.map(lineOf), true, alice.kubeconfig);
    await refused(["logs", "-l", "app=other"], [lineOf(other)], alice.kubeconfig);
    await refused(["logs", other], [lineOf(other)], alice.kubeconfig);
  });

  test("another workload's pod, a list without a selector and a wider selector are refused", async () => {
    await refused(["logs", other], [lineOf(other)]);
    await refused(["logs", "deploy/other"], [lineOf(other)]);
    await refused(["logs", "-l", "app=other"], [lineOf(other)]);
    await refused(["get", "pods"]);
    await refused(["logs", "-l", "app in (web,other)"], [lineOf(other)]);
    await refused(["logs", "-l", "podlogreader-affiliate=enable"], [lineOf(other)]);
  });

  test("a bare pod with web's labels is refused, and while it exists so is every list by web's selector", async () => {
    await barePod("imposter", { app: "web", ...OPT_IN });
    await withLogs(ns, ["imposter"], (p) => [lineOf(p)]);
    await refused(["logs", "imposter"], [lineOf("imposter")]);
    await refused(["logs", "-l", "app=web"], [lineOf("imposter")]);
    await refused(["logs", "deploy/web"], [lineOf("imposter")]);
    await c.admin.delete(Pods, ns, "imposter");
    await eventually(
      "imposter to be gone",
      async () =>
        (await kubectl(["logs", "-l", "app=web", "--prefix"], { kubeconfig: kubeconfig, timeoutMs: 30_000 })).code === 0 || undefined,
    );
  });
});

describe("only the apiserver gets a decision", () => {
  const review = JSON.stringify({
    apiVersion: "authorization.k8s.io/v1",
    kind: "SubjectAccessReview",
    spec: { user: "x", resourceAttributes: { namespace: "default", verb: "get", resource: "pods", subresource: "log", name: "p" } },
  });
  const ask = (tls: Record<string, string>) =>
    fetch(`https://127.0.0.1:${c.authorizer!.port}/authorize`, {
      method: "POST",
      body: review,
      tls: { ca: c.caPem, ...tls },
    } as RequestInit);
  const pki = (f: string) => readFileSync(join(c.dir, "pki", f), "utf8");

  test("no client certificate, or one the cluster CA signed but the webhook's client CA did not: no answer at all", async () => {
    await expect(ask({})).rejects.toThrow();
    await expect(ask({ cert: pki("admin.crt"), key: pki("admin.key") })).rejects.toThrow();
  });

  test("the apiserver's client certificate gets an answer", async () => {
    const r = await ask({ cert: pki("authorizer-client.crt"), key: pki("authorizer-client.key") });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ kind: "SubjectAccessReview", status: { allowed: false } });
  });
});

describe("the webhook down", () => {
  test("reads fall back to what the Role grants: each pod by name, nothing by workload or selector", async () => {
    await controller.authorizer!.stop();
    for (const pod of webPods) await works(["logs", pod], [lineOf(pod)]);
    await notGranted(["logs", "-l", "app=web"], webPods.map(lineOf));
    await notGranted(["logs", "deploy/web"], webPods.map(lineOf));
    await notGranted(["logs", other], [lineOf(other)]);
  });
});

describe("--role-pod-names=none: a pod deleted and made again as a bare pod under the same name", () => {
  let ns2: string;
  const sa = managedName("StatefulSet", "reuse");
  const canRead = (pod: string) =>
    serviceAccountCan(c.admin, ns2, sa, { verb: "get", resource: "pods", subresource: "log", name: pod, namespace: ns2 });

  beforeAll(async () => {
    await controller.stop();
    ns2 = await useNamespace("authorizer-none");
    controller = await startController([ns2], { podVisibility: "own", rolePodNames: "none" }, { authorizer: true });
    const template = {
      metadata: { labels: { app: "reuse", ...OPT_IN } },
      spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }], terminationGracePeriodSeconds: 0 },
    };
    await c.admin.create(KINDS.StatefulSet.resource, ns2, {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "reuse", namespace: ns2 },
      spec: { replicas: 1, serviceName: "reuse", podManagementPolicy: "Parallel", selector: { matchLabels: { app: "reuse" } }, template },
    } as never);
  });

  test("kubectl logs reuse-0 works as the StatefulSet's ServiceAccount, though its Role names no pod", async () => {
    await eventually("reuse-0", async () => (await c.admin.get(Pods, ns2, "reuse-0").catch(() => undefined)) !== undefined || undefined);
    await withLogs(ns2, ["reuse-0"], (p) => [lineOf(p)]);
    const token = await eventually(`a token for ${sa}`, () => serviceAccountToken(ns2, sa));
    kubeconfig = join(dir, "reuse.kubeconfig");
    writeFileSync(kubeconfig, kubeconfigYaml(c.server, c.caPem, { token }, ns2), { mode: 0o600 });
    await works(["logs", "reuse-0"], [lineOf("reuse-0")]);
    await works(["logs", "sts/reuse"], [lineOf("reuse-0")]);
  });

  test("the StatefulSet's own reuse-0 is readable through the webhook alone; the bare reuse-0 never is (50 swaps)", async () => {
    let swaps = 0;
    let checks = 0;
    let allowedBare = 0;
    for (let i = 0; swaps < 50 && i < 200; i++) {
      await eventually("the StatefulSet's reuse-0 to be readable", async () => (await canRead("reuse-0")) || undefined);
      // The StatefulSet controller may replace its pod meanwhile; then the round starts again.
      const own = (await c.admin.get(Pods, ns2, "reuse-0").catch(() => undefined)) as { metadata: { uid: string } } | undefined;
      if (!own) continue;
      const { metadata } = own;
      const deleted = await c.admin.delete(Pods, ns2, "reuse-0", { uid: metadata.uid }).then(
        () => true,
        () => false,
      );
      if (!deleted) continue;
      // Race the StatefulSet controller for the name; when it wins, try again. The bare pod does not
      // carry the StatefulSet's selector, which would make the StatefulSet adopt it.
      const made = await eventually("reuse-0 to be made again", async () => {
        try {
          return { uid: await barePod("reuse-0", { app: "impostor", ...OPT_IN }, ns2) };
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 409)) throw err;
          const p = (await c.admin.get(Pods, ns2, "reuse-0").catch(() => undefined)) as
            | { metadata: { uid: string; ownerReferences?: unknown[] } }
            | undefined;
          return p && p.metadata.uid !== metadata.uid ? "by the StatefulSet" : undefined;
        }
      });
      if (typeof made !== "object") continue;
      const bareUid = made.uid;
      // A check counts only when the bare pod held the name before and after it: the StatefulSet
      // controller sometimes takes the name back at once.
      const holder = async () =>
        ((await c.admin.get(Pods, ns2, "reuse-0").catch(() => undefined)) as { metadata: { uid: string } } | undefined)?.metadata.uid;
      let checked = false;
      for (let k = 0; k < 3; k++) {
        const before = await holder();
        const allowed = await canRead("reuse-0");
        if (before !== bareUid || (await holder()) !== bareUid) break;
        checked = true;
        checks++;
        if (allowed) allowedBare++;
      }
      if (checked) swaps++;
      await c.admin.delete(Pods, ns2, "reuse-0", { uid: bareUid }).catch(() => undefined);
      await eventually("the bare reuse-0 to be gone", async () => {
        const p = (await c.admin.get(Pods, ns2, "reuse-0").catch(() => undefined)) as
          | { metadata: { ownerReferences?: unknown[] } }
          | undefined;
        return !p || (p.metadata.ownerReferences?.length ?? 0) > 0 || undefined;
      });
    }
    expect({ swaps, allowedBare }).toEqual({ swaps: 50, allowedBare: 0 });
    expect(checks).toBeGreaterThanOrEqual(50);
  }, 600_000);

  test("the Role names no pod: with the webhook down, not even the StatefulSet's own pod is readable", async () => {
    await eventually("the StatefulSet's reuse-0 to be readable", async () => (await canRead("reuse-0")) || undefined);
    await controller.authorizer!.stop();
    expect(await canRead("reuse-0")).toBe(false);
  });
});

describe("the binary", () => {
  test("dist/podlogreader serves the webhook from its --authorizer-* flags", async () => {
    await controller.stop();
    const a = c.authorizer!;
    const proc = Bun.spawn(
      [
        resolve(import.meta.dir, "../../dist/podlogreader"),
        "run",
        "--kubeconfig",
        c.kubeconfig,
        "-n",
        ns,
        "--create-sa-and-rolebinding",
        "--metrics-bind-address=0",
        "--health-probe-bind-address=0",
        `--authorizer-addr=127.0.0.1:${a.port}`,
        `--authorizer-tls-cert-file=${a.certFile}`,
        `--authorizer-tls-key-file=${a.keyFile}`,
        `--authorizer-client-ca-file=${a.clientCaFile}`,
      ],
      { stdin: "ignore", stdout: "ignore", stderr: "pipe" },
    );
    try {
      await works(["logs", "-l", "app=web", "--prefix"], webPods.map(lineOf), false, webKubeconfig);
      await refused(["logs", "-l", "app=other"], [lineOf(other)], webKubeconfig);
    } finally {
      proc.kill();
      await proc.exited;
    }
  });
});
