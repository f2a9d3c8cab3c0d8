// The image as a container runtime runs it, without Docker: `umoci unpack` turns the OCI image
// that `make image` built into a runtime bundle, and its entrypoint runs from the image's own root
// filesystem, mounted read-only, as the image's user (65532), in its own mount and PID namespaces
// with a fresh /proc (the Bun executable reads its embedded code through /proc/self/exe), with a
// ServiceAccount token and CA mounted read-only at the in-cluster path and in-cluster configuration
// pointed at the local apiserver. It must start, connect, serve its health endpoints, grant a
// workload's logs (asked of the authorizer), and keep working when its token is rotated and the
// old one stops being valid.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "../../scripts/harness/net.ts";
import { Secrets, ServiceAccounts, type ResourceType } from "../../src/kube/resources.ts";
import { render, find } from "../support/chart.ts";
import { eventually, testCluster, useNamespace, type TestCluster } from "../support/cluster.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";
import type { V1Deployment } from "@kubernetes/client-node";
import pkg from "../../package.json" with { type: "json" };

const image = `${resolve(import.meta.dir, "../../dist/image/oci")}:${pkg.version}`;
const MOUNT = "var/run/secrets/kubernetes.io/serviceaccount";

/** The parts of the OCI runtime spec (config.json) that umoci derives from the image config. */
interface RuntimeSpec {
  process: { args: string[]; env: string[]; user: { uid: number; gid: number } };
  root: { path: string };
}

let c: TestCluster;
let bundle: string;
let root: string;
let spec: RuntimeSpec;
/** The ServiceAccount volume, outside the image, as the kubelet keeps it. */
let secrets: string;
let system: string;
let proc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
const log: string[] = [];
const release = `ic${process.pid.toString(36)}`;
const clusterScoped: [ResourceType, string][] = [];

/** Unpacks the image into a runtime bundle: root filesystem plus config.json. */
function unpackImage(): void {
  bundle = mkdtempSync(join(tmpdir(), "podlogreader-bundle-"));
  rmSync(bundle, { recursive: true });
  const r = spawnSync("umoci", ["unpack", "--image", image, bundle], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`umoci unpack failed (run make image first): ${r.stderr}`);
  spec = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8")) as RuntimeSpec;
  root = join(bundle, spec.root.path);
  // The mount point, as a runtime creates it before it makes the root filesystem read-only.
  mkdirSync(join(root, MOUNT), { recursive: true });
  secrets = mkdtempSync(join(tmpdir(), "podlogreader-sa-"));
  chmodSync(secrets, 0o755); // as the kubelet's volume: readable by the container's user
}

/**
 * In new mount and PID namespaces: the root filesystem bound read-only onto itself, the
 * ServiceAccount volume bound read-only at its path, a fresh /proc, then chroot as the image's user.
 */
const CONTAINER = `set -e
chroot=$1 root=$2 secrets=$3 user=$4
shift 4
mount --bind "$root" "$root"
mount --bind "$secrets" "$root/${MOUNT}"
mount -o remount,bind,ro "$root/${MOUNT}"
mount -o remount,bind,ro "$root"
mount -t proc proc "$root/proc"
exec "$chroot" --userspec="$user" "$root" "$@"`;

/** A token bound to a Secret: deleting the Secret makes the token invalid at once. */
async function boundToken(serviceAccount: string, secret: string): Promise<string> {
  const created = (await c.admin.create({ group: "", version: "v1", plural: "secrets", kind: "Secret" }, system, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: secret },
    type: "Opaque",
  })) as { metadata: { uid: string } };
  const tokenRequest = {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: { expirationSeconds: 3600, boundObjectRef: { apiVersion: "v1", kind: "Secret", name: secret, uid: created.metadata.uid } },
  };
  const review = (await c.admin.createSubresource(ServiceAccounts, system, serviceAccount, "token", tokenRequest)) as {
    status: { token: string };
  };
  return review.status.token;
}

/** Replaces the mounted token the way the kubelet does: a new file renamed into place. */
function mountToken(token: string): void {
  const next = join(secrets, ".token.next");
  writeFileSync(next, token, { mode: 0o644 });
  renameSync(next, join(secrets, "token"));
}

