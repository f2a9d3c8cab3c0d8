// `bun scripts/cluster.ts up|down|status|pod-log` — the local cluster behind `make cluster`.
import { join } from "node:path";
import { KubeApi } from "../src/kube/api.ts";
import { loadConnection } from "../src/kube/config.ts";
import { Transport } from "../src/kube/transport.ts";
import { DEFAULT_CLUSTER_DIR, isRunning, readState, startCluster, stopCluster } from "./harness/controlplane.ts";
import { setPodLog } from "./harness/simulated-nodes.ts";

const dir = process.env.PODLOGREADER_CLUSTER_DIR ?? DEFAULT_CLUSTER_DIR;
const command = process.argv[2];

switch (command) {
  case "up": {
    const state = readState(dir);
    if (state && isRunning(state)) {
      console.log(`A local cluster is already running at ${state.server}; reusing it.`);
    } else {
      if (state) {
        console.log("Found a stopped or partial local cluster; cleaning it up first.");
        stopCluster(dir);
      }
      const started = await startCluster(dir, undefined, { authorizer: process.env.AUTHORIZER === "1" });
      console.log(`Local cluster running at ${started.server} (logs in ${join(dir, "logs")}).`);
      const a = started.authorizer;
      if (a)
        console.log(
          `The apiserver calls podlogreader's authorizer: run it with --authorizer-addr=127.0.0.1:${a.port} ` +
            `--authorizer-tls-cert-file=${a.certFile} --authorizer-tls-key-file=${a.keyFile} ` +
            `--authorizer-client-ca-file=${a.clientCaFile}`,
        );
    }
    console.log(`Use it with:  source ${join(dir, "env")} && kubectl get ns`);
    break;
  }
  case "down": {
    const state = readState(dir);
    stopCluster(dir);
    console.log(state ? "Local cluster stopped and its data removed." : "No local cluster was running.");
    break;
  }
  case "status": {
    const state = readState(dir);
    console.log(state && isRunning(state) ? `running at ${state.server}` : "not running");
    process.exit(state && isRunning(state) ? 0 : 1);
    break;
  }
  case "pod-log": {
    // pod-log NAMESPACE POD LINE...: what `kubectl logs` prints for the pod from now on.
    const [namespace, pod, ...lines] = process.argv.slice(3);
    const state = readState(dir);
    if (!namespace || !pod || lines.length === 0) {
      console.error("usage: bun scripts/cluster.ts pod-log NAMESPACE POD LINE...");
      process.exit(2);
    }
    if (!state || !isRunning(state)) {
      console.error(`no local cluster is running in ${dir}`);
      process.exit(1);
    }
    const admin = new KubeApi(new Transport(loadConnection({ kubeconfig: state.kubeconfig })));
    console.log(`${namespace}/${pod} logs from ${await setPodLog(admin, dir, namespace, pod, lines)}`);
    break;
  }
  default:
    console.error("usage: bun scripts/cluster.ts up|down|status|pod-log NAMESPACE POD LINE...");
    process.exit(2);
}
