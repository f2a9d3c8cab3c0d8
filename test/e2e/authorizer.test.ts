// The webhook authorizer on a real kube-apiserver started with --authorization-config (Node, RBAC,
// podlogreader's webhook), as a workload's ServiceAccount with a real token through kubectl: in
// the strict default (--pod-visibility=own) the webhook adds reads by workload and selector, never
// another workload's pod, and a caller that is not the apiserver learns nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { managedName } from "../../src/access/names.ts";
import { Pods } from "../../src/kube/resources.ts";
import { kubeconfigYaml } from "../../scripts/lib/controlplane.ts";
import { setPodLog } from "../../scripts/lib/simulated-nodes.ts";
import { eventually, serviceAccountToken, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { startController, type RunningController } from "../support/controller.ts";
import { OPT_IN } from "../support/fixtures.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";

let c: TestCluster;
let ns: string;
let dir: string;
let controller: RunningController;
let webPods: string[];
let other: string;
let kubeconfig: string;

const lineOf = (pod: string) => `${pod} says hello`;

async function running(pod: string): Promise<void> {
  await eventually(`${pod} to run`, async () => {
    const p = (await c.admin.get(Pods, ns, pod)) as { status?: { phase?: string } };
    return p.status?.phase === "Running" || undefined;
  });
  await setPodLog(c.admin, c.dir, ns, pod, [lineOf(pod)]);
}

async function kubectl(args: string[]) {
  const proc = Bun.spawn([join(c.binDir, "kubectl"), "--kubeconfig", kubeconfig, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

/** Exits 0 and prints every line it should (`some`: at least one of them). */
async function works(args: string[], shows: string[], some = false): Promise<void> {
  await eventually(`kubectl ${args.join(" ")} to work`, async () => {
    const r = await kubectl(args);
    return (r.code === 0 && (some ? shows.some((s) => r.stdout.includes(s)) : shows.every((s) => r.stdout.includes(s)))) || undefined;
  });
}

/** Exits non-zero with Forbidden and prints none of the lines it must not. */
async function refused(args: string[], hidden: string[] = []): Promise<void> {
  const r = await kubectl(args);
  expect({ args, code: r.code === 0 ? 0 : "non-zero", forbidden: /forbidden/i.test(r.stderr) ? true : r.stderr }).toEqual({ args, code: "non-zero", forbidden: true });
  for (const line of hidden) expect(r.stdout).not.toContain(line);
}

/**
 * With the webhook unreachable, a request that nothing else allows fails with the apiserver's
 * InternalError (the webhook's connection error) instead of Forbidden: still nothing is read.
 */
async function notGranted(args: string[], hidden: string[] = []): Promise<void> {
  const r = await kubectl(args);
  const why = /forbidden/i.test(r.stderr) ? "forbidden" : /InternalError.*\/authorize/.test(r.stderr) ? "webhook unreachable" : r.stderr;
  expect({ args, code: r.code === 0 ? 0 : "non-zero", refusedBecause: ["forbidden", "webhook unreachable"].includes(why) ? "either" : why }).toEqual({ args, code: "non-zero", refusedBecause: "either" });
  for (const line of hidden) expect(r.stdout).not.toContain(line);
}

async function barePod(name: string, labels: Record<string, string>): Promise<void> {
  await c.admin.create(Pods, ns, {
    apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns, labels },
    spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }], terminationGracePeriodSeconds: 0 },
  } as never);
}

beforeAll(async () => {
  c = await testCluster({ authorizer: true });
  ns = await useNamespace("authorizer");
  dir = mkdtempSync(join(tmpdir(), "podlogreader-authorizer-"));
  controller = await startController([ns], { podVisibility: "own" }, { authorizer: true });
  await createDeployment(ns, "web", { replicas: 2 });
  await createDeployment(ns, "other", { replicas: 1 });
  webPods = await waitForPods(ns, "web", 2);
  [other] = (await waitForPods(ns, "other", 1)) as [string];
  for (const pod of [...webPods, other]) await running(pod);
  await expectReadable(ns, managedName("Deployment", "web"), webPods);
  const token = await eventually("a token for web's ServiceAccount", () => serviceAccountToken(ns, managedName("Deployment", "web")));
  kubeconfig = join(dir, "web.kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(c.server, c.caPem, { token }, ns), { mode: 0o600 });
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
    await running("imposter");
    await refused(["logs", "imposter"], [lineOf("imposter")]);
    await refused(["logs", "-l", "app=web"], [lineOf("imposter")]);
    await refused(["logs", "deploy/web"], [lineOf("imposter")]);
    await c.admin.delete(Pods, ns, "imposter");
    await eventually("imposter to be gone", async () => ((await kubectl(["logs", "-l", "app=web", "--prefix"])).code === 0) || undefined);
  });
});

describe("only the apiserver gets a decision", () => {
  const review = JSON.stringify({ apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", spec: { user: "x", resourceAttributes: { namespace: "default", verb: "get", resource: "pods", subresource: "log", name: "p" } } });
  const ask = (tls: Record<string, string>) => fetch(`https://127.0.0.1:${c.authorizer!.port}/authorize`, { method: "POST", body: review, tls: { ca: c.caPem, ...tls } } as RequestInit);
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
