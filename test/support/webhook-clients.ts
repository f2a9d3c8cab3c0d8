// The log clients people run, on the cluster whose apiserver calls podlogreader's webhook, as each
// identity bound to a workload's Role: the workload's ServiceAccount with a real token, and a
// user (a client certificate the cluster's CA signed) granted the Role with `podlogreader grant`.
// `boundClientTests` registers the same tests in either Role mode's suite.
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { KINDS } from "../../src/access/kinds.ts";
import { managedName } from "../../src/access/names.ts";
import { Pods } from "../../src/kube/resources.ts";
import { ApiError } from "../../src/kube/transport.ts";
import { kubeconfigYaml } from "../../scripts/harness/controlplane.ts";
import { eventually, serviceAccountToken, testCluster } from "./cluster.ts";
import { OPT_IN } from "./fixtures.ts";
import { withLogs } from "./pod-logs.ts";
import { background, kubectl, podlogreader, type Background } from "./process.ts";
import { testUser, userCanReadLog, userReadable, type TestUser } from "./users.ts";
import { lineOf, type WebhookScene } from "./webhook-scene.ts";
import { createDeployment, expectReadable, rollout, scale, waitForPods } from "./workloads.ts";

/** kubectl as `as` (a kubeconfig) exits 0 and prints every line it should (`some`: at least one of them). */
export async function works(as: string, args: string[], shows: string[], some = false): Promise<void> {
  await eventually(`kubectl ${args.join(" ")} to work`, async () => {
    const r = await kubectl(args, { kubeconfig: as, timeoutMs: 30_000 });
    return (r.code === 0 && (some ? shows.some((s) => r.stdout.includes(s)) : shows.every((s) => r.stdout.includes(s)))) || undefined;
  });
}

/** kubectl as `as` exits non-zero with Forbidden and prints none of the lines it must not. */
export async function refused(as: string, args: string[], hidden: string[] = []): Promise<void> {
  const r = await kubectl(args, { kubeconfig: as, timeoutMs: 30_000 });
  expect({ args, code: r.code === 0 ? 0 : "non-zero", forbidden: /forbidden/i.test(r.stderr) ? true : r.stderr }).toEqual({
    args,
    code: "non-zero",
    forbidden: true,
  });
  for (const line of hidden) expect(r.stdout).not.toContain(line);
}

/** Makes a pod no workload controls; returns its uid. */
export async function barePod(namespace: string, name: string, labels: Record<string, string>): Promise<string> {
  const { admin } = await testCluster();
  const made = await admin.create(Pods, namespace, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels },
    spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }], terminationGracePeriodSeconds: 0 },
  } as never);
  return (made as { metadata: { uid: string } }).metadata.uid;
}

/** The uid of the pod that holds `name` now, if any. */
export async function holderOf(namespace: string, name: string): Promise<string | undefined> {
  const { admin } = await testCluster();
  const pod = (await admin.get(Pods, namespace, name).catch(() => undefined)) as { metadata: { uid: string } } | undefined;
  return pod?.metadata.uid;
}

/** A kubeconfig file in the scene's folder with a real token of the workload's managed ServiceAccount. */
export async function serviceAccountKubeconfig(scene: WebhookScene, kind: "Deployment" | "CronJob", name: string): Promise<string> {
  const sa = managedName(kind, name);
  const token = await eventually(`a token for ${sa}`, () => serviceAccountToken(scene.ns, sa));
  const file = join(scene.dir, `${sa}.kubeconfig`);
  writeFileSync(file, kubeconfigYaml(scene.c.server, scene.c.caPem, { token }, scene.ns), { mode: 0o600 });
  return file;
}

/** A user of the cluster granted the workload's Role for an hour by `podlogreader grant` (the binary, as admin). */
export async function grantedUser(namespace: string, name: string, workload: string): Promise<TestUser> {
  const user = await testUser(name, [], namespace);
  const r = await podlogreader(["grant", "-n", namespace, workload, "--to", `user:${name}`, "--for", "1h", "--reason", "test"]);
  expect({ code: r.code, stderr: r.code === 0 ? "" : r.stderr }).toEqual({ code: 0, stderr: "" });
  return user;
}

function sternBinary(): string {
  const build = spawnSync("bash", [resolve(import.meta.dir, "../../scripts/build-tool.sh"), "stern"], {
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
  });
  expect(build.status).toBe(0);
  return build.stdout.trim().split("\n").at(-1)!;
}

/**
 * The tests every Role mode passes on the scene, each as the workload's ServiceAccount and as a
 * user granted the workload's Role. Each uses a workload of its own, so that web's pods stay as
 * the suite's other tests expect them. `rolePodNames`: the controller's --role-pod-names.
 */
