// The client every command that talks to a cluster builds from --kubeconfig and --context, and
// the namespace it works in: -n, else the kubeconfig context's, else default (as kubectl does).
import { KubeApi } from "../kube/api.ts";
import { loadConnection, type Connection } from "../kube/config.ts";
import { Transport } from "../kube/transport.ts";

export function connect(flags: { kubeconfig?: string; context?: string; namespace?: string }): {
  api: KubeApi;
  connection: Connection;
  namespace: string;
} {
  const connection = loadConnection({ kubeconfig: flags.kubeconfig, context: flags.context });
  return { api: new KubeApi(new Transport(connection)), connection, namespace: flags.namespace ?? connection.namespace ?? "default" };
}

/** A failure a command explains in one line, as `podlogreader COMMAND: why`; exit code 1. */
export function failed(program: string, command: string, err: unknown): number {
  process.stderr.write(`${program} ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
}
