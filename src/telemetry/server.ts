import type { Logger } from "../log.ts";
import type { Metrics } from "./metrics.ts";

export interface Probes {
  /** The process is alive and its watches are running. */
  healthy(): boolean;
  /** The initial sync is done. */
  ready(): boolean;
}

export interface TelemetryServer {
  port: number;
  stop(): Promise<void>;
}

/** Serves /healthz, /readyz and /metrics on `host:port` (an empty host means every address). */
export function serveTelemetry(addr: { host: string; port: number }, probes: Probes, metrics: Metrics, log: Logger): TelemetryServer {
  const text = (body: string, status = 200) => new Response(`${body}\n`, { status, headers: { "Content-Type": "text/plain; charset=utf-8" } });
  const server = Bun.serve({
    hostname: addr.host || "0.0.0.0",
    port: addr.port,
    async fetch(req) {
      switch (new URL(req.url).pathname) {
        case "/healthz":
          return probes.healthy() ? text("ok") : text("a watch has been failing for over two minutes", 503);
        case "/readyz":
          return probes.ready() ? text("ok") : text("initial sync not done", 503);
        case "/metrics":
          return new Response(await metrics.registry.metrics(), { headers: { "Content-Type": metrics.registry.contentType } });
        default:
          return text("not found", 404);
      }
    },
  });
  log.info(`Serving /healthz, /readyz and /metrics on ${addr.host || "0.0.0.0"}:${server.port}`);
  return {
    port: server.port ?? addr.port,
    async stop() {
      await server.stop(true);
    },
  };
}
