// What a real log client meets while workloads change: `kubectl logs -l app=NAME` run in loops,
// each as its workload's own ServiceAccount (a real token from the TokenRequest API), while the
// Deployments scale up and down and roll out. podlogreader runs with --create-sa-and-rolebinding
// and --pod-visibility namespace (`-l` lists pods, which needs list pods in the namespace).
// Counted: runs refused with Forbidden, apart from runs that failed otherwise (a pod that was
// deleted between kubectl's list and its log read, a container not started yet). Each run is
// followed at once by the same command as a ServiceAccount that may read every pod's logs in the
// namespace (a Role the benchmark writes itself): what `kubectl logs -l` meets when access is not
// the question. With --role-pod-names=none (`clients-authorizer`) the Roles name no pod, and the
// apiserver asks podlogreader's webhook authorizer about every read of a pod when it is made.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RolePodNames } from "../../src/access/desired.ts";
import { managedName } from "../../src/access/names.ts";
import { serviceAccountCan } from "../../src/kube/access-review.ts";
import { Deployments, Pods, RoleBindings, Roles, ServiceAccounts } from "../../src/kube/resources.ts";
import { isNotFound } from "../../src/kube/transport.ts";
import { kubeconfigYaml } from "../harness/controlplane.ts";
import { deployment, forEachLimit, namespace, percentile, RoleWatch, round, scale, startController, until, withCluster } from "./kit.ts";

const spread = (samples: number[]) => {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: round(percentile(s, 50)), p99: round(percentile(s, 99)) };
};

export interface ClientsResult {
  /** names: the Roles name the pods; none: they name none and the webhook authorizer decides each read. */
  rolePodNames: RolePodNames;
  workloads: number;
  /** The controller's --debounce when the run set one (CLIENTS_DEBOUNCE). */
  debounce?: string;
  clients: number;
  seconds: number;
  runs: number;
  ok: number;
  forbidden: number;
  /** Of the Forbidden runs: the refused pod was being deleted or gone when the admin looked right after; the rest were live. */
  forbiddenTerminating: number;
  /** Of those, the refused pod no longer existed at all: only a grant that outlived its pod would have let the read through. */
  forbiddenGone: number;
  otherFailures: number;
  /** A few distinct first lines of the failures, Forbidden and other. */
  samples: string[];
  /** The same commands, each right after its run, as a ServiceAccount that may read every pod's logs in the namespace. */
  namespaceWide: { runs: number; ok: number; failures: number; samples: string[] };
  /** How long one kubectl run took, as the workload's ServiceAccount and as the namespace-wide reader (ms). */
  runMs: { own: { p50: number; p99: number }; namespaceWide: { p50: number; p99: number } };
}

/** Not podlogreader's: a ServiceAccount bound to get, list and watch pods and get pods/log, namespace-wide. */
const NAMESPACE_READER = "bench-namespace-log-reader";

/** kubectl's answer, sorted: Forbidden is the authorizer refusing; anything else is not about access. */
function classify(exitCode: number, stderr: string): "ok" | "forbidden" | "other" {
  if (exitCode === 0) return "ok";
  return /forbidden|\(Forbidden\)/i.test(stderr) ? "forbidden" : "other";
}

