// A validating admission webhook served by the chaos process itself, over TLS with a certificate
// from a CA it makes with openssl: on /refuse/<code> it refuses every request it is sent
// (allowed: false with that status code), on /hang it never answers before the apiserver gives up. What
// it is sent is decided by the ValidatingWebhookConfiguration that admission.ts installs.
import type { Server } from "bun";
import { makeCa, signLeaf } from "../harness/pki.ts";
import { HANG_TIMEOUT_SECONDS, REFUSAL_MARK } from "./refusals.ts";

interface AdmissionReview {
  request?: { uid?: string; operation?: string; kind?: { kind?: string }; name?: string; namespace?: string };
}

/** The answer to one review: a refusal with `code`, as the apiserver expects it. */
export function refusalReview(uid: string, code: number, what: string): object {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: { uid, allowed: false, status: { code, message: `${REFUSAL_MARK}: this period answers ${code} to ${what}` } },
  };
}

export class RefusalWebhook {
  private constructor(
    private readonly server: Server<unknown>,
    readonly caBundle: string,
  ) {}

  /** Makes a CA and a serving certificate for 127.0.0.1 in `dir`, and starts serving. */
  static start(dir: string): RefusalWebhook {
    const ca = makeCa(dir, "webhook-ca", { subject: "/CN=chaos-webhook-ca", days: 2, keyType: "ec" });
    const leaf = signLeaf(dir, "webhook", {
      subject: "/CN=127.0.0.1",
      ca: "webhook-ca",
      days: 2,
      keyType: "ec",
      subjectAltName: "IP:127.0.0.1",
      extendedKeyUsage: "serverAuth",
    });
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: leaf,
      // The hanging answer must outlast the apiserver's timeout.
      idleTimeout: HANG_TIMEOUT_SECONDS + 30,
      async fetch(req) {
        const url = new URL(req.url);
        const review = (await req.json().catch(() => ({}))) as AdmissionReview;
        const r = review.request ?? {};
        const what = `${r.operation ?? "?"} ${r.kind?.kind ?? "?"} ${r.namespace ?? ""}/${r.name ?? ""}`;
        if (url.pathname === "/hang") {
          await Bun.sleep((HANG_TIMEOUT_SECONDS + 3) * 1000);
          return Response.json(refusalReview(r.uid ?? "", 500, what));
        }
        return Response.json(refusalReview(r.uid ?? "", Number(url.pathname.split("/")[2] ?? 403) || 403, what));
      },
    });
    return new RefusalWebhook(server, Buffer.from(ca.cert).toString("base64"));
  }

  /** Where the apiserver sends the reviews of a period answering `answer`. */
  url(answer: number | "hang"): string {
    // A webhook URL may not carry a query.
    return `https://127.0.0.1:${this.server.port}/${answer === "hang" ? "hang" : `refuse/${answer}`}`;
  }

  stop(): void {
    this.server.stop(true);
  }
}
