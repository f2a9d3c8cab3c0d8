// Run as `bun test/support/request-once.ts <kubeconfig>`: loads the connection as the binary does,
// sends one GET /version through the Transport and prints {"ok":true} or {"error","message"}.
// Tests run it as a child process to control its environment (NODE_TLS_REJECT_UNAUTHORIZED).
import { loadConnection } from "../../src/kube/config.ts";
import { Transport } from "../../src/kube/transport.ts";

export interface RequestOutcome {
  ok?: true;
  error?: string;
  message?: string;
}

try {
  const transport = new Transport(loadConnection({ kubeconfig: process.argv[2]!, env: {} }));
  await transport.json({ path: "/version" });
  console.log(JSON.stringify({ ok: true }));
} catch (err) {
  console.log(JSON.stringify({ error: (err as Error).name, message: (err as Error).message }));
}
