// The runtime contract of the distroless image, without Docker: the compiled binary runs in a
// chroot holding only itself, the libraries `ldd` lists and a ServiceAccount mount, as uid 65532,
// in its own PID namespace with a fresh /proc (as a container runtime gives every container; the
// Bun executable reads its embedded code through /proc/self/exe), with in-cluster configuration
// pointed at the local apiserver. It must start, connect, serve its
// health endpoints and do its job, and keep working when its token is rotated and the old one
// stops being valid.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "../../scripts/lib/net.ts";
import { Secrets, ServiceAccounts, type ResourceType } from "../../src/kube/resources.ts";
import { render, find } from "../support/chart.ts";
import { eventually, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";
import type { V1Deployment } from "@kubernetes/client-node";

const binary = resolve(import.meta.dir, "../../dist/podlogreader");
const MOUNT = "var/run/secrets/kubernetes.io/serviceaccount";

let c: TestCluster;
let root: string;
let system: string;
let proc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
const log: string[] = [];
const release = `ic${process.pid.toString(36)}`;
const clusterScoped: [ResourceType, string][] = [];

/** The binary and exactly the shared libraries it links, nothing else. */
function buildRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), "podlogreader-root-"));
  chmodSync(dir, 0o755);
  copyFileSync(binary, join(dir, "podlogreader"));
  chmodSync(join(dir, "podlogreader"), 0o755);
  const ldd = spawnSync("ldd", [binary], { encoding: "utf8" });
  if (ldd.status !== 0) throw new Error(`ldd failed: ${ldd.stderr}`);
  const libraries = [...ldd.stdout.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!);
  expect(libraries.length).toBeGreaterThan(0);
  for (const lib of libraries) {
    mkdirSync(join(dir, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(dir, lib));
  }
  mkdirSync(join(dir, "tmp"), { mode: 0o1777 });
  mkdirSync(join(dir, "proc"));
  mkdirSync(join(dir, MOUNT), { recursive: true });
  return dir;
}

/** A token bound to a Secret: deleting the Secret makes the token invalid at once. */
async function boundToken(serviceAccount: string, secret: string): Promise<string> {
  const created = (await c.admin.create({ group: "", version: "v1", plural: "secrets", kind: "Secret" }, system, {
    apiVersion: "v1", kind: "Secret", metadata: { name: secret }, type: "Opaque",
  })) as { metadata: { uid: string } };
  const tokenRequest = {
    apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600, boundObjectRef: { apiVersion: "v1", kind: "Secret", name: secret, uid: created.metadata.uid } },
  };
  const review = (await c.admin.createSubresource(ServiceAccounts, system, serviceAccount, "token", tokenRequest)) as { status: { token: string } };
  return review.status.token;
}

/** Replaces the mounted token the way the kubelet does: a new file renamed into place. */
function mountToken(token: string): void {
  const next = join(root, MOUNT, ".token.next");
  writeFileSync(next, token, { mode: 0o644 });
  renameSync(next, join(root, MOUNT, "token"));
}

beforeAll(async () => {
  c = await testCluster();
  system = await useNamespace("incluster-system");
  root = buildRoot();
});
afterAll(async () => {
  if (proc && proc.exitCode === null) proc.kill("SIGKILL");
  if (root) rmSync(root, { recursive: true, force: true });
  for (const [rt, name] of clusterScoped) await c.admin.delete(rt, undefined, name);
});

describe("in a reduced environment with in-cluster configuration", () => {
  let ns: string;
  let port: number;

  test("starts as uid 65532, connects with the mounted token and CA, and serves its health endpoints", async () => {
    expect(process.getuid?.()).toBe(0); // chroot needs root; CI and the dev machines run as root.
    ns = await useNamespace("incluster");
    // The chart's identity and RBAC, so the controller runs with exactly what an install grants.
    const manifests = render(release, system, { createServiceAccountAndRoleBinding: true });
    for (const m of manifests.filter((m) => ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(m.kind))) {
      const plural = `${m.kind.toLowerCase()}s`;
      const rt = { group: m.kind === "ServiceAccount" ? "" : "rbac.authorization.k8s.io", version: "v1", plural, kind: m.kind };
      const namespaced = !m.kind.startsWith("Cluster");
      await c.admin.create(rt, namespaced ? system : undefined, m);
      if (!namespaced) clusterScoped.push([rt, m.metadata.name]);
    }
    const args = find<V1Deployment>(manifests, "Deployment")[0]!.spec!.template.spec!.containers[0]!.args!;

    writeFileSync(join(root, MOUNT, "ca.crt"), c.caPem, { mode: 0o644 });
    writeFileSync(join(root, MOUNT, "namespace"), system, { mode: 0o644 });
    mountToken(await boundToken(`${release}-podlogreader`, "token-a"));

    port = await freePort();
    const server = new URL(c.server);
    const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;
    const [unshare, chroot] = [Bun.which("unshare", { PATH }), Bun.which("chroot", { PATH })];
    expect(unshare).not.toBeNull();
    expect(chroot).not.toBeNull();
    proc = Bun.spawn(
      [unshare!, "--mount", "--pid", "--fork", `--mount-proc=${join(root, "proc")}`, chroot!, "--userspec=65532:65532", root, "/podlogreader",
        ...args.map((a) => (a.startsWith("--http-addr=") ? `--http-addr=127.0.0.1:${port}` : a.startsWith("--debounce=") ? "--debounce=0" : a)),
        `--namespace=${ns}`, "--log-format=text"],
      { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port } },
    );
    void (async () => {
      for await (const chunk of proc!.stderr) log.push(...new TextDecoder().decode(chunk).split("\n").filter(Boolean));
    })();

    await eventually("/healthz", async () => {
      if (proc!.exitCode !== null) throw new Error(`exited with ${proc!.exitCode}:\n${log.join("\n")}`);
      return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok || undefined;
    });
    await eventually("/readyz", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok || undefined).catch((err: Error) => {
      throw new Error(`${err.message}\n${log.join("\n")}`);
    });
    expect(log.some((l) => l.includes("in-cluster ServiceAccount"))).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain("podlogreader_api_requests_total");

    await createDeployment(ns, "first", { replicas: 1 });
    await expectReadable(ns, "podlogreader-first", await waitForPods(ns, "first", 1));
  });

  test("keeps working after its token is rotated and the old token is revoked", async () => {
    mountToken(await boundToken(`${release}-podlogreader`, "token-b"));
    await c.admin.delete(Secrets, system, "token-a");
    await createDeployment(ns, "second", { replicas: 1 });
    await expectReadable(ns, "podlogreader-second", await waitForPods(ns, "second", 1));
  });

  test("SIGTERM ends it with exit code 0", async () => {
    // unshare forks the controller and exits with its status; the signal goes to the controller.
    const child = Number(readFileSync(`/proc/${proc!.pid}/task/${proc!.pid}/children`, "utf8").trim());
    expect(child).toBeGreaterThan(0);
    process.kill(child, "SIGTERM");
    expect(await proc!.exited).toBe(0);
  });
});