beforeAll(async () => {
  c = await testCluster();
  system = await useNamespace("incluster-system");
  unpackImage();
});
afterAll(async () => {
  if (proc && proc.exitCode === null) proc.kill("SIGKILL");
  for (const dir of [bundle, secrets]) if (dir) rmSync(dir, { recursive: true, force: true });
  for (const [rt, name] of clusterScoped) await c.admin.delete(rt, undefined, name);
});

describe("in a reduced environment with in-cluster configuration", () => {
  let ns: string;
  let port: number;

  test("starts as uid 65532, connects with the mounted token and CA, and serves its health endpoints", async () => {
    expect(process.getuid?.()).toBe(0); // mount and chroot need root; CI and the dev machines run as root.
    expect(spec.process).toMatchObject({ args: ["/podlogreader"], user: { uid: 65532, gid: 65532 } });
    ns = await useNamespace("incluster");
    // The chart's identity and RBAC, so the controller runs with exactly what an install grants.
    const manifests = render(release, system, { createServiceAccountAndRoleBinding: true });
    for (const m of manifests.filter((m) =>
      ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(m.kind),
    )) {
      const plural = `${m.kind.toLowerCase()}s`;
      const rt = { group: m.kind === "ServiceAccount" ? "" : "rbac.authorization.k8s.io", version: "v1", plural, kind: m.kind };
      const namespaced = !m.kind.startsWith("Cluster");
      await c.admin.create(rt, namespaced ? system : undefined, m);
      if (!namespaced) clusterScoped.push([rt, m.metadata.name]);
    }
    const args = find<V1Deployment>(manifests, "Deployment")[0]!.spec!.template.spec!.containers[0]!.args!;

    writeFileSync(join(secrets, "ca.crt"), c.caPem, { mode: 0o644 });
    writeFileSync(join(secrets, "namespace"), system, { mode: 0o644 });
    mountToken(await boundToken(`${release}-podlogreader`, "token-a"));

    port = await freePort();
    const metricsPort = await freePort();
    const server = new URL(c.server);
    const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;
    const [unshare, chroot] = [Bun.which("unshare", { PATH }), Bun.which("chroot", { PATH })];
    expect(unshare).not.toBeNull();
    expect(chroot).not.toBeNull();
    const user = `${spec.process.user.uid}:${spec.process.user.gid}`;
    const imageEnv = Object.fromEntries(spec.process.env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
    proc = Bun.spawn(
      [
        unshare!,
        "--mount",
        "--pid",
        "--fork",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        CONTAINER,
        "container",
        chroot!,
        root,
        secrets,
        user,
        ...spec.process.args,
        // The chart's listen addresses become loopback ports of the test's own.
        ...args
          .filter((a) => !/^--(http-addr|metrics-bind-address|health-probe-bind-address)=/.test(a))
          .map((a) => (a.startsWith("--debounce=") ? "--debounce=0" : a)),
        `--namespace=${ns}`,
        "--log-format=text",
        `--metrics-bind-address=127.0.0.1:${metricsPort}`,
        `--health-probe-bind-address=127.0.0.1:${port}`,
      ],
      {
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        env: { ...imageEnv, KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port },
      },
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
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toContain(`rest_client_requests_total{code="200",method="GET",host="${server.host}"}`);

    await createDeployment(ns, "first", { replicas: 1 });
    await expectReadable(ns, "podlogreader-first", await waitForPods(ns, "first", 1));
  });

  test("runs as uid 65532 on a read-only root filesystem that holds only the image's files", () => {
    const child = Number(readFileSync(`/proc/${proc!.pid}/task/${proc!.pid}/children`, "utf8").trim());
    expect(readFileSync(`/proc/${child}/status`, "utf8")).toMatch(/^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
    expect(readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0")[0]).toBe("/podlogreader");
    const mounts = readFileSync(`/proc/${child}/mountinfo`, "utf8")
      .split("\n")
      .map((l) => l.split(" "));
    const rootMount = mounts.find((m) => m[4] === "/");
    expect(rootMount?.[5]?.split(",")).toContain("ro");
    expect(mounts.find((m) => m[4] === `/${MOUNT}`)?.[5]?.split(",")).toContain("ro");
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
