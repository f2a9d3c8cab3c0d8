// `podlogreader logs` as a workload's ServiceAccount with a real token and only the `own`
// grant (its pods and their logs by name, its Deployment and its own Role by name): it follows
// the Deployment across a rollout, never prints another workload's pod, and ends with a note
// when access is removed. A Role of the managed name without podlogreader's marks is not
// followed, even by a reader who may read the pods it names.
import { beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1ObjectMeta, V1PolicyRule } from "@kubernetes/client-node";
import { kubeconfigYaml } from "../../scripts/harness/controlplane.ts";
import { criLogLine, setPodLog } from "../../scripts/harness/simulated-nodes.ts";
import { KINDS, type WorkloadKind } from "../../src/access/kinds.ts";
import { desiredGrant } from "../../src/access/grants.ts";
import { managedName } from "../../src/access/names.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { Pods, RoleBindings, Roles, ServiceAccounts } from "../../src/kube/resources.ts";
import { ApiError, Transport } from "../../src/kube/transport.ts";
import { parseLogsArgs, runLogs, type LogsOptions } from "../../src/commands/logs.ts";
import { streamContainer, type StreamEnd } from "../../src/logs/stream.ts";
import { serviceAccountCan } from "../support/access.ts";
import { eventually, serviceAccountToken, testCluster, tokenConnection, useNamespace, type TestCluster } from "../support/cluster.ts";
import { testUser } from "../support/users.ts";
import { createDeployment, rollout, waitForPods } from "../support/workloads.ts";
import { withLogs } from "../support/pod-logs.ts";
import { BINARY, podlogreader } from "../support/process.ts";
import { roleBinding, serviceAccountSubject, userSubject } from "../support/fixtures.ts";

let c: TestCluster;
let ns: string;
let otherPod: string;
const role = managedName("Deployment", "web");

const linesOf = (pod: string) => [`${pod} starting`, `${pod} serving on :8080`];
const prefixed = (pod: string) => linesOf(pod).map((l) => `[pod/${pod}/app] ${l}`);

/** The `own` grant, written out as the controller keeps it for Deployment web and its pods. */
function ownRules(pods: string[]): V1PolicyRule[] {
  return [
    { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"], resourceNames: pods },
    { apiGroups: [""], resources: ["pods/log"], verbs: ["get"], resourceNames: pods },
    { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"], resourceNames: ["web"] },
    { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["get"], resourceNames: [role] },
  ];
}

/** A Role's metadata with podlogreader's marks for the workload, as the controller writes them. */
async function managedMeta(name: string, kind: WorkloadKind, workload: string): Promise<V1ObjectMeta> {
  const { uid } = ((await c.admin.get(KINDS[kind].resource, ns, workload)) as { metadata: { uid: string } }).metadata;
  return {
    name,
    labels: { "app.kubernetes.io/managed-by": "podlogreader" },
    annotations: { "podlogreader.dev/workload": `${kind}/${workload}` },
    ownerReferences: [{ apiVersion: KINDS[kind].apiVersion, kind, name: workload, uid, controller: true }],
  };
}

const setRole = async (pods: string[]) =>
  c.admin.update(Roles, ns, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: await managedMeta(role, "Deployment", "web"),
    rules: ownRules(pods),
  });

/** The CRI log file of each pod given its own lines, to append to while following. */
const logFiles = new Map<string, string>();
const record = (files: Map<string, string>) => {
  for (const [pod, file] of files) logFiles.set(pod, file);
};

/** A ServiceAccount bound to the Role, and a client with a real token of it. */
async function bindReader(): Promise<KubeApi> {
  await c.admin.create(ServiceAccounts, ns, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: role } });
  await c.admin.create(RoleBindings, ns, roleBinding(role, role, [serviceAccountSubject(ns, role)]));
  return new KubeApi(new Transport(tokenConnection(c, await serviceAccountToken(ns, role))));
}

