// The webhook authorizer on a real kube-apiserver started with --authorization-config (Node, RBAC,
// podlogreader's webhook), with pod names in the Roles (the default --role-pod-names), as a
// workload's ServiceAccount with a real token and as users with client certificates, through
// kubectl and stern: in the strict default (--pod-visibility=own) the webhook adds reads by
// workload and selector, never another workload's pod, nor a pod that took a deleted pod's name,
// and a caller that is not the apiserver learns nothing.
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { managedName } from "../../src/access/names.ts";
import { KINDS } from "../../src/access/kinds.ts";
import { Pods } from "../../src/kube/resources.ts";
import { ApiError } from "../../src/kube/transport.ts";
import { serviceAccountCan } from "../support/access.ts";
import { grantRole, testUser, userCanReadLog } from "../support/users.ts";
import { Roles } from "../../src/kube/resources.ts";
import { kubeconfigYaml } from "../../scripts/harness/controlplane.ts";
import { eventually, serviceAccountToken, useNamespace } from "../support/cluster.ts";
import { startController } from "../support/controller.ts";
import { OPT_IN } from "../support/fixtures.ts";
import { lineOf, useWebhookScene } from "../support/webhook-scene.ts";
import { barePod, boundClientTests, refused, works } from "../support/webhook-clients.ts";
import { kubectl } from "../support/process.ts";
import { withLogs } from "../support/pod-logs.ts";

const scene = useWebhookScene("authorizer");
/** Whoever the current test acts as: web's ServiceAccount, until a test says otherwise. */
let kubeconfig: string;
/** A person granted web's Role through a group, once the test that grants it has run. */
let aliceKubeconfig: string;
beforeAll(() => {
  kubeconfig = scene.webKubeconfig;
});

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

describe("with --pod-visibility=own and the webhook", () => {
  test("kubectl logs deploy/web and kubectl logs -l app=web --prefix work", async () => {
    await works(kubeconfig, ["logs", "deploy/web"], scene.webPods.map(lineOf), true);
    await works(kubeconfig, ["logs", "-l", "app=web", "--prefix"], scene.webPods.map(lineOf));
  });

  boundClientTests(scene, "names");

  test("a person granted web's Role through a group runs kubectl logs -l app=web and deploy/web, and nothing of other", async () => {
    const alice = await testUser("alice", ["frontend"], scene.ns);
    aliceKubeconfig = alice.kubeconfig;
    await grantRole(scene.ns, { kind: "Deployment", name: "web" }, [{ kind: "Group", name: "frontend" }], Date.now() + 3_600_000);
    await works(alice.kubeconfig, ["logs", "-l", "app=web", "--prefix"], scene.webPods.map(lineOf));
    await works(alice.kubeconfig, ["logs", "deploy/web"], scene.webPods.map(lineOf), true);
    await refused(alice.kubeconfig, ["logs", "-l", "app=other"], [lineOf(scene.other)]);
    await refused(alice.kubeconfig, ["logs", scene.other], [lineOf(scene.other)]);
  });

  // Each as web's ServiceAccount and as alice, granted web's Role through her group (the test above).
  test("another workload's pod, a list without a selector and a wider selector are refused", async () => {
    for (const as of [kubeconfig, aliceKubeconfig]) {
      await refused(as, ["logs", scene.other], [lineOf(scene.other)]);
      await refused(as, ["logs", "deploy/other"], [lineOf(scene.other)]);
      await refused(as, ["logs", "-l", "app=other"], [lineOf(scene.other)]);
      await refused(as, ["get", "pods"]);
      await refused(as, ["logs", "-l", "app in (web,other)"], [lineOf(scene.other)]);
      await refused(as, ["logs", "-l", "podlogreader-affiliate=enable"], [lineOf(scene.other)]);
    }
  });

  test("a bare pod with web's labels is refused, and while it exists so is every list by web's selector", async () => {
    await barePod(scene.ns, "imposter", { app: "web", ...OPT_IN });
    await withLogs(scene.ns, ["imposter"], (p) => [lineOf(p)]);
    for (const as of [kubeconfig, aliceKubeconfig]) {
      await refused(as, ["logs", "imposter"], [lineOf("imposter")]);
      await refused(as, ["logs", "-l", "app=web"], [lineOf("imposter")]);
      await refused(as, ["logs", "deploy/web"], [lineOf("imposter")]);
    }
    await scene.c.admin.delete(Pods, scene.ns, "imposter");
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
    fetch(`https://127.0.0.1:${scene.c.authorizer!.port}/authorize`, {
      method: "POST",
      body: review,
      tls: { ca: scene.c.caPem, ...tls },
    } as RequestInit);
  const pki = (f: string) => readFileSync(join(scene.c.dir, "pki", f), "utf8");

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
    await scene.controller.authorizer!.stop();
    for (const pod of scene.webPods) await works(kubeconfig, ["logs", pod], [lineOf(pod)]);
    await notGranted(["logs", "-l", "app=web"], scene.webPods.map(lineOf));
    await notGranted(["logs", "deploy/web"], scene.webPods.map(lineOf));
    await notGranted(["logs", scene.other], [lineOf(scene.other)]);
  });
});

