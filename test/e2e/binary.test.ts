// The compiled executable, dist/podlogreader, as a user runs it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { KubeApi } from "../../src/kube/api.ts";
import { Transport } from "../../src/kube/transport.ts";
import { logStatus, serviceAccountCan } from "../support/access.ts";
import { eventually, serviceAccountToken, testCluster, tokenConnection, useNamespace, type TestCluster } from "../support/cluster.ts";
import { createDeployment, expectReadable, waitForPods } from "../support/workloads.ts";
import { BINARY } from "../support/process.ts";

function run(args: string[], env: Record<string, string> = {}, executable = BINARY): Subprocess<"ignore", "pipe", "pipe"> {
  return Bun.spawn([executable, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/", ...env },
  });
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
  expect(existsSync(BINARY)).toBe(true);
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
    for (const flag of [
      "--kubeconfig",
      "--namespace",
      "--create-sa-and-rolebinding",
      "--pod-visibility",
      "--debounce",
      "--resync",
      "--workers",
      "--log-level",
      "--log-format",
    ]) {
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
    proc = run(
      [
        "--namespace",
        ns,
        "--create-sa-and-rolebinding",
        "--debounce",
        "200ms",
        "--log-format",
        "json",
        "--metrics-bind-address=127.0.0.1:0",
        "--health-probe-bind-address=127.0.0.1:0",
      ],
      { KUBECONFIG: c.kubeconfig },
    );
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

describe("strict by default", () => {
  test("without flags a ServiceAccount sees only its own pods: no list of the namespace's pods", async () => {
    const c = await testCluster();
    const ns = await useNamespace("strict");
    const proc = run(
      [
        "--namespace",
        ns,
        "--create-sa-and-rolebinding=true",
        "--debounce",
        "0",
        "--metrics-bind-address=127.0.0.1:0",
        "--health-probe-bind-address=127.0.0.1:0",
      ],
      { KUBECONFIG: c.kubeconfig },
    );
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

async function result(proc: Subprocess<"ignore", "pipe", "pipe">): Promise<{ code: number; stdout: string; stderr: string }> {
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

describe("command-line conventions", () => {
  test("version, --version and version -o json agree", async () => {
    const plain = await result(run(["version"]));
    const flag = await result(run(["--version"]));
    const json = await result(run(["version", "-o", "json"]));
    expect(plain).toMatchObject({ code: 0, stdout: flag.stdout });
    expect(plain.stdout).toMatch(/^podlogreader \d+\.\d+\.\d+/);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ version: plain.stdout.trim().split(" ")[1] });
  });

  test.each([
    [["run", "-h"]],
    [["-h"]],
    [["run", "--help"]],
    [["status", "-h"]],
    [["audit", "--help"]],
    [["kubeconfig", "-h"]],
    [["version", "-h"]],
  ])("%p prints help and exits 0", async (args) => {
    const r = await result(run(args));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: podlogreader");
  });

  test("a bad duration reads as kubectl's", async () => {
    const r = await result(run(["kubeconfig", "-n", "x", "deploy/web", "--duration", "1y"]));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid argument "1y" for "--duration" flag: time: unknown unit "y" in duration "1y"');
  });

  test("named kubectl-podlogreader, it is a kubectl plugin: kubectl finds it on PATH and its usage says so", async () => {
    const bin = mkdtempSync(join(tmpdir(), "podlogreader-plugin-"));
    try {
      symlinkSync(BINARY, join(bin, "kubectl-podlogreader"));
      const help = await result(run(["status", "--help"], {}, join(bin, "kubectl-podlogreader")));
      expect(help.stdout).toStartWith("Usage: kubectl podlogreader status");
      const c = await testCluster();
      const ns = await useNamespace("plugin");
      await createDeployment(ns, "web", { replicas: 1 });
      // kubectl hands every argument after the plugin's name to the plugin, global flags included.
      const kubectl = await result(
        Bun.spawn([join(c.binDir, "kubectl"), "podlogreader", "--kubeconfig", c.kubeconfig, "-n", ns, "status", "-o", "json"], {
          stdin: "ignore",
          stdout: "pipe",
          stderr: "pipe",
          env: { PATH: `${bin}:${process.env.PATH}`, HOME: process.env.HOME ?? "/" },
        }),
      );
      expect(kubectl.stderr).toBe("");
      expect(kubectl.code).toBe(0);
      const rows = JSON.parse(kubectl.stdout) as { namespace: string; name: string }[];
      expect(rows.map((r) => `${r.namespace}/${r.name}`)).toEqual([`${ns}/web`]);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  test("--context picks the kubeconfig's context, before or after the command; an unknown one is named", async () => {
    const c = await testCluster();
    const context = /current-context: *"?([^"\n]+)/.exec(await Bun.file(c.kubeconfig).text())![1]!;
    for (const args of [
      ["status", "--context", context, "-o", "json"],
      ["--context", context, "status", "-o", "json"],
    ]) {
      const r = await result(run(args, { KUBECONFIG: c.kubeconfig }));
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(Array.isArray(JSON.parse(r.stdout))).toBe(true);
    }
    const missing = await result(run(["status", "--context", "no-such-context"], { KUBECONFIG: c.kubeconfig }));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('context "no-such-context" does not exist');
  });
});
