// The address the apiserver calls for podlogreader's webhook authorizer, served by the chaos
// process itself: a TLS-terminating front with the authorizer's own serving certificate, which
// asks for the apiserver's client certificate (signed by the authorizer's client CA) as the
// controller does. Healthy, it forwards each review, over TLS with the apiserver's client
// certificate, to a replica's --authorizer-addr, trying the other replica when one does not answer
// within a second or is not ready (as a Service routes to ready endpoints only). Faulted, it:
//   - kill: stops listening, so the apiserver's connections are refused;
//   - pause: accepts and reads each review, and answers nothing until well after the apiserver's
//     timeout (3s, src/authorizer/config.ts);
//   - slow: forwards, and hands the replica's answer back after a delay just under or over it;
//   - garbage: answers 200 with something that is not a SubjectAccessReview decision (see GARBAGE).
// A SubjectAccessReview carries no request uid to mismatch: an "allowed" for another request is
// indistinguishable from the webhook's own decision, so it is not a fault the front can play.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Server } from "bun";
import { AUTHORIZE_PATH } from "../../src/authorizer/server.ts";
import type { AuthorizerSetup } from "../harness/controlplane.ts";
import type { Random } from "./random.ts";

/** The apiserver's webhook timeout (AuthorizationConfiguration, src/authorizer/config.ts). */
export const WEBHOOK_TIMEOUT_MS = 3000;
/** How long a paused front holds a review: well past the apiserver's timeout. */
export const PAUSE_HOLD_MS = WEBHOOK_TIMEOUT_MS + 5000;
/** Slow answers: just under the timeout (may arrive in time), and over it (never in time). */
export const SLOW_DELAYS_MS = [2600, 3300, 5000] as const;
const FORWARD_TIMEOUT_MS = 1000;
const NOT_READY = "caches have not synced";

/** Answers that are no decision; each that carries `allowed: true` carries it where the apiserver must not read it. */
export const GARBAGE = [
  "not-json",
  "truncated",
  "empty",
  "wrong-kind",
  "wrong-api-version",
  "allowed-misplaced",
  "allowed-as-string",
  "error-status",
] as const;
export type Garbage = (typeof GARBAGE)[number];

export type FrontMode =
  | { kind: "healthy" }
  | { kind: "kill" }
  | { kind: "pause" }
  | { kind: "slow"; delayMs: number }
  | { kind: "garbage"; garbage: Garbage };

export function describeMode(m: FrontMode): string {
  return m.kind === "slow" ? `slow (${m.delayMs}ms)` : m.kind === "garbage" ? `garbage (${m.garbage})` : m.kind;
}

/** Whether every answer in this mode misses the apiserver's timeout or is not a decision: the Roles alone must then decide. */
export function answersNothing(m: FrontMode): boolean {
  return m.kind === "kill" || m.kind === "pause" || m.kind === "garbage" || (m.kind === "slow" && m.delayMs > WEBHOOK_TIMEOUT_MS);
}

