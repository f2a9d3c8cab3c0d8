// The webhook the apiserver calls: POST /authorize with a SubjectAccessReview, over TLS, from a
// caller that presents a client certificate signed by the client CA. A caller without one does
// not finish the TLS handshake, and so learns nothing (no oracle).
import type { Logger } from "../log.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { listen, type HttpServer, type ListenAddress } from "../util/listen.ts";
import { authorize } from "./authorize.ts";
import type { Ask, Evidence, View } from "./decide.ts";
import { reviewResponse } from "./review.ts";
import { messageOf } from "../util/errors.ts";

export const AUTHORIZE_PATH = "/authorize";
/** A SubjectAccessReview is a few KiB; anything much larger is not one. */
const MAX_BODY_BYTES = 256 * 1024;

export interface AuthorizerTls {
  certFile: string;
  keyFile: string;
  /** Client certificates must be signed by this CA. */
  clientCaFile: string;
}

export interface AuthorizerDeps {
  view: View;
  gather: (ask: Ask) => Promise<Evidence>;
  /** The controller's caches have all listed once; before that, every answer is NoOpinion. */
  ready: () => boolean;
  now?: () => number;
  metrics?: Pick<Metrics, "authorizerDecisions">;
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

/** Answers one HTTP request; only POST /authorize with a JSON body gets a decision. */
export async function handle(req: Request, deps: AuthorizerDeps, log: Logger): Promise<Response> {
  if (new URL(req.url).pathname !== AUTHORIZE_PATH) return new Response("not found\n", { status: 404 });
  if (req.method !== "POST") return new Response("method not allowed\n", { status: 405, headers: { Allow: "POST" } });
  const length = Number(req.headers.get("content-length") ?? "0");
  if (length > MAX_BODY_BYTES) return new Response("too large\n", { status: 413 });
  let raw: unknown;
  try {
    const text = await req.text();
    if (text.length > MAX_BODY_BYTES) return new Response("too large\n", { status: 413 });
    raw = JSON.parse(text);
  } catch {
    return json(reviewResponse(false, "no opinion: the body is not JSON"));
  }
  if (!deps.ready()) return json(reviewResponse(false, "no opinion: podlogreader's caches have not synced yet"));
  const decision = await authorize(raw, deps.gather, deps.view, deps.now ?? Date.now);
  deps.metrics?.authorizerDecisions.inc({
    request: decision.ask ?? "other",
    decision: decision.allowed ? "allow" : decision.failed ? "error" : "no-opinion",
  });
  const spec = (
    raw as {
      spec?: { user?: unknown; resourceAttributes?: { verb?: unknown; namespace?: unknown; name?: unknown; subresource?: unknown } };
    }
  )?.spec;
  const attrs = spec?.resourceAttributes;
  // A failure to decide is a person's to see (the apiserver, RBAC's answer, then stands); a decision is not.
  (decision.failed ? log.warn : log.debug).call(
    log,
    decision.allowed ? "Allowed" : decision.failed ? "No opinion: deciding failed" : "No opinion",
    {
      user: String(spec?.user ?? ""),
      verb: String(attrs?.verb ?? ""),
      namespace: String(attrs?.namespace ?? ""),
      pod: String(attrs?.name ?? ""),
      subresource: String(attrs?.subresource ?? ""),
      reason: decision.reason,
    },
  );
  return json(reviewResponse(decision.allowed, decision.reason));
}

/** Serves the webhook on `addr` with TLS and client certificates; throws when it cannot. */
export async function serveAuthorizer(addr: ListenAddress, tls: AuthorizerTls, deps: AuthorizerDeps, log: Logger): Promise<HttpServer> {
  const read = async (file: string, what: string) => {
    try {
      return await Bun.file(file).text();
    } catch (err) {
      throw new Error(`cannot read the authorizer's ${what} ${file}: ${messageOf(err)}`, { cause: err });
    }
  };
  const [cert, key, ca] = await Promise.all([
    read(tls.certFile, "certificate"),
    read(tls.keyFile, "key"),
    read(tls.clientCaFile, "client CA"),
  ]);
  const server = listen("the authorizer", addr, {
    tls: { cert, key, ca, requestCert: true, rejectUnauthorized: true },
    fetch: (req) => handle(req, deps, log),
  });
  log.info(`Serving the authorizer webhook on https://${server.shown}${AUTHORIZE_PATH}`);
  return server;
}
