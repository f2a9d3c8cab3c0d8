// The webhook authorizer's cost, three ways: the decision in this process over a realistic cache
// (no I/O), SubjectAccessReviews through the apiserver paced at a fixed rate (the webhook's own
// live read included), and `kubectl logs POD` as a workload's ServiceAccount with
// --role-pod-names=none (every read decided by the webhook) against a namespace-wide RBAC reader
// (RBAC allows; the apiserver never calls the webhook). The difference is what the webhook adds.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { desiredAccess } from "../../src/access/desired.ts";
import { World, type Workload } from "../../src/access/membership.ts";
import { managedName } from "../../src/access/names.ts";
import { askOf, decide, type Ask, type Evidence, type PodFacts, type View } from "../../src/authorizer/decide.ts";
import { parseReview } from "../../src/authorizer/review.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { loadConnection } from "../../src/kube/config.ts";
import type { RoleBinding } from "../../src/kube/objects.ts";
import { Deployments, Pods, RoleBindings, Roles, ServiceAccounts, SubjectAccessReviews } from "../../src/kube/resources.ts";
import { Transport } from "../../src/kube/transport.ts";
import { kubeconfigYaml } from "../harness/controlplane.ts";
import { deployment, forEachLimit, namespace, percentile, round, startController, until, withCluster, type Env } from "./kit.ts";

