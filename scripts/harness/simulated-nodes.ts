// Simulated nodes for the local cluster: kwok plays the kubelet of every node annotated
// `kwok.x-k8s.io/node: fake`, so scheduled pods reach Running and the apiserver can fetch their
// logs. Log content comes from CRI-format files named by kwok's Logs/ClusterLogs objects.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { KubeApi, KubeObject } from "../../src/kube/api.ts";
import { Nodes, type ResourceType } from "../../src/kube/resources.ts";
import { isConflict } from "../../src/kube/transport.ts";
import { eventually } from "./poll.ts";

const repoRoot = resolve(import.meta.dir, "../..");
export const KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node";
const KWOK_GROUP = "kwok.x-k8s.io";
const KWOK_VERSION = "v1alpha1";
const Logs: ResourceType = { group: KWOK_GROUP, version: KWOK_VERSION, plural: "logs", kind: "Logs" };
const ClusterLogs: ResourceType = { group: KWOK_GROUP, version: KWOK_VERSION, plural: "clusterlogs", kind: "ClusterLogs" };
const CustomResourceDefinitions: ResourceType = {
  group: "apiextensions.k8s.io",
  version: "v1",
  plural: "customresourcedefinitions",
  kind: "CustomResourceDefinition",
};
/** The field manager of what the local cluster's harness writes. */
const FIELD_MANAGER = "podlogreader-local-cluster";

