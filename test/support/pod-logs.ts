// Pods of the simulated nodes with log lines of their own, served by kwok as a kubelet would.
import { setPodLog } from "../../scripts/harness/simulated-nodes.ts";
import { Pods } from "../../src/kube/resources.ts";
import { eventually, testCluster } from "./cluster.ts";

/**
 * Waits until each pod runs, gives it its own log lines, and waits until kwok serves them (it
 * picks up a new log file after a moment; a client that comes earlier gets a default line).
 * Resolves to each pod's CRI log file, to append to while a test follows it.
 */
export async function withLogs(namespace: string, pods: string[], lines: (pod: string) => string[]): Promise<Map<string, string>> {
  const c = await testCluster();
  const files = new Map<string, string>();
  for (const pod of pods) {
    await eventually(
      `${pod} to run`,
      async () => ((await c.admin.get(Pods, namespace, pod)) as { status?: { phase?: string } }).status?.phase === "Running" || undefined,
    );
    files.set(pod, await setPodLog(c.admin, c.dir, namespace, pod, lines(pod)));
    await eventually(
      `kwok to serve ${pod}'s own log`,
      async () => (await new Response(await c.admin.stream(Pods, namespace, pod, "log", {})).text()).includes(lines(pod)[0]!) || undefined,
    );
  }
  return files;
}