export function clients(
  workloads = Number(process.env.CLIENTS_WORKLOADS ?? 10),
  parallel = Number(process.env.CLIENTS_PARALLEL ?? 4),
  seconds = Number(process.env.CLIENTS_SECONDS ?? 120),
  /** The controller's --debounce; unset, its default. */
  debounce = process.env.CLIENTS_DEBOUNCE || undefined,
  rolePodNames: RolePodNames = "names",
): Promise<ClientsResult> {
  return withCluster(
    async (env) => {
      const ns = await namespace(env.api, "clients");
      const list = Array.from({ length: workloads }, (_, i) => `app${i}`);
      await forEachLimit(list, 16, (d) => env.api.create(Deployments, ns, deployment(d, 1)));
      const roles = await RoleWatch.start(env.api, ns);
      const a = env.cluster.authorizer;
      const webhook =
        rolePodNames === "none" && a
          ? [
              "--role-pod-names",
              "none",
              "--authorizer-addr",
              `127.0.0.1:${a.port}`,
              "--authorizer-tls-cert-file",
              a.certFile,
              "--authorizer-tls-key-file",
              a.keyFile,
              "--authorizer-client-ca-file",
              a.clientCaFile,
            ]
          : [];
      const ctl = await startController(env, [
        "--namespace",
        ns,
        "--create-sa-and-rolebinding",
        "--pod-visibility",
        "namespace",
        ...webhook,
        ...(debounce ? ["--debounce", debounce] : []),
      ]);
      if (rolePodNames === "names") {
        await until(
          "every Role to name its pod",
          async () => (list.every((d) => roles.pods.get(managedName("Deployment", d))?.size === 1) ? true : undefined),
          180_000,
          200,
        );
      } else {
        await until(
          "the webhook to let every workload's ServiceAccount read its pod's log",
          async () => {
            for (const d of list) {
              const pod = (
                (await env.api.list(Pods, { namespace: ns, labelSelector: `app=${d}`, metadataOnly: true })).items[0] as
                  | { metadata: { name: string } }
                  | undefined
              )?.metadata.name;
              if (
                !pod ||
                !(await serviceAccountCan(env.api, ns, managedName("Deployment", d), {
                  verb: "get",
                  resource: "pods",
                  subresource: "log",
                  name: pod,
                }))
              )
                return undefined;
            }
            return true;
          },
          180_000,
          500,
        );
      }

      await env.api.create(ServiceAccounts, ns, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: NAMESPACE_READER } });
      await env.api.create(Roles, ns, {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: NAMESPACE_READER },
        rules: [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"] }],
      });
      await env.api.create(RoleBindings, ns, {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: NAMESPACE_READER },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: NAMESPACE_READER },
        subjects: [{ kind: "ServiceAccount", name: NAMESPACE_READER, namespace: ns }],
      });

      const dir = mkdtempSync(join(tmpdir(), "podlogreader-clients-"));
      const ca = readFileSync(join(env.cluster.dir, "pki", "ca.crt"), "utf8");
      const tokenRequest = { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } };
      const kubeconfigOf = async (serviceAccount: string) => {
        const answer = (await env.api.createSubresource(ServiceAccounts, ns, serviceAccount, "token", tokenRequest)) as {
          status: { token: string };
        };
        const file = join(dir, `${serviceAccount}.kubeconfig`);
        writeFileSync(file, kubeconfigYaml(env.cluster.server, ca, { token: answer.status.token }, ns));
        return file;
      };
      const kubeconfigs = new Map<string, string>();
      for (const d of list) kubeconfigs.set(d, await kubeconfigOf(managedName("Deployment", d)));
      const namespaceReader = await kubeconfigOf(NAMESPACE_READER);
      const kubectl = join(env.cluster.binDir, "kubectl");
      const counts = { runs: 0, ok: 0, forbidden: 0, terminating: 0, gone: 0, other: 0 };
      const wide = { runs: 0, ok: 0, failures: 0, samples: new Set<string>() };
      /** Where a refused pod was when the admin looked right after: gone, being deleted, or live (new). */
      const refusedPod = async (stderr: string): Promise<"gone" | "deleting" | "live"> => {
        const pod = /pods "([^"]+)" is forbidden/.exec(stderr)?.[1];
        if (!pod) return "live";
        const found = (await env.api.get(Pods, ns, pod).catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        })) as { metadata?: { deletionTimestamp?: string } } | undefined;
        if (!found) return "gone";
        return found.metadata?.deletionTimestamp !== undefined ? "deleting" : "live";
      };
      const samples = new Set<string>();
      const deadline = performance.now() + seconds * 1000;

      // The changes: each workload in turn scales 1 -> 5 -> 1 and rolls out, over and over.
      const changing = (async () => {
        for (let round = 0; performance.now() < deadline; round++) {
          await forEachLimit(list, 8, (d) => scale(env.api, ns, d, 5));
          await Bun.sleep(3000);
          await forEachLimit(list, 8, (d) =>
            env.api.mergePatch(
              Deployments,
              ns,
              d,
              { spec: { template: { metadata: { annotations: { round: String(round) } } } } },
              { fieldManager: "podlogreader-bench" },
            ),
          );
          await Bun.sleep(3000);
          await forEachLimit(list, 8, (d) => scale(env.api, ns, d, 1));
          await Bun.sleep(3000);
        }
      })();
      let next = 0;
      /** Pod and ServiceAccount names vary; one sample per shape of message. */
      const sample = (stderr: string) =>
        stderr
          .trim()
          .split("\n")[0]!
          .replace(/app\d+[-\w]*/g, "NAME")
          .slice(0, 240);
      const took = { own: [] as number[], namespaceWide: [] as number[] };
      const logs = async (kubeconfig: string, d: string) => {
        const started = performance.now();
        const proc = Bun.spawn(
          [kubectl, "--kubeconfig", kubeconfig, "-n", ns, "logs", "-l", `app=${d}`, "--tail=1", "--request-timeout=20s"],
          { stdin: "ignore", stdout: "ignore", stderr: "pipe" },
        );
        const [exitCode, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
        took[kubeconfig === namespaceReader ? "namespaceWide" : "own"].push(performance.now() - started);
        return { exitCode, stderr };
      };
      const client = async () => {
        while (performance.now() < deadline) {
          const d = list[next++ % list.length]!;
          const { exitCode, stderr } = await logs(kubeconfigs.get(d)!, d);
          const kind = classify(exitCode, stderr);
          counts.runs++;
          if (kind === "ok") counts.ok++;
          else {
            if (kind === "forbidden") {
              counts.forbidden++;
              const where = await refusedPod(stderr);
              if (where !== "live") counts.terminating++;
              if (where === "gone") counts.gone++;
            } else counts.other++;
            if (samples.size < 8) samples.add(`${kind}: ${sample(stderr)}`);
          }
          const baseline = await logs(namespaceReader, d);
          wide.runs++;
          if (baseline.exitCode === 0) wide.ok++;
          else {
            wide.failures++;
            if (wide.samples.size < 8) wide.samples.add(sample(baseline.stderr));
          }
        }
      };
      await Promise.all([changing, ...Array.from({ length: parallel }, client)]);
      await ctl.stop();
      roles.stop();
      return {
        rolePodNames,
        workloads,
        debounce,
        clients: parallel,
        seconds,
        runs: counts.runs,
        ok: counts.ok,
        forbidden: counts.forbidden,
        forbiddenTerminating: counts.terminating,
        forbiddenGone: counts.gone,
        otherFailures: counts.other,
        samples: [...samples],
        namespaceWide: { runs: wide.runs, ok: wide.ok, failures: wide.failures, samples: [...wide.samples] },
        runMs: { own: spread(took.own), namespaceWide: spread(took.namespaceWide) },
      };
    },
    { nodes: 1, authorizer: rolePodNames === "none" },
  );
}