/** Builds (or finds in the cache) kwok and returns the binary's path. */
export function kwokBinary(): string {
  const script = join(repoRoot, "scripts", "build-tool.sh");
  const result = spawnSync("bash", [script, "kwok"], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${script} kwok failed with exit code ${result.status}`);
  return result.stdout.trim().split("\n").at(-1)!;
}

/**
 * The lifecycle kwok applies: a node becomes Ready with the kubelet endpoint kwok serves, and
 * stays Ready because kwok renews its Lease (kwokArgs) and refreshes its conditions' heartbeat as a
 * kubelet does; a pod bound to one of its nodes goes from Pending to Running with a container ID
 * per container (log clients such as stern skip containers without one); a pod being deleted is
 * removed (there is no kubelet to confirm it). Job pods are not completed on their own: tests decide when.
 */
function stages(): object[] {
  const stage = (name: string, kind: string, selector: object, next: object, delay?: object) => ({
    apiVersion: `${KWOK_GROUP}/${KWOK_VERSION}`,
    kind: "Stage",
    metadata: { name },
    spec: { resourceRef: { apiGroup: "v1", kind }, selector, next, ...(delay ? { delay } : {}) },
  });
  const nodeReady = [
    "conditions:",
    "- type: Ready",
    '  status: "True"',
    "  reason: KubeletReady",
    "  message: simulated by kwok",
    "  lastHeartbeatTime: {{ Now | Quote }}",
    "  lastTransitionTime: {{ Now | Quote }}",
    "addresses:",
    "- type: InternalIP",
    "  address: {{ NodeIP | Quote }}",
    "daemonEndpoints:",
    "  kubeletEndpoint:",
    "    Port: {{ NodePort }}",
    'capacity: {cpu: "1k", memory: 1Ti, pods: "1M"}',
    'allocatable: {cpu: "1k", memory: 1Ti, pods: "1M"}',
    "nodeInfo: {architecture: amd64, operatingSystem: linux, kubeletVersion: kwok}",
    "phase: Running",
  ].join("\n");
  const podRunning = [
    "conditions:",
    '- {type: Initialized, status: "True", lastTransitionTime: {{ Now | Quote }}}',
    '- {type: ContainersReady, status: "True", lastTransitionTime: {{ Now | Quote }}}',
    '- {type: Ready, status: "True", lastTransitionTime: {{ Now | Quote }}}',
    "containerStatuses:",
    "{{ range .spec.containers }}",
    "- name: {{ .name | Quote }}",
    "  image: {{ .image | Quote }}",
    "  ready: true",
    "  started: true",
    "  restartCount: 0",
    "  state: {running: {startedAt: {{ Now | Quote }}}}",
    // A kubelet reports the runtime's ID; a hash of pod UID and container name is unique and stable.
    '  containerID: {{ printf "containerd://%s" (sha256sum (printf "%s/%s" $.metadata.uid .name)) | Quote }}',
    "{{ end }}",
    "hostIP: {{ NodeIP | Quote }}",
    "phase: Running",
    "startTime: {{ Now | Quote }}",
  ].join("\n");
  // The node's conditions re-sent with a fresh heartbeat, as a kubelet reports its status.
  const nodeHeartbeat = [
    "conditions:",
    "{{ range .status.conditions }}",
    "- type: {{ .type | Quote }}",
    "  status: {{ .status | Quote }}",
    "  reason: {{ .reason | Quote }}",
    "  message: {{ .message | Quote }}",
    "  lastHeartbeatTime: {{ Now | Quote }}",
    "  lastTransitionTime: {{ .lastTransitionTime | Quote }}",
    "{{ end }}",
  ].join("\n");
  return [
    stage(
      "node-ready",
      "Node",
      { matchExpressions: [{ key: '.status.conditions.[] | select( .type == "Ready" ) | .status', operator: "NotIn", values: ["True"] }] },
      { statusTemplate: nodeReady },
    ),
    // Liveness itself is the Lease kwok renews every 10 s; this keeps the conditions' heartbeat
    // within kubelet's 5 minute status report interval (delay is a random time between the two values).
    stage(
      "node-heartbeat",
      "Node",
      { matchExpressions: [{ key: '.status.conditions.[] | select( .type == "Ready" ) | .status', operator: "In", values: ["True"] }] },
      { statusTemplate: nodeHeartbeat },
      { durationMilliseconds: 60_000, jitterDurationMilliseconds: 240_000 },
    ),
    stage(
      "pod-running",
      "Pod",
      {
        matchExpressions: [
          { key: ".metadata.deletionTimestamp", operator: "DoesNotExist" },
          { key: ".status.phase", operator: "In", values: ["Pending"] },
        ],
      },
      { statusTemplate: podRunning },
    ),
    stage("pod-delete", "Pod", { matchExpressions: [{ key: ".metadata.deletionTimestamp", operator: "Exists" }] }, { delete: true }),
  ];
}

/** kwok's Logs and ClusterLogs resources, so the harness can set log files while kwok runs. */
function logsCrds(): KubeObject[] {
  const crd = (kind: string, plural: string, scope: "Namespaced" | "Cluster") => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${KWOK_GROUP}` },
    spec: {
      group: KWOK_GROUP,
      scope,
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase() },
      versions: [
        {
          name: KWOK_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
        },
      ],
    },
  });
  return [crd("Logs", "logs", "Namespaced"), crd("ClusterLogs", "clusterlogs", "Cluster")];
}

/** Writes kwok's configuration (the stages) into `dir` and returns its path. */
export function writeKwokConfig(dir: string): string {
  const file = join(dir, "kwok.yaml");
  writeFileSync(
    file,
    `${stages()
      .map((s) => JSON.stringify(s, null, 2))
      .join("\n---\n")}\n`,
  );
  return file;
}

