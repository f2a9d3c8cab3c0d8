// The Events the controller records, as a person reading `kubectl get events` sees them.
import type { CoreV1Event } from "@kubernetes/client-node";
import { Events } from "../../src/kube/resources.ts";
import { testCluster } from "./cluster.ts";

/** The reasons of the Warning Events about the object named `involvedName` in the namespace. */
export async function warningReasons(namespace: string, involvedName: string): Promise<string[]> {
  const { admin } = await testCluster();
  const { items } = await admin.list(Events, { namespace });
  return (items as CoreV1Event[]).filter((e) => e.type === "Warning" && e.involvedObject?.name === involvedName).map((e) => e.reason ?? "");
}
