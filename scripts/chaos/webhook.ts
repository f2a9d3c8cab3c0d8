// A validating admission webhook served by the chaos process itself, over TLS with a certificate
// from a CA it makes with openssl: on /refuse/<code> it refuses every request it is sent
// (allowed: false with that status code), on /hang it never answers before the apiserver gives up. What
// it is sent is decided by the ValidatingWebhookConfiguration that admission.ts installs.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "bun";
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
    const ca = join(dir, "webhook-ca");
    const leaf = join(dir, "webhook");
    const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      `${ca}.key`,
      "-out",
      `${ca}.crt`,
      "-days",
      "2",
      "-subj",
      "/CN=chaos-webhook-ca",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    );
    openssl("req", ...ec, "-keyout", `${leaf}.key`, "-out", `${leaf}.csr`, "-subj", "/CN=127.0.0.1");
    writeFileSync(`${leaf}.ext`, "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n");
    openssl(
      "x509",
      "-req",
      "-in",
      `${leaf}.csr`,
      "-CA",
      `${ca}.crt`,
      "-CAkey",
      `${ca}.key`,
      "-CAcreateserial",
      "-out",
      `${leaf}.crt`,
      "-days",
      "2",
      "-extfile",
      `${leaf}.ext`,
    );
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: readFileSync(`${leaf}.crt`, "utf8"), key: readFileSync(`${leaf}.key`, "utf8") },
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
    return new RefusalWebhook(server, Buffer.from(readFileSync(`${ca}.crt`)).toString("base64"));
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