const numberFromEnv = (name: string, fallback: number) => {
  const n = Number(process.env[name] || fallback);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number`);
  return n;
};

export interface Percentiles {
  p50: number;
  p99: number;
  samples: number;
}

export interface AuthorizerResult {
  /** The machine's 1-minute load average before and after the runs on the control plane: what else the 2 cores carried. */
  loadAverage: { before: number; after: number };
  inProcess: {
    workloads: number;
    pods: number;
    namespaces: number;
    /** decide() alone, the evidence already at hand (microseconds). */
    getLogUs: Percentiles;
    listBySelectorUs: Percentiles;
    /** The review as JSON to a decision: parse, ask, decide (microseconds). */
    getLogWithParseUs: Percentiles;
  };
  throughApiserver: {
    workloads: number;
    pods: number;
    rates: number[];
    seconds: number;
    /**
     * Each phase: SubjectAccessReviews created as admin at an offered rate, their round trip (ms),
     * and the CPU each process spent per review (ms): where the time goes on 2 cores. The last
     * phase of each rate is the webhook's own pod read alone (`allowed` counts the reads that succeeded).
     */
    phases: {
      name: string;
      path: "webhook" | "webhook, no read" | "RBAC alone" | "the read alone";
      offeredPerSecond: number;
      achievedPerSecond: number;
      allowed: number;
      reviews: number;
      errors: number;
      firstError?: string;
      ms: Percentiles;
      cpuMsPerReview: Record<string, number>;
    }[];
  };
  kubectlLogs: {
    runs: number;
    /** `kubectl logs POD` (a GET of the pod, then of its log), whole process (ms). */
    webhookMs: Percentiles;
    rbacMs: Percentiles;
    addedP50Ms: number;
    /** The GET of pods/<pod>/log alone, from this process with the same tokens (ms). */
    logGet: { runs: number; webhookMs: Percentiles; rbacMs: Percentiles; addedP50Ms: number; addedP99Ms: number };
    failures: number;
  };
}

const stats = (samples: number[], digits = 2): Percentiles => {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: round(percentile(s, 50), digits), p99: round(percentile(s, 99), digits), samples: s.length };
};

// ---- (a) in-process ----

const GROUPS = (ns: string) => ["system:serviceaccounts", `system:serviceaccounts:${ns}`, "system:authenticated"];

/** 100 Deployments in 10 namespaces, each with one ReplicaSet and 10 pods; its managed binding; as the controller's caches hold them. */
function syntheticCache(namespaces: number, perNamespace: number, podsPerWorkload: number) {
  const world = new World();
  const bindings: RoleBinding[] = [];
  const pods: { facts: PodFacts; app: string }[] = [];
  for (let n = 0; n < namespaces; n++) {
    const ns = `team-${n}`;
    for (let i = 0; i < perNamespace; i++) {
      const app = `app-${i}`;
      const dep: Workload = {
        kind: "Deployment",
        namespace: ns,
        name: app,
        uid: `d-${n}-${i}`,
        optedIn: true,
        selector: { matchLabels: { app } },
      };
      const rs: Workload = {
        kind: "ReplicaSet",
        namespace: ns,
        name: `${app}-7d9f`,
        uid: `r-${n}-${i}`,
        optedIn: true,
        controllerKind: "Deployment",
        controllerUid: dep.uid,
        replicas: podsPerWorkload,
        selector: { matchLabels: { app, "pod-template-hash": "7d9f" } },
      };
      world.updateWorkload(undefined, dep);
      world.updateWorkload(undefined, rs);
      const access = desiredAccess(dep, [], { podVisibility: "own", rolePodNames: "none", createServiceAccountAndRoleBinding: true });
      bindings.push({
        ...access.roleBinding!,
        metadata: { ...access.roleBinding!.metadata, namespace: ns, uid: `b-${n}-${i}`, resourceVersion: "1" },
      } as RoleBinding);
      for (let p = 0; p < podsPerWorkload; p++) {
        const facts: PodFacts = {
          namespace: ns,
          name: `${app}-7d9f-${p}`,
          uid: `p-${n}-${i}-${p}`,
          controllerKind: "ReplicaSet",
          controllerUid: rs.uid,
          optedIn: true,
        };
        world.updatePod(undefined, facts);
        pods.push({ facts, app });
      }
    }
  }
  // As the controller's view does it: every binding it holds, filtered by namespace on each call.
  const view: View = { world, bindings: (ns) => bindings.filter((b) => b.metadata.namespace === ns) };
  return { view, pods };
}

function time(iterations: number, warmup: number, fn: (i: number) => unknown): number[] {
  const out: number[] = [];
  for (let i = 0; i < warmup + iterations; i++) {
    const start = Bun.nanoseconds();
    fn(i);
    if (i >= warmup) out.push((Bun.nanoseconds() - start) / 1000);
  }
  return out;
}

export function inProcess(namespaces = 10, perNamespace = 10, podsPerWorkload = 10): AuthorizerResult["inProcess"] {
  const { view, pods } = syntheticCache(namespaces, perNamespace, podsPerWorkload);
  const now = Date.now();
  const sa = (ns: string, app: string) => `system:serviceaccount:${ns}:${managedName("Deployment", app)}`;
  const pick = (i: number) => pods[(i * 7919) % pods.length]!;
  const podAsk = (i: number): [Ask, Evidence] => {
    const { facts, app } = pick(i);
    return [
      { kind: "pod", namespace: facts.namespace, name: facts.name, user: sa(facts.namespace, app), groups: GROUPS(facts.namespace) },
      { pod: facts },
    ];
  };
  const listAsk = (i: number): [Ask, Evidence] => {
    const { facts, app } = pick(i);
    const requirements = [{ key: "app", operator: "In" as const, values: [app] }];
    const matching = pods.filter((p) => p.facts.namespace === facts.namespace && p.app === app).map((p) => p.facts);
    return [
      {
        kind: "pods",
        namespace: facts.namespace,
        requirements,
        selector: `app in (${app})`,
        user: sa(facts.namespace, app),
        groups: GROUPS(facts.namespace),
      },
      { matching },
    ];
  };
  const N = 20_000;
  const podCases = Array.from({ length: N + 2000 }, (_, i) => podAsk(i));
  const listCases = Array.from({ length: N + 2000 }, (_, i) => listAsk(i));
  const reviews = podCases.map(([ask]) =>
    JSON.stringify({
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: {
        user: ask.user,
        groups: ask.groups,
        resourceAttributes: {
          namespace: ask.namespace,
          verb: "get",
          version: "v1",
          resource: "pods",
          subresource: "log",
          name: (ask as { name: string }).name,
        },
      },
    }),
  );
  const expectAllowed = (d: { allowed: boolean; reason: string }) => {
    if (!d.allowed) throw new Error(`the in-process benchmark's own case was not allowed: ${d.reason}`);
  };
  const getLog = time(N, 2000, (i) => expectAllowed(decide(podCases[i]![0], podCases[i]![1], view, now)));
  const list = time(N, 2000, (i) => expectAllowed(decide(listCases[i]![0], listCases[i]![1], view, now)));
  const withParse = time(N, 2000, (i) => {
    const ask = askOf(parseReview(JSON.parse(reviews[i]!))!)!;
    expectAllowed(decide(ask, podCases[i]![1], view, now));
  });
  return {
    workloads: namespaces * perNamespace,
    pods: pods.length,
    namespaces,
    getLogUs: stats(getLog),
    listBySelectorUs: stats(list),
    getLogWithParseUs: stats(withParse),
  };
}

