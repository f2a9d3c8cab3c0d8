// A local Kubernetes cluster for tests and the demo: etcd, kube-apiserver (TLS, RBAC, client CA,
// ServiceAccount issuer), kube-controller-manager, kube-scheduler and kwok simulating the nodes'
// kubelets, on free loopback ports. `make cluster` and the test suites both use this module.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from "node:fs";
import { join, resolve } from "node:path";
import { KubeApi } from "../../src/kube/api.ts";
import { loadConnection } from "../../src/kube/config.ts";
import { ServiceAccounts } from "../../src/kube/resources.ts";
import { Transport } from "../../src/kube/transport.ts";
import { freePort } from "./net.ts";
import { makeCa, openssl, signLeaf } from "./pki.ts";
import { authorizationConfig, webhookKubeconfig } from "../../src/authorizer/config.ts";
import { createNode, installLogsResources, kwokArgs, kwokBinary, nodeIsReady, setDefaultLog, writeKwokConfig } from "./simulated-nodes.ts";

const repoRoot = resolve(import.meta.dir, "../..");
export const DEFAULT_CLUSTER_DIR = join(repoRoot, ".cluster");

export interface ClusterState {
  dir: string;
  binDir: string;
  server: string;
  kubeconfig: string;
  ports: { etcd: number; etcdPeer: number; apiserver: number; kubelet: number };
  /** The executable of each component; kwok lives apart from the Kubernetes binaries. */
  binaries: Record<Component, string>;
  /** The simulated nodes made at start (more can be added with createNode). */
  nodes: string[];
  pids: Record<Component, number>;
  /** The arguments each component was started with, so it can be restarted the same way. */
  args: Record<Component, string[]>;
  /** With ClusterOptions.authorizer: where the apiserver calls podlogreader's webhook, and its certificates. */
  authorizer?: AuthorizerSetup;
}

/** The files `podlogreader run --authorizer-*` needs to serve the webhook the apiserver is configured to call. */
export interface AuthorizerSetup {
  port: number;
  certFile: string;
  keyFile: string;
  clientCaFile: string;
}

type Component = "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "kwok";
/** In start order; stopped in reverse. */
const COMPONENTS: Component[] = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"];

/** Builds (or finds in the cache) the control-plane binaries and returns their directory. */
export function controlPlaneBinDir(): string {
  const script = join(repoRoot, "scripts", "build-control-plane.sh");
  const result = spawnSync("bash", [script], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${script} failed with exit code ${result.status}`);
  return result.stdout.trim().split("\n").at(-1)!;
}

export function readState(dir: string): ClusterState | undefined {
  const file = join(dir, "state.json");
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as ClusterState;
}

/** True when the process `pid` is alive and runs the binary we started. */
function isOurs(pid: number, binary: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.split("\0")[0] === binary;
  } catch {
    return false;
  }
}

export function isRunning(state: ClusterState): boolean {
  return state.binaries !== undefined && COMPONENTS.every((c) => !state.pids[c] || isOurs(state.pids[c], state.binaries[c]));
}

/**
 * CA, the apiserver's serving certificate, an admin client certificate in system:masters, the
 * simulated kubelet's serving certificate and the apiserver's client certificate for it,
 * ServiceAccount keys.
 */
function makePki(pki: string): void {
  mkdirSync(pki, { recursive: true });
  makeCa(pki, "ca", { subject: "/CN=podlogreader-local-ca", days: 3650 });
  const leaf = (name: string, subject: string, extendedKeyUsage: "serverAuth" | "clientAuth", subjectAltName?: string) =>
    signLeaf(pki, name, { subject, ca: "ca", days: 365, subjectAltName, extendedKeyUsage });
  leaf(
    "apiserver",
    "/CN=kube-apiserver",
    "serverAuth",
    "IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc",
  );
  leaf("admin", "/O=system:masters/CN=podlogreader-admin", "clientAuth");
  leaf("kubelet", "/CN=kwok-kubelet", "serverAuth", "IP:127.0.0.1");
  leaf("apiserver-kubelet-client", "/CN=kube-apiserver-kubelet-client", "clientAuth");
  openssl(pki, "genrsa", "-out", "sa.key", "2048");
  openssl(pki, "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub");
}

/**
 * The webhook's serving certificate from the cluster CA, a CA of its own for the one client
 * certificate the apiserver presents to it, and the apiserver's AuthorizationConfiguration.
 */
function makeAuthorizerSetup(pki: string, port: number): AuthorizerSetup {
  makeCa(pki, "authorizer-client-ca", { subject: "/CN=podlogreader-authorizer-client-ca", days: 3650 });
  signLeaf(pki, "authorizer", {
    subject: "/CN=podlogreader-authorizer",
    ca: "ca",
    days: 365,
    subjectAltName: "IP:127.0.0.1,DNS:localhost",
    extendedKeyUsage: "serverAuth",
  });
  const client = signLeaf(pki, "authorizer-client", {
    subject: "/CN=kube-apiserver",
    ca: "authorizer-client-ca",
    days: 365,
    extendedKeyUsage: "clientAuth",
  });
  const kubeconfig = join(pki, "podlogreader-authorizer.kubeconfig");
  const caPem = readFileSync(join(pki, "ca.crt"), "utf8");
  writeFileSync(kubeconfig, webhookKubeconfig(`https://127.0.0.1:${port}`, caPem, { certPem: client.cert, keyPem: client.key }), {
    mode: 0o600,
  });
  writeFileSync(join(pki, "authorization-config.yaml"), authorizationConfig(kubeconfig));
  return {
    port,
    certFile: join(pki, "authorizer.crt"),
    keyFile: join(pki, "authorizer.key"),
    clientCaFile: join(pki, "authorizer-client-ca.crt"),
  };
}

