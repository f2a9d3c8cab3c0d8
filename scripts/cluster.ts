// `bun scripts/cluster.ts up|down|status` — the local control plane behind `make cluster`.
import { join } from "node:path";
import { DEFAULT_CLUSTER_DIR, isRunning, readState, startCluster, stopCluster } from "./lib/controlplane.ts";

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
      const started = await startCluster(dir);
      console.log(`Local cluster running at ${started.server} (logs in ${join(dir, "logs")}).`);
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
  }
  default:
    console.error("usage: bun scripts/cluster.ts up|down|status");
    process.exit(2);
}