// ---- (b) and (c) on a control plane ----

/** Not podlogreader's: a ServiceAccount RBAC lets get, list and watch pods and get pods/log in the namespace. */
const NAMESPACE_READER = "bench-namespace-log-reader";

async function namespaceReader(api: KubeApi, ns: string): Promise<void> {
  await api.create(ServiceAccounts, ns, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: NAMESPACE_READER } });
  await api.create(Roles, ns, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: NAMESPACE_READER },
    rules: [{ apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"] }],
  });
  await api.create(RoleBindings, ns, {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: NAMESPACE_READER },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: NAMESPACE_READER },
    subjects: [{ kind: "ServiceAccount", name: NAMESPACE_READER, namespace: ns }],
  });
}

type Attributes = Record<string, unknown>;
const review = (ns: string, serviceAccount: string, attributes: Attributes) => ({
  apiVersion: "authorization.k8s.io/v1",
  kind: "SubjectAccessReview",
  spec: { user: `system:serviceaccount:${ns}:${serviceAccount}`, groups: GROUPS(ns), resourceAttributes: { namespace: ns, ...attributes } },
});

/**
 * Open loop: review i is sent at start + i / rate whether or not earlier ones have answered, so a
 * slow answer does not slow the offered rate; each is timed from when it was sent.
 */
async function paced(rate: number, seconds: number, send: (i: number) => Promise<boolean>) {
  const total = Math.round(rate * seconds);
  const ms: number[] = [];
  let allowed = 0;
  let errors = 0;
  let firstError: string | undefined;
  const inflight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await Bun.sleep(wait);
    const sent = performance.now();
    inflight.push(
      send(i).then(
        (ok) => {
          ms.push(performance.now() - sent);
          if (ok) allowed++;
        },
        (err: unknown) => {
          errors++;
          firstError ??= (err as Error).message;
        },
      ),
    );
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  return {
    achievedPerSecond: round(ms.length / elapsed, 1),
    allowed,
    reviews: total,
    errors,
    ...(firstError ? { firstError } : {}),
    ms: stats(ms),
  };
}