export function kubeconfigYaml(
  server: string,
  caPem: string,
  user: { certPem?: string; keyPem?: string; token?: string },
  namespace?: string,
): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const userLines = user.token
    ? `    token: ${user.token}\n`
    : `    client-certificate-data: ${b64(user.certPem!)}\n    client-key-data: ${b64(user.keyPem!)}\n`;
  return `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(caPem)}
users:
- name: user
  user:
${userLines}contexts:
- name: local
  context:
    cluster: local
    user: user
${namespace ? `    namespace: ${namespace}\n` : ""}current-context: local
`;
}

function startProcess(dir: string, binary: string, name: Component, args: string[]): number {
  mkdirSync(join(dir, "logs"), { recursive: true });
  const out = openSync(join(dir, "logs", `${name}.log`), "a");
  const child = spawn(binary, args, { detached: true, stdio: ["ignore", out, out] });
  closeSync(out);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${name}`);
  return child.pid;
}

async function waitFor(what: string, deadlineMs: number, check: () => Promise<boolean>, logFile: string, pid: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let lastError = "";
  while (Date.now() < deadline) {
    if (isZombie(pid)) {
      lastError = "the process exited";
      break;
    }
    try {
      if (await check()) return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await Bun.sleep(200);
  }
  const tail = logFile && existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n") : "";
  const within = lastError === "the process exited" ? "" : ` within ${deadlineMs / 1000}s`;
  throw new Error(`${what} did not become ready${within}${lastError ? ` (${lastError})` : ""}${tail ? `\n--- ${logFile}\n${tail}` : ""}`);
}

export interface ClusterOptions {
  /** kube-controller-manager's --controllers, e.g. "*,-deployment,-replicaset" when a benchmark plays those controllers itself. */
  controllers?: string;
  /**
   * Run kube-apiserver with --authorization-config: Node, RBAC, then podlogreader's webhook on a
   * free loopback port (not served until a controller is started with state.authorizer).
   */
  authorizer?: boolean;
  /**
   * Simulated nodes to make (default 1). 0 runs neither kube-scheduler nor kwok, so pods stay
   * Pending: benchmarks use it to measure podlogreader rather than the simulation.
   */
  nodes?: number;
}

/** The default log line of a pod that was given no log of its own. */
export const DEFAULT_POD_LOG = "this pod has no log content of its own in the local cluster";

/** Starts a new cluster in `dir`. The caller must not have one running there. */
export async function startCluster(dir: string, binDir = controlPlaneBinDir(), options: ClusterOptions = {}): Promise<ClusterState> {
  const nodeCount = options.nodes ?? 1;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const pki = join(dir, "pki");
  makePki(pki);
  const ports = { etcd: await freePort(), etcdPeer: await freePort(), apiserver: await freePort(), kubelet: await freePort() };
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const kubeconfig = join(dir, "admin.kubeconfig");
  const ca = readFileSync(join(pki, "ca.crt"), "utf8");
  writeFileSync(
    kubeconfig,
    kubeconfigYaml(server, ca, {
      certPem: readFileSync(join(pki, "admin.crt"), "utf8"),
      keyPem: readFileSync(join(pki, "admin.key"), "utf8"),
    }),
    { mode: 0o600 },
  );

  const none = { etcd: 0, "kube-apiserver": 0, "kube-controller-manager": 0, "kube-scheduler": 0, kwok: 0 };
  const state: ClusterState = {
    dir,
    binDir,
    server,
    kubeconfig,
    ports,
    nodes: [],
    binaries: {
      etcd: join(binDir, "etcd"),
      "kube-apiserver": join(binDir, "kube-apiserver"),
      "kube-controller-manager": join(binDir, "kube-controller-manager"),
      "kube-scheduler": join(binDir, "kube-scheduler"),
      kwok: nodeCount > 0 ? kwokBinary() : "",
    },
    pids: { ...none },
    args: { etcd: [], "kube-apiserver": [], "kube-controller-manager": [], "kube-scheduler": [], kwok: [] },
  };
  const save = () => writeFileSync(join(dir, "state.json"), JSON.stringify(state, null, 2));
  const start = (c: Component, args: string[]) => {
    state.args[c] = args;
    return startProcess(dir, state.binaries[c], c, args);
  };
  try {
    if (options.authorizer) state.authorizer = makeAuthorizerSetup(pki, await freePort());
    const etcdUrl = `http://127.0.0.1:${ports.etcd}`;
    const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
    state.pids.etcd = start("etcd", [
      "--name=default",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
    save();
    await waitFor("etcd", 30_000, async () => (await fetch(`${etcdUrl}/health`)).ok, join(dir, "logs", "etcd.log"), state.pids.etcd);

    state.pids["kube-apiserver"] = start("kube-apiserver", [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${ports.apiserver}`,
      `--tls-cert-file=${join(pki, "apiserver.crt")}`,
      `--tls-private-key-file=${join(pki, "apiserver.key")}`,
      `--client-ca-file=${join(pki, "ca.crt")}`,
      ...(state.authorizer ? [`--authorization-config=${join(pki, "authorization-config.yaml")}`] : ["--authorization-mode=RBAC"]),
      "--service-account-issuer=https://kubernetes.default.svc",
      `--service-account-key-file=${join(pki, "sa.pub")}`,
      `--service-account-signing-key-file=${join(pki, "sa.key")}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      // The simulated kubelets serve logs on 127.0.0.1 with a certificate from the cluster CA.
      "--kubelet-preferred-address-types=InternalIP",
      `--kubelet-certificate-authority=${join(pki, "ca.crt")}`,
      `--kubelet-client-certificate=${join(pki, "apiserver-kubelet-client.crt")}`,
      `--kubelet-client-key=${join(pki, "apiserver-kubelet-client.key")}`,
      // A loopback advertise address is refused by the endpoint reconciler; nothing here needs the kubernetes Service endpoints.
      "--endpoint-reconciler-type=none",
      "--allow-privileged=true",
      "--profiling=false",
      "--v=1",
    ]);
    save();
    const transport = new Transport(loadConnection({ kubeconfig }));
    const admin = new KubeApi(transport);
    await waitForApiserver(state, transport);

    state.pids["kube-controller-manager"] = start("kube-controller-manager", [
      `--kubeconfig=${kubeconfig}`,
      "--leader-elect=false",
      "--secure-port=0",
      `--controllers=${options.controllers ?? "*"}`,
      `--service-account-private-key-file=${join(pki, "sa.key")}`,
      `--root-ca-file=${join(pki, "ca.crt")}`,
      "--use-service-account-credentials=false",
      "--profiling=false",
      "--v=1",
      // The default 20 requests/s would make the controller-manager, not podlogreader, the bottleneck of every burst.
      "--kube-api-qps=300",
      "--kube-api-burst=600",
      "--concurrent-deployment-syncs=10",
      "--concurrent-replicaset-syncs=10",
    ]);
    save();
    // The ServiceAccount controller creating "default" shows the controller-manager is working.
    await waitFor(
      "kube-controller-manager",
      60_000,
      async () => {
        await admin.get(ServiceAccounts, "default", "default");
        return true;
      },
      join(dir, "logs", "kube-controller-manager.log"),
      state.pids["kube-controller-manager"],
    );

    if (nodeCount > 0) {
      state.pids["kube-scheduler"] = start("kube-scheduler", [
        `--kubeconfig=${kubeconfig}`,
        "--leader-elect=false",
        "--secure-port=0",
        "--profiling=false",
        "--v=1",
        "--kube-api-qps=300",
        "--kube-api-burst=600",
      ]);
      save();
      await installLogsResources(admin);
      await setDefaultLog(admin, dir, [DEFAULT_POD_LOG]);
      state.pids.kwok = start(
        "kwok",
        kwokArgs({
          kubeconfig,
          config: writeKwokConfig(dir),
          port: ports.kubelet,
          cert: join(pki, "kubelet.crt"),
          key: join(pki, "kubelet.key"),
        }),
      );
      save();
      for (let i = 0; i < nodeCount; i++) {
        const name = `node-${i}`;
        await createNode(admin, name);
        state.nodes.push(name);
      }
      save();
      for (const name of state.nodes) {
        await waitFor(`simulated node ${name}`, 60_000, () => nodeIsReady(admin, name), join(dir, "logs", "kwok.log"), state.pids.kwok);
      }
    }

    writeFileSync(
      join(dir, "env"),
      `# Written by the podlogreader cluster harness; source it to use the local cluster.\n` +
        `export KUBECONFIG='${kubeconfig}'\nexport PATH='${binDir}':"$PATH"\n`,
    );
    return state;
  } catch (err) {
    stopCluster(dir);
    throw err;
  }
}

/** /readyz answers in plain text, which no KubeApi verb reads: this one probe talks to the transport. */
async function waitForApiserver(state: ClusterState, admin: Transport): Promise<void> {
  await waitFor(
    "kube-apiserver",
    90_000,
    async () => {
      const text = await (await admin.request({ path: "/readyz" })).text();
      return text.trim() === "ok";
    },
    join(state.dir, "logs", "kube-apiserver.log"),
    state.pids["kube-apiserver"],
  );
}

/** Stops kube-apiserver and starts it again with the same arguments and port; etcd keeps the data. */
export async function restartApiserver(state: ClusterState): Promise<void> {
  if (!state.args?.["kube-apiserver"]?.length)
    throw new Error(`the cluster in ${state.dir} predates restarts; run make cluster-down && make cluster`);
  stopComponent(state, "kube-apiserver");
  state.pids["kube-apiserver"] = startProcess(state.dir, state.binaries["kube-apiserver"], "kube-apiserver", state.args["kube-apiserver"]);
  writeFileSync(join(state.dir, "state.json"), JSON.stringify(state, null, 2));
  await waitForApiserver(state, new Transport(loadConnection({ kubeconfig: state.kubeconfig })));
}

function stopComponent(state: ClusterState, c: Component): void {
  const pid = state.pids[c];
  const binary = state.binaries?.[c] ?? join(state.binDir, c);
  if (!pid || !binary || !isOurs(pid, binary)) return;
  signal(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (isOurs(pid, binary) && !isZombie(pid)) {
    if (Date.now() > deadline) {
      signal(pid, "SIGKILL");
      break;
    }
    Bun.sleepSync(50);
  }
}

/** Stops exactly the processes recorded in `dir`, by PID, and removes the directory. Synchronous so it can run on exit. */
export function stopCluster(dir: string): void {
  const state = readState(dir);
  if (state) {
    // Dependents first, each given 10 s to exit before SIGKILL: the apiserver needs etcd to shut down cleanly.
    for (const c of [...COMPONENTS].reverse()) stopComponent(state, c);
  }
  rmSync(dir, { recursive: true, force: true });
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

function isZombie(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z") ?? false;
  } catch {
    return true;
  }
}
