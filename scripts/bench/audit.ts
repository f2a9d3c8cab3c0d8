// The audit at scale: 10,000 pods in 100 opted-in Deployments, each with its ServiceAccount,
// RoleBinding and a Role naming its 100 pods. The benchmark plays the Deployment and ReplicaSet
// controllers (kube-controller-manager runs without them): it creates each Deployment's ReplicaSet
// and the pods, owned by UID, directly. Measured: the compiled binary's `audit -n NS --output json`,
// from process start to exit.
import { managedName } from "../../src/access/names.ts";
import { Deployments, Pods, ReplicaSets } from "../../src/kube/resources.ts";
import { binary, deployment, forEachLimit, namespace, OPT_IN, RoleWatch, round, startController, until, withCluster } from "./kit.ts";

export interface AuditBenchResult {
  workloads: number;
  pods: number;
  seconds: number;
  reviews: number;
  exitCode: number;
  ok: boolean;
}

export function auditScale(workloads = 100, podsPerWorkload = 100): Promise<AuditBenchResult> {
  return withCluster(
    async (env) => {
      const ns = await namespace(env.api, "audit");
      const list = Array.from({ length: workloads }, (_, i) => `d${i}`);
      const owners = new Map<string, { apiVersion: string; kind: string; name: string; uid: string; controller: boolean }>();
      await forEachLimit(list, 16, async (d) => {
        const dep = (await env.api.create(Deployments, ns, deployment(d, 0))) as { metadata: { uid: string } };
        const rs = (await env.api.create(ReplicaSets, ns, {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          metadata: {
            name: `${d}-rs`,
            labels: { app: d },
            ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: d, uid: dep.metadata.uid, controller: true }],
          },
          spec: { replicas: 0, selector: { matchLabels: { app: d } }, template: deployment(d, 0).spec.template },
        })) as { metadata: { uid: string } };
        owners.set(d, { apiVersion: "apps/v1", kind: "ReplicaSet", name: `${d}-rs`, uid: rs.metadata.uid, controller: true });
      });
      const pods = list.flatMap((d) => Array.from({ length: podsPerWorkload }, (_, i) => ({ d, name: `${d}-p${i}` })));
      await forEachLimit(pods, 64, ({ d, name }) =>
        env.api.create(Pods, ns, {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name, labels: { app: d, ...OPT_IN }, ownerReferences: [owners.get(d)!] },
          spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }], terminationGracePeriodSeconds: 0 },
        }),
      );
      const roles = await RoleWatch.start(env.api, ns);
      const ctl = await startController(env, ["--namespace", ns, "--create-sa-and-rolebinding"]);
      await until(
        `${workloads} Roles to list ${podsPerWorkload} pods`,
        async () => (list.every((d) => roles.pods.get(managedName("Deployment", d))?.size === podsPerWorkload) ? true : undefined),
        600_000,
        500,
      );
      // The controller stops first, so the audit alone has the 2 cores.
      await ctl.stop();
      roles.stop();
      const started = performance.now();
      const proc = Bun.spawn([binary, "audit", "--kubeconfig", env.cluster.kubeconfig, "-n", ns, "--output", "json"], {
        stdin: "ignore",
        stdout: "pipe",
        stderr: "inherit",
      });
      const [exitCode, stdout] = await Promise.all([proc.exited, new Response(proc.stdout).text()]);
      const seconds = round((performance.now() - started) / 1000, 2);
      const report = JSON.parse(stdout) as { ok: boolean; reviews: number; entries: unknown[] };
      if (report.entries.length !== workloads)
        throw new Error(`the audit checked ${report.entries.length} ServiceAccounts, not ${workloads}`);
      return { workloads, pods: pods.length, seconds, reviews: report.reviews, exitCode, ok: report.ok };
    },
    { controllers: "*,-deployment,-replicaset" },
  );
}