/** CPU seconds a process has used so far (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function throughApiserver(
  env: Env,
  controllerPid: number,
  ns: string,
  apps: string[],
  podsOf: Map<string, string[]>,
  rates: number[],
  seconds: number,
) {
  const pick = (i: number) => {
    const app = apps[i % apps.length]!;
    const pods = podsOf.get(app)!;
    return { app, pod: pods[Math.floor(i / apps.length) % pods.length]! };
  };
  const pids: Record<string, number> = {
    podlogreader: controllerPid,
    "kube-apiserver": env.cluster.pids["kube-apiserver"],
    etcd: env.cluster.pids.etcd,
    "the benchmark": process.pid,
  };
  const phases: AuthorizerResult["throughApiserver"]["phases"] = [];
  const ask = (bodyOf: (i: number) => object) => async (i: number) => {
    const r = (await env.api.review(SubjectAccessReviews, bodyOf(i) as Parameters<KubeApi["review"]>[1])) as {
      status?: { allowed?: boolean };
    };
    return r.status?.allowed === true;
  };
  const run = async (
    name: string,
    path: AuthorizerResult["throughApiserver"]["phases"][number]["path"],
    rate: number,
    bodyOf: (i: number) => object,
    send = ask(bodyOf),
  ) => {
    await paced(rate, 2, send); // warm-up, not counted
    const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
    const result = await paced(rate, seconds, send);
    const cpuMsPerReview = Object.fromEntries(
      Object.entries(pids).map(([k, pid]) => [k, round(((cpuSeconds(pid) - before[k]!) * 1000) / result.reviews, 3)]),
    );
    phases.push({ name, path, offeredPerSecond: rate, ...result, cpuMsPerReview });
  };
  for (const rate of rates) {
    await run("get pods/log by the workload's ServiceAccount (RBAC: no opinion; the webhook allows)", "webhook", rate, (i) => {
      const { app, pod } = pick(i);
      return review(ns, managedName("Deployment", app), { verb: "get", resource: "pods", subresource: "log", name: pod });
    });
    await run("list pods -l app=NAME by the workload's ServiceAccount (the webhook lists the pods and allows)", "webhook", rate, (i) => {
      const { app } = pick(i);
      return review(ns, managedName("Deployment", app), {
        verb: "list",
        resource: "pods",
        labelSelector: { requirements: [{ key: "app", operator: "In", values: [app] }] },
      });
    });
    await run("get pods/log by a namespace-wide reader (RBAC allows; the webhook is not called)", "RBAC alone", rate, (i) => {
      const { pod } = pick(i);
      return review(ns, NAMESPACE_READER, { verb: "get", resource: "pods", subresource: "log", name: pod });
    });
    await run(
      "get pods/log by a ServiceAccount no binding names (the webhook is called, reads nothing, has no opinion)",
      "webhook, no read",
      rate,
      (i) => {
        const { pod } = pick(i);
        return review(ns, "default", { verb: "get", resource: "pods", subresource: "log", name: pod });
      },
    );
    // Not a review: the webhook's own read of a pod, alone, so its share of the apiserver's and etcd's CPU shows.
    await run(
      "GET of a pod as PartialObjectMetadata by admin (the webhook's own read, alone; not a review)",
      "the read alone",
      rate,
      () => ({}),
      async (i) => {
        await env.api.getMetadata(Pods, ns, pick(i).pod);
        return true;
      },
    );
  }
  return phases;
}

async function kubectlLogs(env: Env, ns: string, pod: string, ownServiceAccount: string, runs: number) {
  const dir = mkdtempSync(join(tmpdir(), "podlogreader-authz-bench-"));
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
  const [own, wide] = [await kubeconfigOf(ownServiceAccount), await kubeconfigOf(NAMESPACE_READER)];
  const kubectl = join(env.cluster.binDir, "kubectl");
  let failures = 0;
  const logs = async (kubeconfig: string) => {
    const started = performance.now();
    const proc = Bun.spawn([kubectl, "--kubeconfig", kubeconfig, "-n", ns, "logs", pod, "--tail=1"], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    if (code !== 0) {
      failures++;
      process.stderr.write(`bench: kubectl logs ${pod} failed: ${stderr.trim().split("\n")[0]}\n`);
    }
    return performance.now() - started;
  };
  const [viaWebhook, viaRbac] = [[] as number[], [] as number[]];
  await logs(own);
  await logs(wide); // warm-up
  // Alternating, so that whatever else the machine does falls on both alike.
  for (let i = 0; i < runs; i++) {
    viaWebhook.push(await logs(own));
    viaRbac.push(await logs(wide));
  }
  const apiOf = (file: string) => new KubeApi(new Transport(loadConnection({ kubeconfig: file })));
  const [ownApi, wideApi] = [apiOf(own), apiOf(wide)];
  const get = async (api: KubeApi) => {
    const started = performance.now();
    try {
      const body = await api.stream(Pods, ns, pod, "log", { tailLines: 1 });
      await new Response(body).text();
    } catch (err) {
      failures++;
      process.stderr.write(`bench: GET pods/${pod}/log failed: ${(err as Error).message}\n`);
    }
    return performance.now() - started;
  };
  const getRuns = runs * 10;
  const [getWebhook, getRbac] = [[] as number[], [] as number[]];
  for (let i = 0; i < 20; i++) {
    await get(ownApi);
    await get(wideApi);
  }
  for (let i = 0; i < getRuns; i++) {
    getWebhook.push(await get(ownApi));
    getRbac.push(await get(wideApi));
  }
  const [w, r, gw, gr] = [stats(viaWebhook, 1), stats(viaRbac, 1), stats(getWebhook), stats(getRbac)];
  return {
    runs,
    webhookMs: w,
    rbacMs: r,
    addedP50Ms: round(w.p50 - r.p50, 1),
    logGet: { runs: getRuns, webhookMs: gw, rbacMs: gr, addedP50Ms: round(gw.p50 - gr.p50, 2), addedP99Ms: round(gw.p99 - gr.p99, 2) },
    failures,
  };
}

export async function authorizerBench(log: (msg: string) => void): Promise<AuthorizerResult> {
  log("authorizer: the decision in-process, 100 workloads and 1,000 pods in 10 namespaces");
  const local = inProcess();
  const rates = (process.env.AUTHORIZER_RATES || "100,250,500").split(",").map(Number);
  if (!rates.every((r) => r > 0)) throw new Error("AUTHORIZER_RATES must be positive numbers, e.g. 100,250,500");
  const seconds = numberFromEnv("AUTHORIZER_SECONDS", 10);
  const workloads = numberFromEnv("AUTHORIZER_WORKLOADS", 10);
  const replicas = numberFromEnv("AUTHORIZER_REPLICAS", 3);
  const runs = numberFromEnv("AUTHORIZER_KUBECTL_RUNS", 30);
  const before = round(loadavg()[0]!, 2);
  return withCluster(
    async (env) => {
      const ns = await namespace(env.api, "authz");
      const apps = Array.from({ length: workloads }, (_, i) => `app${i}`);
      await forEachLimit(apps, 8, (d) => env.api.create(Deployments, ns, deployment(d, replicas)));
      await namespaceReader(env.api, ns);
      const a = env.cluster.authorizer!;
      const ctl = await startController(env, [
        "--namespace",
        ns,
        "--create-sa-and-rolebinding",
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
      ]);
      try {
        const podsOf = await until(
          "every pod to run",
          async () => {
            const { items } = await env.api.list(Pods, { namespace: ns });
            const running = (
              items as { metadata: { name: string; labels?: Record<string, string> }; status?: { phase?: string } }[]
            ).filter((p) => p.status?.phase === "Running");
            if (running.length < workloads * replicas) return undefined;
            const by = new Map<string, string[]>();
            for (const p of running) by.set(p.metadata.labels!.app!, [...(by.get(p.metadata.labels!.app!) ?? []), p.metadata.name]);
            return by;
          },
          180_000,
          500,
        );
        await until(
          "the webhook to allow every workload's ServiceAccount its pods' logs",
          async () => {
            for (const app of apps) {
              const r = (await env.api.review(
                SubjectAccessReviews,
                review(ns, managedName("Deployment", app), {
                  verb: "get",
                  resource: "pods",
                  subresource: "log",
                  name: podsOf.get(app)![0],
                }) as never,
              )) as { status?: { allowed?: boolean } };
              if (!r.status?.allowed) return undefined;
            }
            return true;
          },
          60_000,
          500,
        );
        log(`authorizer: SubjectAccessReviews at ${rates.join(", ")}/s for ${seconds} s per phase, through the apiserver`);
        const phases = await throughApiserver(env, ctl.proc.pid, ns, apps, podsOf, rates, seconds);
        log(`authorizer: kubectl logs POD, ${runs} runs as the workload's ServiceAccount and as a namespace-wide reader`);
        const kubectl = await kubectlLogs(env, ns, podsOf.get(apps[0]!)![0]!, managedName("Deployment", apps[0]!), runs);
        return {
          loadAverage: { before, after: round(loadavg()[0]!, 2) },
          inProcess: local,
          throughApiserver: { workloads, pods: workloads * replicas, rates, seconds, phases },
          kubectlLogs: kubectl,
        };
      } finally {
        await ctl.stop();
      }
    },
    { nodes: 1, authorizer: true },
  );
}
