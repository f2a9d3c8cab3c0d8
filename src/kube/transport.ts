import { serverUrl, type Connection, type Credentials } from "./config.ts";
import { messageOf } from "../util/errors.ts";

/** A response from the apiserver with a non-2xx status. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    /** The Status reason, e.g. "NotFound", "AlreadyExists", "Conflict", "Forbidden". */
    readonly reason: string | undefined,
    message: string,
  ) {
    super(`${method} ${path}: ${status}${reason ? ` ${reason}` : ""}: ${message}`);
  }
}

/** The server's certificate did not verify against the configured CA. Never retried. */
export class TlsVerificationError extends Error {
  override name = "TlsVerificationError";
}

/** The request never got an HTTP answer: refused, reset, timed out. Worth retrying. */
export class NetworkError extends Error {
  override name = "NetworkError";
}

const TLS_VERIFY_CODES = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);

export interface Request {
  method?: string;
  /** Path below the server, starting with "/". */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
  /** A long-lived streaming response (watch, follow): no idle timeout. */
  streaming?: boolean;
}

/** Bun's fetch TLS options. `rejectUnauthorized` is always true: set per request, it wins over NODE_TLS_REJECT_UNAUTHORIZED. */
interface TlsOptions {
  rejectUnauthorized: true;
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
}

/**
 * The one way podlogreader talks to the apiserver: Bun's fetch with the connection's CA and
 * client certificate passed as Bun TLS options (client-node's own TLS settings are ignored
 * under Bun), certificate verification stated in every request so that no environment variable
 * can turn it off, and the Authorization header read per request so rotated tokens are picked up.
 */
export class Transport {
  private readonly host: string;

  /**
   * `onResponse` is told of every request sent, for client-go's rest_client_requests_total: the
   * HTTP method, the status code ("<error>" when no answer came) and the server's host:port.
   */
  constructor(
    readonly connection: Connection,
    private readonly onResponse?: (method: string, code: string, host: string) => void,
  ) {
    // Connections built in code, not read from a kubeconfig, are held to the same rule.
    this.host = new URL(serverUrl(connection.server, `${connection.source}: server`)).host;
  }

  url(path: string, query?: Request["query"]): string {
    const url = new URL(this.connection.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  /** Sends a request and returns the response if it is 2xx; throws ApiError otherwise. */
  async request(req: Request): Promise<Response> {
    let response = await this.send(req);
    if (response.status === 401) {
      // The token may have rotated under us; read it again once.
      await response.body?.cancel();
      this.connection.invalidate();
      response = await this.send(req);
    }
    if (!response.ok) throw await apiError(req, response);
    return response;
  }

  async json(req: Request): Promise<unknown> {
    const response = await this.request(req);
    return response.json();
  }

  private async send(req: Request): Promise<Response> {
    const method = req.method ?? "GET";
    const headers = new Headers(this.connection.headers);
    headers.set("Accept", req.accept ?? "application/json");
    const credentials = this.connection.credentials
      ? await this.connection.credentials()
      : { authorization: await this.connection.authorization() };
    if (credentials.authorization) headers.set("Authorization", credentials.authorization);
    let body: string | undefined;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers.set("Content-Type", req.contentType ?? "application/json");
    }
    const tls = this.tlsOptions(credentials);
    const url = this.url(req.path, req.query);
    try {
      const response = await fetch(url, {
        method,
        headers,
        body,
        signal: req.signal,
        tls,
        proxy: this.connection.proxy,
        timeout: req.streaming ? false : undefined,
        redirect: "error",
      });
      this.onResponse?.(method, String(response.status), this.host);
      return response;
    } catch (err) {
      this.onResponse?.(method, "<error>", this.host);
      throw this.wrapFetchError(err, method, url);
    }
  }

  private tlsOptions(credentials: Credentials): TlsOptions {
    const { ca, serverName } = this.connection;
    // A client certificate in the kubeconfig wins over one from an exec plugin, as in client-go.
    const { cert, key } = this.connection.cert ? this.connection : credentials;
    return { rejectUnauthorized: true, ca, cert, key, serverName };
  }

  private wrapFetchError(err: unknown, method: string, url: string): Error {
    if (err instanceof Error && err.name === "AbortError") return err;
    const code = (err as { code?: string }).code ?? "";
    const message = messageOf(err);
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH") {
      const name = this.connection.serverName ?? new URL(this.connection.server).hostname;
      return new TlsVerificationError(
        `TLS verification of ${this.connection.server} failed (${code}): the server's certificate is not valid for ` +
          `the name "${name}". Check server and tls-server-name in ${this.connection.source}`,
      );
    }
    if (TLS_VERIFY_CODES.has(code)) {
      return new TlsVerificationError(
        `TLS verification of ${this.connection.server} failed (${code}): the server's certificate does not ` +
          `verify against the CA configured in ${this.connection.source}. Check certificate-authority in the kubeconfig`,
      );
    }
    return new NetworkError(`${method} ${url}: ${code ? `${code}: ` : ""}${message}`);
  }
}

async function apiError(req: Request, response: Response): Promise<ApiError> {
  const method = req.method ?? "GET";
  const text = await response.text().catch(() => "");
  let reason: string | undefined;
  let message = text.slice(0, 500) || response.statusText;
  try {
    const status = JSON.parse(text) as { reason?: unknown; message?: unknown };
    if (typeof status.reason === "string") reason = status.reason;
    if (typeof status.message === "string") message = status.message;
  } catch {
    // Not a Status object; keep the raw text.
  }
  return new ApiError(method, req.path, response.status, reason, message);
}

export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof ApiError && err.status === 409;
}
