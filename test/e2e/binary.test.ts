// The compiled executable, dist/podlogreader, as a user runs it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { KubeApi } from "../../src/kube/api.ts";
import { Transport } from "../../src/kube/transport.ts";
import { logStatus, serviceAccountCan } from "../support/access.ts";
import { eventually, serviceAccountToken, testCluster, tokenConnection, useNamespace, type TestCluster } from "../support/cluster.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";

const binary = resolve(import.meta.dir, "../../dist/podlogreader");

function run(args: string[], env: Record<string, string> = {}): Subprocess<"ignore", "pipe", "pipe"> {
  return Bun.spawn([binary, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/", ...env } });
}

/** Collects a process's stderr lines as they come. */
function lines(proc: Subprocess<"ignore", "pipe", "pipe">): string[] {
  const out: string[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of proc.stderr) {
      buffered += decoder.decode(chunk, { stream: true });
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      out.push(...parts);
    }
  })();
  return out;
}


test("the binary was built", () => {
  expect(existsSync(binary)).toBe(true);
});

describe("bad input", () => {
  test.each([
    [["--debounce", "fast"], "--debounce"],
    [["--create-sa-and-rolebinding=maybe"], "--create-sa-and-rolebinding"],
    [["--log-format", "xml"], "--log-format"],
    [["--workers", "-1"], "--workers"],
    [["--bogus"], "--bogus"],
  ])("%p exits 2 with one line naming the flag, before connecting anywhere", async (args, flag) => {
    const proc = run([...args, "--kubeconfig", "/nonexistent"]);
    const [code, stderr, stdout] = await Promise.all([proc.exited, new Response(proc.stderr).text(), new Response(proc.stdout).text()]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    const [first] = stderr.trim().split("\n");
    expect(first).toStartWith("podlogreader: ");
    expect(first).toContain(flag);
  });

  test("a missing kubeconfig is a clear error and exit 1", async () => {
    const proc = run(["--kubeconfig", "/nonexistent/kubeconfig"]);
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect(code).toBe(1);
    expect(stderr).toContain("/nonexistent/kubeconfig");
  });

  test("--help lists every flag and exits 0", async () => {
    const proc = run(["--help"]);
    const [code, stdout] = await Promise.all([proc.exited, new Response(proc.stdout).text()]);
    expect(code).toBe(0);
    for (const flag of ["--kubeconfig", "--namespace", "--create-sa-and-rolebinding", "--list-pods", "--debounce", "--resync", "--workers", "--log-level", "--log-format"]) {
      expect(stdout).toContain(flag);
    }
  });
});

describe("running against the cluster", () => {
  let c: TestCluster;
  let ns: string;
  let proc: Subprocess<"ignore", "pipe", "pipe">;
  let log: string[];

  beforeAll(async () => {
    c = await testCluster();
    ns = await useNamespace("binary");
    proc = run(["--namespace", ns, "--create-sa-and-rolebinding", "--debounce", "200ms", "--log-format", "json"], { KUBECONFIG: c.kubeconfig });
    log = lines(proc);
  });
  afterAll(() => {
    if (proc.exitCode === null) proc.kill("SIGKILL");
  });

  test("a real token of the generated ServiceAccount reads its Deployment's pod logs, and not another's", async () => {
    await createDeployment(ns, "web", { replicas: 2 });
    await createDeployment(ns, "other", { replicas: 1, optIn: false });
    const pods = await waitForPods(ns, "web", 2);
    const [otherPod] = await waitForPods(ns, "other", 1);
    await expectReadable(ns, "podlogreader-web", pods);

    const token = await eventually("a token for podlogreader-web", () => serviceAccountToken(ns, "podlogreader-web"));
    const asServiceAccount = new KubeApi(new Transport(tokenConnection(c, token)));
    for (const pod of pods) expect(await logStatus(asServiceAccount, ns, pod)).not.toBe(403);
    expect(await logStatus(asServiceAccount, ns, otherPod!)).toBe(403);
  });

  test("logs are JSON lines, one per change", () => {
    const entries = log.filter((l) => l.trim()).map((l) => JSON.parse(l) as { level: string; msg: string });
    expect(entries.some((e) => e.msg.startsWith("Created Role") && e.msg.includes("podlogreader-web"))).toBe(true);
    expect(entries.every((e) => typeof e.level === "string" && typeof e.msg === "string")).toBe(true);
  });

  test("SIGTERM stops it with exit code 0", async () => {
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(log.some((l) => l.includes("Stopped"))).toBe(true);
  });
});

describe("strict mode", () => {
  test("--list-pods=false grants no list, so only kubectl logs POD works", async () => {
    const c = await testCluster();
    const ns = await useNamespace("strict");
    const proc = run(["--namespace", ns, "--create-sa-and-rolebinding=true", "--list-pods=false", "--debounce", "0"], { KUBECONFIG: c.kubeconfig });
    try {
      await createDeployment(ns, "web", { replicas: 1 });
      const pods = await waitForPods(ns, "web", 1);
      await expectReadable(ns, "podlogreader-web", pods);
      expect(await serviceAccountCan(c.admin, ns, "podlogreader-web", { verb: "get", resource: "pods", name: pods[0] })).toBe(true);
      expect(await serviceAccountCan(c.admin, ns, "podlogreader-web", { verb: "list", resource: "pods" })).toBe(false);
    } finally {
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    }
  });
});

describe("kubeconfig handling", () => {
  test("a kubeconfig that turns TLS verification off is refused", async () => {
    const c = await testCluster();
    const file = join(c.dir, `insecure-${process.pid}.kubeconfig`);
    const text = (await Bun.file(c.kubeconfig).text()).replace(/certificate-authority-data: .*/, "insecure-skip-tls-verify: true");
    await Bun.write(file, text);
    const proc = run(["--kubeconfig", file]);
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect(code).toBe(1);
    expect(stderr).toContain("never turns TLS verification off");
  });
});
