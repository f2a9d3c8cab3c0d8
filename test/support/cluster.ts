// The control plane a test suite runs against: the one `make cluster` started, if it runs,
// or a private one started here and stopped when the test process exits.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEFAULT_CLUSTER_DIR,
  isRunning,
  readState,
  startCluster,
  stopCluster,
  type ClusterState,
} from "../../scripts/harness/controlplane.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { loadConnection, type Connection } from "../../src/kube/config.ts";
import { Namespaces, ServiceAccounts, type ResourceType } from "../../src/kube/resources.ts";
import { isNotFound, Transport } from "../../src/kube/transport.ts";
import { eventually } from "../../scripts/harness/poll.ts";

export { eventually } from "../../scripts/harness/poll.ts";

/** The field manager of the edits tests make by hand, so they are never taken for podlogreader's. */
export const TEST_FIELD_MANAGER = "podlogreader-test";

export interface TestCluster extends ClusterState {
  caPem: string;
  admin: KubeApi;
}

let cluster: Promise<TestCluster> | undefined;
/** Set when this process started its own control plane, which it must then stop. */
let privateDir: string | undefined;

/**
 * The suite's cluster; the first call decides it. `authorizer`: the apiserver calls
 * podlogreader's webhook (see ClusterOptions.authorizer), so a private one is started unless the
 * `make cluster AUTHORIZER=1` one runs.
 */
export function testCluster(options: { authorizer?: boolean } = {}): Promise<TestCluster> {
  cluster ??= open(options);
  return cluster;
}

async function open(options: { authorizer?: boolean }): Promise<TestCluster> {
  let state = readState(DEFAULT_CLUSTER_DIR);
  if (!state || !isRunning(state) || (options.authorizer && !state.authorizer)) {
    const dir = mkdtempSync(join(tmpdir(), "podlogreader-test-cluster-"));
    privateDir = dir;
    const stop = () => stopCluster(dir);
    process.once("exit", stop);
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        stop();
        process.exit(130);
      });
    }
    state = await startCluster(dir, undefined, { authorizer: options.authorizer });
  }
  const caPem = readFileSync(join(state.dir, "pki", "ca.crt"), "utf8");
  return { ...state, caPem, admin: new KubeApi(new Transport(loadConnection({ kubeconfig: state.kubeconfig }))) };
}

let counter = 0;
const namespaces: string[] = [];

/** A fresh namespace for the calling suite; test/setup.ts deletes it after the run. */
export async function useNamespace(prefix = "t"): Promise<string> {
  const { admin } = await testCluster();
  const name = `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`.slice(0, 63);
  await admin.create(Namespaces, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  namespaces.push(name);
  return name;
}

/**
 * After the run: stops the control plane this process started, or, on the cluster that
 * `make cluster` keeps running, deletes the namespaces the run created.
 */
export async function cleanUpTestCluster(): Promise<void> {
  if (!cluster) return;
  if (privateDir) {
    stopCluster(privateDir);
    return;
  }
  const { admin } = await cluster;
  await Promise.all(namespaces.splice(0).map((name) => admin.delete(Namespaces, undefined, name)));
}

/** A connection that authenticates with a bearer token, verifying the cluster's CA. */
export function tokenConnection(c: TestCluster, token: string): Connection {
  return {
    server: c.server,
    ca: c.caPem,
    authorization: async () => `Bearer ${token}`,
    invalidate() {},
    source: "test token",
  };
}

/** A real token for a ServiceAccount, from the TokenRequest API. */
export async function serviceAccountToken(namespace: string, serviceAccount: string, expirationSeconds = 3600): Promise<string> {
  const { admin } = await testCluster();
  const request = { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds } };
  const response = (await admin.createSubresource(ServiceAccounts, namespace, serviceAccount, "token", request)) as {
    status: { token: string };
  };
  return response.status.token;
}

/** Whether the object exists, as admin. */
export async function exists(rt: ResourceType, namespace: string | undefined, name: string): Promise<boolean> {
  const { admin } = await testCluster();
  try {
    await admin.get(rt, namespace, name);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Waits until the object is gone. */
export function waitUntilGone(rt: ResourceType, namespace: string | undefined, name: string, timeoutMs?: number): Promise<true> {
  return eventually(`${rt.kind} ${name} to be deleted`, async () => (!(await exists(rt, namespace, name)) ? true : undefined), timeoutMs);
}
