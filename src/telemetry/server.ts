// The HTTP endpoints: /metrics on the metrics address, /healthz and /readyz on the health probe
// address (controller-runtime's --metrics-bind-address and --health-probe-bind-address), or all
// three on one address (the deprecated --http-addr).
import type { Logger } from "../log.ts";
import { runChecks, type HealthCheck } from "./health.ts";
import type { Metrics } from "./metrics.ts";
import { listen, type HttpServer, type ListenAddress } from "../util/listen.ts";

export type { HttpServer, ListenAddress };

export type Routes = Record<string, (req: Request) => Response | Promise<Response>>;

const text = (body: string, status = 200) =>
  new Response(`${body}\n`, { status, headers: { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" } });

export function metricsRoutes(metrics: Metrics): Routes {
  return {
    "/metrics": async () => new Response(await metrics.registry.metrics(), { headers: { "Content-Type": metrics.registry.contentType } }),
  };
}

/**
 * /healthz runs the liveness checks and /readyz the readiness checks; each answers 200 "ok" or 500
 * with the list of checks. `?verbose` lists them always; `?exclude=NAME` skips one, and
 * /healthz/NAME or /readyz/NAME runs one alone, as in Kubernetes components.
 */
export function probeRoutes(checks: { liveness: HealthCheck[]; readiness: HealthCheck[] }): Routes {
  const routes: Routes = {};
  for (const [endpoint, list] of [
    ["healthz", checks.liveness],
    ["readyz", checks.readiness],
  ] as const) {
    const handler = (only: readonly HealthCheck[]) => async (req: Request) => {
      const query = new URL(req.url).searchParams;
      const report = await runChecks(only, endpoint, query.has("verbose"), query.getAll("exclude"));
      return text(report.body, report.ok ? 200 : 500);
    };
    routes[`/${endpoint}`] = handler(list);
    for (const c of list) routes[`/${endpoint}/${c.name}`] = handler([c]);
  }
  return routes;
}

/** Serves `routes` on `addr`; throws with the address in the message when it cannot bind. */
export function serveHttp(what: string, addr: ListenAddress, routes: Routes, log: Logger): HttpServer {
  const server = listen(what, addr, {
    fetch(req) {
      const route = routes[new URL(req.url).pathname];
      return route ? route(req) : text("not found", 404);
    },
  });
  log.info(
    `Serving ${Object.keys(routes)
      .filter((p) => p.split("/").length === 2)
      .join(", ")} on ${server.shown}`,
  );
  return server;
}

/**
 * Starts the servers the flags ask for: metrics and probes each on its own address, and all of
 * them on `combined` (the deprecated --http-addr). Stops what started if one cannot bind.
 */
export function serveEndpoints(
  addresses: { metrics?: ListenAddress; probes?: ListenAddress; combined?: ListenAddress },
  metrics: Metrics,
  checks: { liveness: HealthCheck[]; readiness: HealthCheck[] },
  log: Logger,
): HttpServer[] {
  const wanted: [string, ListenAddress | undefined, Routes][] = [
    ["metrics", addresses.metrics, metricsRoutes(metrics)],
    ["health probes", addresses.probes, probeRoutes(checks)],
    ["metrics and health probes", addresses.combined, { ...metricsRoutes(metrics), ...probeRoutes(checks) }],
  ];
  const servers: HttpServer[] = [];
  try {
    for (const [what, addr, routes] of wanted) if (addr) servers.push(serveHttp(what, addr, routes, log));
  } catch (err) {
    for (const s of servers) void s.stop();
    throw err;
  }
  return servers;
}