export function kwokArgs(opts: { kubeconfig: string; config: string; port: number; cert: string; key: string }): string[] {
  return [
    `--kubeconfig=${opts.kubeconfig}`,
    `--config=${opts.config}`,
    `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
    "--node-ip=127.0.0.1",
    `--node-port=${opts.port}`,
    `--server-address=127.0.0.1:${opts.port}`,
    `--tls-cert-file=${opts.cert}`,
    `--tls-private-key-file=${opts.key}`,
    "--enable-crds=Logs,ClusterLogs",
    // Without a Lease kube-controller-manager's node monitor sees no heartbeat, sets the node's Ready
    // to Unknown after its 50 s grace period (and its pods' Ready to False); the node-ready stage flips it back.
    // 40 s is kubelet's default; kwok renews every quarter of it.
    "--node-lease-duration-seconds=40",
  ];
}

/** Installs the Logs/ClusterLogs resources and waits until the apiserver serves them. */
export async function installLogsResources(admin: KubeApi): Promise<void> {
  for (const crd of logsCrds()) await createUnlessExists(admin, CustomResourceDefinitions, undefined, crd);
  await eventually(
    "the kwok Logs resources to be served",
    async () => {
      await admin.list(ClusterLogs, { pageSize: 1 });
      return true;
    },
    30_000,
    200,
  );
}

/** A simulated node: kwok manages it because of the annotation; no taints, so any pod may land on it. */
export function simulatedNode(name: string, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { [KWOK_NODE_ANNOTATION]: "fake" },
      labels: { "kubernetes.io/hostname": name, type: "kwok", ...labels },
    },
  };
}

export async function createNode(admin: KubeApi, name: string, labels: Record<string, string> = {}): Promise<void> {
  await createUnlessExists(admin, Nodes, undefined, simulatedNode(name, labels));
}

export async function nodeIsReady(admin: KubeApi, name: string): Promise<boolean> {
  const node = (await admin.get(Nodes, undefined, name)) as { status?: { conditions?: { type: string; status: string }[] } };
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** One line of a container log file in the CRI format kubelets write and kwok reads. */
export function criLogLine(text: string, time = new Date(), stream: "stdout" | "stderr" = "stdout"): string {
  return `${time.toISOString().replace(/Z$/, "000000Z")} ${stream} F ${text}\n`;
}

export function podLogDir(clusterDir: string): string {
  return join(clusterDir, "pod-logs");
}

/**
 * Makes every pod of the cluster that has no log of its own print `lines`, so a log read that is
 * authorized always succeeds. Per-pod logs (setPodLog) take precedence.
 */
export async function setDefaultLog(admin: KubeApi, clusterDir: string, lines: string[]): Promise<void> {
  const file = join(podLogDir(clusterDir), "default.log");
  mkdirSync(podLogDir(clusterDir), { recursive: true });
  writeFileSync(file, lines.map((l) => criLogLine(l)).join(""));
  await upsert(admin, ClusterLogs, undefined, {
    apiVersion: `${KWOK_GROUP}/${KWOK_VERSION}`,
    kind: "ClusterLogs",
    metadata: { name: "default" },
    spec: { logs: [{ logsFile: file }] },
  });
}

/** Points kwok at a CRI log file for one pod (all its containers) and returns the file's path. */
export async function setPodLog(admin: KubeApi, clusterDir: string, namespace: string, pod: string, lines: string[]): Promise<string> {
  const dir = join(podLogDir(clusterDir), namespace);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${pod}.log`);
  writeFileSync(file, lines.map((l) => criLogLine(l)).join(""));
  await upsert(admin, Logs, namespace, {
    apiVersion: `${KWOK_GROUP}/${KWOK_VERSION}`,
    kind: "Logs",
    metadata: { name: pod, namespace },
    spec: { logs: [{ logsFile: file }] },
  });
  return file;
}

async function upsert(admin: KubeApi, rt: ResourceType, namespace: string | undefined, body: KubeObject & { spec: object }): Promise<void> {
  if (await createUnlessExists(admin, rt, namespace, body)) return;
  await admin.mergePatch(rt, namespace, body.metadata!.name!, { spec: body.spec }, { fieldManager: FIELD_MANAGER });
}

/** Creates the object; false when one of its name already exists. Other failures throw. */
async function createUnlessExists(admin: KubeApi, rt: ResourceType, namespace: string | undefined, body: KubeObject): Promise<boolean> {
  try {
    await admin.create(rt, namespace, body, FIELD_MANAGER);
    return true;
  } catch (err) {
    if (isConflict(err)) return false;
    throw err;
  }
}