describe("--role-pod-names=none: a pod deleted and made again as a bare pod under the same name", () => {
  let ns2: string;
  const sa = managedName("StatefulSet", "reuse");
  const rita = { name: "rita", groups: [] as string[] };
  /** Whether the StatefulSet's ServiceAccount, or rita, a user granted its Role, may read the pod's log. */
  const canRead = async (pod: string) =>
    (await serviceAccountCan(scene.c.admin, ns2, sa, { verb: "get", resource: "pods", subresource: "log", name: pod, namespace: ns2 })) ||
    (await userCanReadLog(rita, ns2, pod));
  /** Both may read it. */
  const bothRead = async (pod: string) =>
    (await serviceAccountCan(scene.c.admin, ns2, sa, { verb: "get", resource: "pods", subresource: "log", name: pod, namespace: ns2 })) &&
    (await userCanReadLog(rita, ns2, pod));

  beforeAll(async () => {
    await scene.controller.stop();
    ns2 = await useNamespace("authorizer-none");
    scene.controller = await startController([ns2], { podVisibility: "own", rolePodNames: "none" }, { authorizer: true });
    const template = {
      metadata: { labels: { app: "reuse", ...OPT_IN } },
      spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }], terminationGracePeriodSeconds: 0 },
    };
    await scene.c.admin.create(KINDS.StatefulSet.resource, ns2, {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "reuse", namespace: ns2 },
      spec: { replicas: 1, serviceName: "reuse", podManagementPolicy: "Parallel", selector: { matchLabels: { app: "reuse" } }, template },
    } as never);
  });

  test("kubectl logs reuse-0 works as the StatefulSet's ServiceAccount, though its Role names no pod", async () => {
    await eventually(
      "reuse-0",
      async () => (await scene.c.admin.get(Pods, ns2, "reuse-0").catch(() => undefined)) !== undefined || undefined,
    );
    await withLogs(ns2, ["reuse-0"], (p) => [lineOf(p)]);
    const token = await eventually(`a token for ${sa}`, () => serviceAccountToken(ns2, sa));
    kubeconfig = join(scene.dir, "reuse.kubeconfig");
    writeFileSync(kubeconfig, kubeconfigYaml(scene.c.server, scene.c.caPem, { token }, ns2), { mode: 0o600 });
    await works(kubeconfig, ["logs", "reuse-0"], [lineOf("reuse-0")]);
    await works(kubeconfig, ["logs", "sts/reuse"], [lineOf("reuse-0")]);
  });

  const swaps50 =
    "the StatefulSet's own reuse-0 is readable through the webhook alone; the bare reuse-0 never is, as its ServiceAccount nor as " +
    "a user granted its Role (50 swaps)";
  test(swaps50, async () => {
    await eventually(
      "the StatefulSet's Role",
      async () => (await scene.c.admin.get(Roles, ns2, sa).catch(() => undefined)) !== undefined || undefined,
    );
    await grantRole(ns2, { kind: "StatefulSet", name: "reuse" }, [{ kind: "User", name: rita.name }], Date.now() + 3_600_000);
    let swaps = 0;
    let checks = 0;
    let allowedBare = 0;
    for (let i = 0; swaps < 50 && i < 200; i++) {
      await eventually("the StatefulSet's reuse-0 to be readable", async () => (await bothRead("reuse-0")) || undefined);
      // The StatefulSet controller may replace its pod meanwhile; then the round starts again.
      const own = (await scene.c.admin.get(Pods, ns2, "reuse-0").catch(() => undefined)) as { metadata: { uid: string } } | undefined;
      if (!own) continue;
      const { metadata } = own;
      const deleted = await scene.c.admin.delete(Pods, ns2, "reuse-0", { uid: metadata.uid }).then(
        () => true,
        () => false,
      );
      if (!deleted) continue;
      // Race the StatefulSet controller for the name; when it wins, try again. The bare pod does not
      // carry the StatefulSet's selector, which would make the StatefulSet adopt it.
      const made = await eventually("reuse-0 to be made again", async () => {
        try {
          return { uid: await barePod(ns2, "reuse-0", { app: "impostor", ...OPT_IN }) };
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 409)) throw err;
          const p = (await scene.c.admin.get(Pods, ns2, "reuse-0").catch(() => undefined)) as
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
        ((await scene.c.admin.get(Pods, ns2, "reuse-0").catch(() => undefined)) as { metadata: { uid: string } } | undefined)?.metadata.uid;
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
      await scene.c.admin.delete(Pods, ns2, "reuse-0", { uid: bareUid }).catch(() => undefined);
      await eventually("the bare reuse-0 to be gone", async () => {
        const p = (await scene.c.admin.get(Pods, ns2, "reuse-0").catch(() => undefined)) as
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
    await scene.controller.authorizer!.stop();
    expect(await canRead("reuse-0")).toBe(false);
  });
});

describe("the binary", () => {
  test("dist/podlogreader serves the webhook from its --authorizer-* flags", async () => {
    await scene.controller.stop();
    const a = scene.c.authorizer!;
    const proc = Bun.spawn(
      [
        resolve(import.meta.dir, "../../dist/podlogreader"),
        "run",
        "--kubeconfig",
        scene.c.kubeconfig,
        "-n",
        scene.ns,
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
      await works(scene.webKubeconfig, ["logs", "-l", "app=web", "--prefix"], scene.webPods.map(lineOf));
      await refused(scene.webKubeconfig, ["logs", "-l", "app=other"], [lineOf(scene.other)]);
    } finally {
      proc.kill();
      await proc.exited;
    }
  });
});