/** runLogs in the test process, its output collected. */
function startLogs(api: KubeApi, argv: string[]) {
  const seen = { stdout: "", stderr: "" };
  const stop = new AbortController();
  const code = runLogs(parseLogsArgs(argv) as LogsOptions, {
    stdout: { write: (s: string) => (seen.stdout += s), isTTY: false },
    stderr: { write: (s: string) => (seen.stderr += s) },
    env: {},
    signal: stop.signal,
    api,
  });
  return { seen, code, stop: () => stop.abort() };
}

let reader: KubeApi;
let webPods: string[];

beforeAll(async () => {
  c = await testCluster();
  ns = await useNamespace("logscmd");
  await createDeployment(ns, "web", { replicas: 2, optIn: false });
  await createDeployment(ns, "other", { replicas: 1, optIn: false });
  webPods = await waitForPods(ns, "web", 2);
  [otherPod] = (await waitForPods(ns, "other", 1)) as [string];
  record(await withLogs(ns, webPods, linesOf));
  record(await withLogs(ns, [otherPod], (pod) => [`${pod} SECRET other-team line`]));
  await c.admin.create(Roles, ns, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: await managedMeta(role, "Deployment", "web"),
    rules: ownRules(webPods),
  });
  reader = await bindReader();
});

describe("podlogreader logs with the own grant", () => {
  test("the grant lets it get its Role by name but not watch it, so the command polls", async () => {
    expect(
      await serviceAccountCan(c.admin, ns, role, { verb: "get", group: "rbac.authorization.k8s.io", resource: "roles", name: role }),
    ).toBe(true);
    expect(
      await serviceAccountCan(c.admin, ns, role, { verb: "watch", group: "rbac.authorization.k8s.io", resource: "roles", name: role }),
    ).toBe(false);
    const watch = await reader
      .watch(Roles, { namespace: ns, fieldSelector: `metadata.name=${role}`, resourceVersion: "", timeoutSeconds: 1 })
      .then(
        () => 200,
        (err: unknown) => (err instanceof ApiError ? err.status : err),
      );
    expect(watch).toBe(403);
  });

  test("without --follow it prints the current pods' lines, prefixed, and exits 0", async () => {
    const run = startLogs(reader, ["deploy/web", "-n", ns]);
    expect(await run.code).toBe(0);
    for (const pod of webPods) for (const line of prefixed(pod)) expect(run.seen.stdout).toContain(`${line}\n`);
    expect(run.seen.stdout).not.toContain("SECRET");
    expect(run.seen.stdout).not.toContain("\u001b[");
  });

  test("--tail 1 prints each pod's last line only", async () => {
    const run = startLogs(reader, ["deploy/web", "-n", ns, "--tail", "1"]);
    expect(await run.code).toBe(0);
    expect(run.seen.stdout.split("\n").filter(Boolean).sort()).toEqual(webPods.map((pod) => prefixed(pod).at(-1)!).sort());
  });

  test(
    "with a kubeconfig holding the ServiceAccount's token, as `podlogreader kubeconfig` writes, -n defaults to its context's " +
      "namespace",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "podlogreader-logs-command-"));
      try {
        const kubeconfig = join(dir, "web.kubeconfig");
        writeFileSync(kubeconfig, kubeconfigYaml(c.server, c.caPem, { token: await serviceAccountToken(ns, role) }, ns), { mode: 0o600 });
        const seen = { stdout: "", stderr: "" };
        const code = await runLogs(parseLogsArgs(["deploy/web", "--kubeconfig", kubeconfig, "--timestamps"]) as LogsOptions, {
          stdout: { write: (s: string) => (seen.stdout += s), isTTY: true },
          stderr: { write: (s: string) => (seen.stderr += s) },
          env: { NO_COLOR: "1" },
          signal: new AbortController().signal,
        });
        expect({ code, stderr: seen.stderr }).toEqual({ code: 0, stderr: "" });
        for (const pod of webPods) {
          for (const line of linesOf(pod))
            expect(seen.stdout).toMatch(new RegExp(`^\\[pod/${pod}/app\\] \\d{4}-\\d\\d-\\d\\dT\\S+Z ${line}$`, "m"));
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test("--follow follows the Deployment across a rollout: the new pods' lines appear, the other workload's never", async () => {
    const run = startLogs(reader, ["deploy/web", "-n", ns, "-f"]);
    try {
      await eventually("the current pods' lines", async () =>
        webPods.flatMap(prefixed).every((l) => run.seen.stdout.includes(l)) ? true : undefined,
      );
      appendFileSync(logFiles.get(webPods[0]!)!, criLogLine(`${webPods[0]} appended while following`));
      await eventually("a line written while following", async () =>
        run.seen.stdout.includes(`${webPods[0]} appended while following`) ? true : undefined,
      );

      await rollout(ns, "web");
      const fresh = await eventually(
        "the rollout to replace both pods",
        async () => {
          const pods = await waitForPods(ns, "web", 2).catch(() => undefined);
          return pods?.every((p) => !webPods.includes(p)) ? pods : undefined;
        },
        120_000,
      );
      record(await withLogs(ns, fresh, linesOf));
      // As the controller does: the new pods' names replace the old ones in the Role.
      await setRole(fresh);

      await eventually("the new pods' lines", async () =>
        fresh.flatMap(prefixed).every((l) => run.seen.stdout.includes(l)) ? true : undefined,
      );
      for (const pod of fresh) expect(run.seen.stderr).toContain(`+ pod/${pod}: now in Role ${role}; following it`);
      for (const pod of webPods) expect(run.seen.stderr).toContain(`- pod/${pod}: no longer in Role ${role}; stopped following it`);
      expect(run.seen.stdout).not.toContain("SECRET");
      expect(run.seen.stdout).not.toContain(otherPod);
      webPods = fresh;
    } finally {
      run.stop();
    }
    expect(await run.code).toBe(0);
  }, 180_000);

  test("a StatefulSet's pod that comes back under the same name is followed again", async () => {
    const sts = managedName("StatefulSet", "db");
    await c.admin.create(KINDS.StatefulSet.resource, ns, {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "db" },
      spec: {
        replicas: 1,
        serviceName: "db",
        selector: { matchLabels: { app: "db" } },
        template: {
          metadata: { labels: { app: "db" } },
          spec: { containers: [{ name: "app", image: "registry.invalid/db:1" }], terminationGracePeriodSeconds: 0 },
        },
      },
    });
    const uid = async () => ((await c.admin.get(Pods, ns, "db-0")) as { metadata: { uid: string } }).metadata.uid;
    const firstUid = await eventually("db-0 to exist", uid);
    record(await withLogs(ns, ["db-0"], () => ["db-0 first life"]));
    await c.admin.create(Roles, ns, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: await managedMeta(sts, "StatefulSet", "db"),
      rules: [
        { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"], resourceNames: ["db-0"] },
        { apiGroups: [""], resources: ["pods/log"], verbs: ["get"], resourceNames: ["db-0"] },
        { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["get"], resourceNames: [sts] },
      ],
    });
    await c.admin.create(RoleBindings, ns, roleBinding(sts, sts, [serviceAccountSubject(ns, role)]));
    const run = startLogs(reader, ["sts/db", "-n", ns, "-f"]);
    try {
      await eventually("db-0's first life", async () => (run.seen.stdout.includes("[pod/db-0/app] db-0 first life") ? true : undefined));
      await c.admin.delete(Pods, ns, "db-0");
      await eventually("a new db-0", async () => ((await uid().catch(() => firstUid)) !== firstUid ? true : undefined));
      record(await withLogs(ns, ["db-0"], () => ["db-0 second life"]));
      await eventually("db-0's second life", async () => (run.seen.stdout.includes("[pod/db-0/app] db-0 second life") ? true : undefined));
      expect(run.seen.stderr).toBe("");
    } finally {
      run.stop();
    }
    expect(await run.code).toBe(0);
  }, 120_000);

  test("a container that has not started is retried until it runs; a refused log stream ends with a note and is not retried", async () => {
    // A pod no scheduler will place: the apiserver answers 400 (no host) until it is bound.
    await c.admin.create(Pods, ns, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "late" },
      spec: { schedulerName: "nobody", containers: [{ name: "app", image: "registry.invalid/app:1" }], terminationGracePeriodSeconds: 0 },
    });
    // Its log is set before it runs, so the first stream that succeeds reads it.
    await setPodLog(c.admin, c.dir, ns, "late", ["late started at last"]);
    const notes: string[] = [];
    const lines: string[] = [];
    const out = { line: (s: string) => lines.push(s), note: (s: string) => notes.push(s) };
    const stop = new AbortController();
    const settings = { follow: true, timestamps: false, previous: false, colour: false };
    let ended: StreamEnd | undefined;
    const late = streamContainer(c.admin, { namespace: ns, pod: "late", container: "app" }, settings, out, stop.signal).then(
      (e) => (ended = e),
    );
    await Bun.sleep(3000);
    expect(ended).toBeUndefined();
    const binding = {
      apiVersion: "v1",
      kind: "Binding",
      metadata: { name: "late" },
      target: { apiVersion: "v1", kind: "Node", name: c.nodes[0]! },
    };
    await c.admin.createSubresource(Pods, ns, "late", "binding", binding);
    await eventually("the late pod's line", async () => (lines.includes("[pod/late/app] late started at last") ? true : undefined), 60_000);
    stop.abort();
    expect(await late).toBe("stopped");
    expect(notes).toEqual([]);

    // The reader's token may read web's pods only.
    const refused = await streamContainer(
      reader,
      { namespace: ns, pod: otherPod, container: "app" },
      settings,
      out,
      new AbortController().signal,
    );
    expect(refused).toBe("forbidden");
    expect(notes).toEqual([`pod/${otherPod}/app: access to its log was removed (Forbidden); stopped reading it`]);
    expect(lines.join("\n")).not.toContain("SECRET");
  }, 120_000);

  test("removing access ends the command with a note: a pod left out of the Role stops, a removed binding ends it", async () => {
    const run = startLogs(reader, ["deploy/web", "-n", ns, "--follow"]);
    await eventually("the current pods' lines", async () =>
      webPods.flatMap(prefixed).every((l) => run.seen.stdout.includes(l)) ? true : undefined,
    );

    const [kept, dropped] = webPods as [string, string];
    await setRole([kept]);
    await eventually("the dropped pod's stream to stop", async () =>
      run.seen.stderr.includes(`- pod/${dropped}: no longer in Role ${role}`) ? true : undefined,
    );
    appendFileSync(logFiles.get(dropped)!, criLogLine(`${dropped} after its access was removed`));
    appendFileSync(logFiles.get(kept)!, criLogLine(`${kept} still followed`));
    await eventually("the kept pod's new line", async () => (run.seen.stdout.includes(`${kept} still followed`) ? true : undefined));

    await c.admin.delete(RoleBindings, ns, role);
    const code = await Promise.race([run.code, Bun.sleep(30_000).then(() => "still running")]);
    run.stop();
    expect(code).toBe(1);
    const lastNote = run.seen.stderr.trim().split("\n").at(-1);
    expect(lastNote).toBe(
      `cannot read Role ${ns}/${role} (Forbidden): this command needs get on the workload's Role, which podlogreader grants the ` +
        `workload's ServiceAccount; stopped following`,
    );
    expect(run.seen.stdout).not.toContain("after its access was removed");
  }, 120_000);

  test("a grant revoked during --follow ends its streams, though the " +
    "reader may still read the Role: the command checks its access", async () => {
    await setRole(webPods);
    // A person who may read every Role of the namespace, and web's logs only through a grant.
    const viewer = await testUser(`viewer-${process.pid}`, [], ns);
    await c.admin.create(Roles, ns, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "role-reader" },
      rules: [{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["get"] }],
    });
    await c.admin.create(RoleBindings, ns, roleBinding("role-reader", "role-reader", [userSubject(viewer.name)]));
    const roleUid = ((await c.admin.get(Roles, ns, role)) as { metadata: { uid: string } }).metadata.uid;
    const grant = desiredGrant({
      namespace: ns,
      kind: "Deployment",
      name: "web",
      subjects: [{ kind: "User", name: viewer.name }],
      roleUid,
      expiresAtMs: Date.now() + 3600_000,
      reason: "INC-3",
      grantedBy: "podlogreader-admin",
    });
    await c.admin.create(RoleBindings, ns, grant);

    const run = startLogs(viewer.api, ["deploy/web", "-n", ns, "-f"]);
    await eventually("the current pods' lines", async () =>
      webPods.flatMap(prefixed).every((l) => run.seen.stdout.includes(l)) ? true : undefined,
    );
    const revoked = Bun.spawnSync([BINARY, "revoke", "-n", ns, "--name", grant.metadata.name], {
      env: { PATH: process.env.PATH ?? "", KUBECONFIG: c.kubeconfig },
    });
    expect(revoked.exitCode).toBe(0);

    const code = await Promise.race([run.code, Bun.sleep(30_000).then(() => "still running")]);
    run.stop();
    expect(code).toBe(1);
    const notes = run.seen.stderr.trim().split("\n");
    for (const pod of webPods)
      expect(notes).toContain(
        `- pod/${pod}: access to its log ended (the apiserver no longer allows get pods/log on it); stopped following it`,
      );
    expect(notes.at(-1)).toBe("access to the logs of every followed pod of Deployment/web has ended; stopped following");
    // The Role stayed readable: only the access check could end the streams.
    expect(
      await viewer.api.get(Roles, ns, role).then(
        () => "readable",
        (err: ApiError) => err.status,
      ),
    ).toBe("readable");
  }, 120_000);

  test.each([
    [
      "no marks at all",
      "lookalike",
      async (name: string): Promise<V1ObjectMeta> => ({ name }),
      "it lacks the label app.kubernetes.io/managed-by=podlogreader",
    ],
    [
      "podlogreader's label and annotation, and a controller ownerReference to another Deployment",
      "lookalike-owned",
      (name: string) => managedMeta(name, "Deployment", "other"),
      "its controller ownerReference names apps/v1 Deployment/other",
    ],
  ])(
    "a hand-made Role of the managed name with %s is not followed: one line naming it and what it lacks, no log line, exit 1",
    async (_, workload, metadata, lacks) => {
      // It names a pod the reader (the admin) may read, so only the missing marks stop the command.
      const name = managedName("Deployment", workload);
      await c.admin.create(Roles, ns, {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: await metadata(name),
        rules: [
          { apiGroups: [""], resources: ["pods"], verbs: ["get"], resourceNames: [otherPod] },
          { apiGroups: [""], resources: ["pods/log"], verbs: ["get"], resourceNames: [otherPod] },
        ],
      });
      expect(await c.admin.stream(Pods, ns, otherPod, "log", {}).then((body) => new Response(body).text())).toContain(
        "SECRET other-team line",
      );
      for (const follow of [[], ["-f"]]) {
        const run = startLogs(c.admin, [`deploy/${workload}`, "-n", ns, ...follow]);
        const code = await Promise.race([run.code, Bun.sleep(30_000).then(() => "still running")]);
        run.stop();
        expect({ code, stdout: run.seen.stdout, stderr: run.seen.stderr }).toEqual({
          code: 1,
          stdout: "",
          stderr:
            `podlogreader logs: Role ${ns}/${name} is not podlogreader's Role for Deployment/${workload}: ${lacks}; not reading the ` +
            `pods it names\n`,
        });
      }
    },
  );

  test("usage errors exit 2, a workload without a Role exits 1, each with one clear line", async () => {
    const usage = await podlogreader(["logs", "deploy/web", "--tail", "many"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe(
      "podlogreader logs: --tail must be a number of lines, or -1 for all\nRun 'podlogreader logs --help' for the flags.\n",
    );

    const missing = startLogs(c.admin, ["sts/nothing", "-n", ns]);
    expect(await missing.code).toBe(1);
    expect(missing.seen.stderr).toBe(
      `podlogreader logs: Role ${ns}/${managedName("StatefulSet", "nothing")} does not exist: is StatefulSet/nothing in namespace ` +
        `${ns} opted in to podlogreader?\n`,
    );
  });
});