const ALLOWED = { apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", status: { allowed: true, reason: "chaos garbage" } };
const json = (body: unknown, status = 200) =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

export function garbageResponse(g: Garbage): Response {
  switch (g) {
    case "not-json":
      return new Response("<html><body>502 Bad Gateway</body></html>\n", { status: 200, headers: { "Content-Type": "text/html" } });
    case "truncated":
      return json(JSON.stringify(ALLOWED).slice(0, 60));
    case "empty":
      return json("");
    case "wrong-kind":
      return json({ ...ALLOWED, kind: "TokenReview", status: { allowed: true, authenticated: true } });
    case "wrong-api-version":
      return json({ ...ALLOWED, apiVersion: "authorization.k8s.io/v2" });
    case "allowed-misplaced":
      return json({
        apiVersion: ALLOWED.apiVersion,
        kind: ALLOWED.kind,
        allowed: true,
        spec: { allowed: true },
        status: { reason: "allowed outside status" },
      });
    case "allowed-as-string":
      return json({ ...ALLOWED, status: { allowed: "true", reason: "a string, not a boolean" } });
    case "error-status":
      return json(ALLOWED, 500);
  }
}

/** One review's answer in `mode`: `forward` asks a replica. Kill has no answer (nothing listens); one that slips in gets a 503. */
export async function frontAnswer(
  mode: FrontMode,
  body: string,
  forward: (body: string) => Promise<Response>,
  sleep: (ms: number) => Promise<unknown>,
): Promise<Response> {
  switch (mode.kind) {
    case "healthy":
      return forward(body);
    case "kill":
      return new Response("killed\n", { status: 503 });
    case "pause":
      await sleep(PAUSE_HOLD_MS);
      return new Response("paused\n", { status: 503 });
    case "slow": {
      const answer = await forward(body);
      const text = await answer.text();
      await sleep(mode.delayMs);
      return new Response(text, { status: answer.status, headers: answer.headers });
    }
    case "garbage":
      return garbageResponse(mode.garbage);
  }
}

/** The chaos operations that fault the webhook (plan.ts draws them, webhook-faults.ts carries them out). */
export const WEBHOOK_FAULTS = ["webhook-kill", "webhook-pause", "webhook-slow", "webhook-garbage"] as const;
export type WebhookFaultType = (typeof WEBHOOK_FAULTS)[number];
export type WebhookFaultOp = { index: number; type: WebhookFaultType; ms: number; pick: number };

/** Always two numbers drawn: how long, and which delay or garbage. */
export function drawWebhookFault(rng: Random, index: number, type: WebhookFaultType): WebhookFaultOp {
  return { index, type, ms: rng.between(3000, 15000), pick: rng.int(1000) };
}

export function modeOf(op: Pick<WebhookFaultOp, "type" | "pick">): FrontMode {
  switch (op.type) {
    case "webhook-kill":
      return { kind: "kill" };
    case "webhook-pause":
      return { kind: "pause" };
    case "webhook-slow":
      return { kind: "slow", delayMs: SLOW_DELAYS_MS[op.pick % SLOW_DELAYS_MS.length]! };
    case "webhook-garbage":
      return { kind: "garbage", garbage: GARBAGE[op.pick % GARBAGE.length]! };
  }
}

export class AuthorizerFront {
  private server: Server<unknown> | undefined;
  private mode: FrontMode = { kind: "healthy" };
  private next = 0;
  private readonly tls: { cert: string; key: string; ca: string };
  private readonly client: { cert: string; key: string; ca: string };
  /** Reviews received, and those answered in a faulted mode. */
  reviews = 0;
  faulted = 0;

  /** `replicaPorts`: where each replica serves --authorizer-addr. */
  constructor(
    private readonly setup: AuthorizerSetup,
    private readonly replicaPorts: number[],
  ) {
    const pki = dirname(setup.certFile);
    const read = (f: string) => readFileSync(f, "utf8");
    this.tls = { cert: read(setup.certFile), key: read(setup.keyFile), ca: read(setup.clientCaFile) };
    this.client = {
      cert: read(join(pki, "authorizer-client.crt")),
      key: read(join(pki, "authorizer-client.key")),
      ca: read(join(pki, "ca.crt")),
    };
    this.listen();
  }

  get current(): FrontMode {
    return this.mode;
  }

  private listen(): void {
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: this.setup.port,
      tls: { ...this.tls, requestCert: true, rejectUnauthorized: true },
      idleTimeout: Math.ceil(PAUSE_HOLD_MS / 1000) + 10,
      fetch: async (req) => {
        if (new URL(req.url).pathname !== AUTHORIZE_PATH) return new Response("not found\n", { status: 404 });
        this.reviews++;
        const mode = this.mode;
        if (mode.kind !== "healthy") this.faulted++;
        return frontAnswer(mode, await req.text(), (b) => this.forward(b), Bun.sleep);
      },
    });
  }

  /** Enters `mode`; kill stops listening, leaving it listens again on the same port. */
  async set(mode: FrontMode): Promise<void> {
    if (mode.kind === "kill" && this.server) {
      this.server.stop(true);
      this.server = undefined;
    }
    this.mode = mode;
    if (mode.kind !== "kill" && !this.server) {
      for (let attempt = 0; ; attempt++) {
        try {
          this.listen();
          return;
        } catch (err) {
          if (attempt >= 40)
            throw new Error(`the authorizer front cannot listen on 127.0.0.1:${this.setup.port} again: ${(err as Error).message}`);
          await Bun.sleep(250);
        }
      }
    }
  }

  /** The first replica (in turn) that answers and is ready; 503 when none does. */
  private async forward(body: string): Promise<Response> {
    const start = this.next++;
    let last: Response | undefined;
    for (let i = 0; i < this.replicaPorts.length; i++) {
      const port = this.replicaPorts[(start + i) % this.replicaPorts.length]!;
      try {
        const r = await fetch(`https://127.0.0.1:${port}${AUTHORIZE_PATH}`, {
          method: "POST",
          body,
          headers: { "Content-Type": "application/json" },
          tls: this.client,
          signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
        });
        const text = await r.text();
        last = json(text, r.status);
        if (r.ok && !text.includes(NOT_READY)) return last;
      } catch {
        // Down, paused, or restarting: the other replica.
      }
    }
    return last ?? new Response("no replica answered\n", { status: 503 });
  }

  stop(): void {
    this.server?.stop(true);
    this.server = undefined;
  }
}
