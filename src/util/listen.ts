// Binding an HTTP server (Bun.serve) to an address given on the command line, for the metrics and
// probe endpoints and for the webhook authorizer alike.
import type { TLSOptions } from "bun";
import { messageOf } from "./errors.ts";

export interface ListenAddress {
  /** Empty: every IPv4 address. */
  host: string;
  /** 0: any free port. */
  port: number;
}

export interface HttpServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  stop(): Promise<void>;
}

/** Serves `fetch` on `addr`; throws naming `what` and the address when it cannot bind. `shown` is HOST:PORT for a log line. */
export function listen(
  what: string,
  addr: ListenAddress,
  options: { fetch(req: Request): Response | Promise<Response>; tls?: TLSOptions },
): HttpServer & { shown: string } {
  const hostname = addr.host || "0.0.0.0";
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({ hostname, port: addr.port, ...(options.tls ? { tls: options.tls } : {}), fetch: options.fetch });
  } catch (err) {
    throw new Error(`cannot serve ${what} on ${addr.host}:${addr.port}: ${messageOf(err)}`, { cause: err });
  }
  const port = server.port ?? addr.port;
  return {
    port,
    shown: `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`,
    async stop() {
      await server.stop(true);
    },
  };
}