export function boundClientTests(scene: WebhookScene, rolePodNames: "names" | "none"): void {
  test("stern follows a Deployment across a scale-up and a rollout, as its ServiceAccount and as a user granted its Role", async () => {
    const stern = sternBinary();
    const { ns } = scene;
    await createDeployment(ns, "feed", { replicas: 1 });
    const first = await waitForPods(ns, "feed", 1);
    await withLogs(ns, first, (p) => [lineOf(p)]);
    await expectReadable(ns, managedName("Deployment", "feed"), first);
    const erin = await grantedUser(ns, "erin", "deploy/feed");
    await eventually("erin to read feed's pod", async () => (await userCanReadLog(erin, ns, first[0]!)) || undefined);
    const as = { serviceAccount: await serviceAccountKubeconfig(scene, "Deployment", "feed"), erin: erin.kubeconfig };
    const followers: [string, Background][] = Object.entries(as).map(([who, kubeconfig]) => [
      who,
      background([stern, "--kubeconfig", kubeconfig, "-n", ns, "--color", "never", "deploy/feed"]),
    ]);
    // stern may open a new pod's log before the harness gives it lines of its own, and then prints
    // the local cluster's default line: either way that pod's log, under its name.
    const printsEvery = (pods: string[]) => (out: string) => pods.every((p) => out.includes(`${p} app `));
    const allPrint = (what: string, pods: string[]) =>
      Promise.all(followers.map(([who, f]) => f.waitFor(`stern as ${who} to print ${what}`, printsEvery(pods))));
    try {
      await allPrint("the first pod's line", first);
      await scale(ns, "feed", 2);
      const scaled = await waitForPods(ns, "feed", 2);
      await withLogs(ns, scaled, (p) => [lineOf(p)]);
      await allPrint("the line of the pod the scale-up made", scaled);
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
      await allPrint("the lines of the rollout's pods", rolled);
      for (const [who, f] of followers) expect({ who, exitCode: f.proc.exitCode }).toEqual({ who, exitCode: null });
    } finally {
      for (const [, f] of followers) await f.stop();
    }
    const foreign = [lineOf(scene.other), ...scene.webPods.map(lineOf)];
    for (const [who, f] of followers) {
      expect({ who, printed: foreign.filter((line) => f.seen.stdout.includes(line)) }).toEqual({ who, printed: [] });
    }
  }, 240_000);

  const jobRun =
    "kubectl logs job/RUN for a CronJob's run works as its ServiceAccount and as a user granted its Role; other pods are refused";
  test(jobRun, async () => {
    const { c, ns } = scene;
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
    const serviceAccount = await serviceAccountKubeconfig(scene, "CronJob", "nightly");
    const frank = await grantedUser(ns, "frank", "cronjob/nightly");
    for (const as of [serviceAccount, frank.kubeconfig]) {
      await works(as, ["logs", "job/nightly-run-1"], [lineOf(run)]);
      await refused(as, ["logs", scene.other], [lineOf(scene.other)]);
      await refused(as, ["logs", "-l", "app=web"], scene.webPods.map(lineOf));
    }
  });

  const when = rolePodNames === "names" ? "once its name has left the Role" : "without waiting for the controller";
  const reuse =
    `a Deployment's pod deleted and made again as a bare pod under its name (${when}): a user granted the Deployment's Role ` +
    "cannot read it, and still reads the live pods";
  test(reuse, async () => {
    const { c, ns } = scene;
    await createDeployment(ns, "tenant", { replicas: 2 });
    let live = await waitForPods(ns, "tenant", 2);
    await withLogs(ns, live, (p) => [lineOf(p)]);
    await expectReadable(ns, managedName("Deployment", "tenant"), live);
    const grace = await grantedUser(ns, "grace", "deploy/tenant");
    await eventually("grace to read tenant's pods", async () => (await userReadable(grace, ns, live)).length === 2 || undefined);
    const secret = (pod: string) => `${pod} is not tenant's: secret`;
    for (let round = 0; round < 3; round++) {
      const [taken] = live as [string];
      const uid = (await holderOf(ns, taken))!;
      await c.admin.delete(Pods, ns, taken, { uid });
      // With names in the Role a deleted pod's name stays granted until the controller removes it:
      // the window the webhook mode without names closes (README).
      if (rolePodNames === "names") {
        await eventually(`${taken} to leave tenant's Role`, async () => !(await userCanReadLog(grace, ns, taken)) || undefined);
      }
      // Labels of its own: with tenant's, the ReplicaSet would adopt the pod. The simulated node
      // sometimes deletes a pod that takes a name it was just deleting: then the pod is made again.
      let bareUid: string | undefined;
      await eventually(`a bare pod to take the name ${taken}`, async () => {
        const holder = await holderOf(ns, taken);
        if (holder === undefined) {
          bareUid = await barePod(ns, taken, { app: "impostor", ...OPT_IN }).catch((err) => {
            if (err instanceof ApiError && err.status === 409) return undefined;
            throw err;
          });
          await Bun.sleep(500);
          return undefined;
        }
        const pod = (await c.admin.get(Pods, ns, taken)) as { metadata: { uid: string }; status?: { phase?: string } };
        return (pod.metadata.uid === bareUid && pod.status?.phase === "Running") || undefined;
      });
      await withLogs(ns, [taken], (p) => [secret(p)]);
      expect(await holderOf(ns, taken)).toBe(bareUid);
      expect({ taken, canRead: await userCanReadLog(grace, ns, taken) }).toEqual({ taken, canRead: false });
      await refused(grace.kubeconfig, ["logs", taken], [secret(taken)]);
      await refused(grace.kubeconfig, ["logs", "-l", "app=impostor"], [secret(taken)]);
      expect(await holderOf(ns, taken)).toBe(bareUid);
      live = await eventually("the Deployment's pod made in place of the deleted one", async () => {
        const pods = await waitForPods(ns, "tenant", 2).catch(() => undefined);
        return pods && !pods.includes(taken) ? pods : undefined;
      });
      await withLogs(ns, live, (p) => [lineOf(p)]);
      await works(grace.kubeconfig, ["logs", "-l", "app=tenant", "--prefix"], live.map(lineOf));
      await works(grace.kubeconfig, ["logs", "deploy/tenant"], live.map(lineOf), true);
      await works(grace.kubeconfig, ["logs", live[0]!], [lineOf(live[0]!)]);
      await c.admin.delete(Pods, ns, taken, { uid: bareUid });
      await eventually(`the bare ${taken} to be gone`, async () => (await holderOf(ns, taken)) === undefined || undefined);
    }
  }, 300_000);
}
