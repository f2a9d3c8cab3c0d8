// `podlogreader kubeconfig`: a short-lived kubeconfig for a workload's managed ServiceAccount.
import { KINDS, type WorkloadKind } from "../access/kinds.ts";
import { managedName } from "../access/names.ts";
import { isManagedFor } from "../access/ownership.ts";
import { parseWorkload } from "../access/membership.ts";
import type { KubeApi, KubeObject } from "../kube/api.ts";
import type { Connection } from "../kube/config.ts";
import { PartialObjectMetadata, parseObject } from "../kube/objects.ts";
import { ServiceAccounts } from "../kube/resources.ts";
import { ApiError, isNotFound } from "../kube/transport.ts";
import { audit } from "./audit.ts";
import { AdminError } from "./errors.ts";

export interface KubeconfigRequest {
  namespace: string;
  kind: WorkloadKind;
  name: string;
  durationSeconds: number;
}

/** Tolerated difference between the asked and the granted expiry (clocks, rounding). */
const EXPIRY_SLACK_SECONDS = 60;

export async function issueKubeconfig(
  api: KubeApi,
  connection: Connection,
  req: KubeconfigRequest,
): Promise<{ yaml: string; serviceAccount: string; expires: string }> {
  const { namespace, kind, name } = req;
  const ref = `${kind} ${namespace}/${name}`;
  let raw: unknown;
  try {
    raw = await api.get(KINDS[kind].resource, namespace, name);
  } catch (err) {
    if (isNotFound(err)) throw new AdminError(`${ref} does not exist`);
    throw err;
  }
  const workload = parseWorkload(kind)(raw);
  if (!workload.optedIn) throw new AdminError(`${ref} has not opted in: its pod template lacks the label podlogreader-affiliate: enable`);
  if (KINDS[kind].parentKind && workload.controllerKind === KINDS[kind].parentKind) {
    throw new AdminError(`${ref} belongs to its ${workload.controllerKind}; ask for that workload instead`);
  }

  const serviceAccount = managedName(kind, name);
  let sa: PartialObjectMetadata;
  try {
    sa = parseObject(PartialObjectMetadata, await api.get(ServiceAccounts, namespace, serviceAccount), "ServiceAccount");
  } catch (err) {
    if (isNotFound(err)) {
      throw new AdminError(
        `ServiceAccount ${namespace}/${serviceAccount} does not exist: podlogreader creates it when run with --create-sa-and-rolebinding`,
      );
    }
    throw err;
  }
  if (!isManagedFor(sa.metadata, { kind, name })) {
    throw new AdminError(
      `ServiceAccount ${namespace}/${serviceAccount} was not created by podlogreader for ${kind}/${name}; refusing to hand out its token`,
    );
  }

  // The same checks as `podlogreader audit`, on this one ServiceAccount: a token is handed out only
  // when it reaches the workload's logs and nothing more.
  const report = await audit(api, { namespace, serviceAccount });
  const wider = report.findings.filter((f) => f.overGrant);
  if (wider.length > 0) {
    throw new AdminError(
      `refusing to hand out ServiceAccount ${namespace}/${serviceAccount}'s token: it reaches more than ${kind}/${name}'s ` +
        `logs:\n${wider.map((f) => `  ${f.kind}: ${f.message}`).join("\n")}`,
    );
  }

  const asked = Date.now() + req.durationSeconds * 1000;
  let review: { status?: { token?: string; expirationTimestamp?: string } };
  try {
    review = (await api.createSubresource(ServiceAccounts, namespace, serviceAccount, "token", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: req.durationSeconds },
    } as KubeObject)) as typeof review;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 400 || err.status === 422)) {
      throw new AdminError(`the apiserver refused a token valid for ${req.durationSeconds}s: ${err.message}`, { cause: err });
    }
    throw err;
  }
  const token = review.status?.token;
  const expires = review.status?.expirationTimestamp;
  if (!token || !expires) throw new AdminError("the apiserver returned no token");
  if (Math.abs(Date.parse(expires) - asked) > EXPIRY_SLACK_SECONDS * 1000) {
    throw new AdminError(
      `the apiserver would only issue a token valid until ${expires}, not for the ${req.durationSeconds}s asked; ask for a ` +
        `duration within its limit (--service-account-max-token-expiration)`,
    );
  }

  const b64 = (s: string) => Buffer.from(s).toString("base64");
  // How this host reaches the apiserver goes with the token: the CA, the name its certificate is
  // checked against, and the proxy.
  const caLine = [
    connection.ca ? `    certificate-authority-data: ${b64(connection.ca)}\n` : "",
    connection.serverName ? `    tls-server-name: ${connection.serverName}\n` : "",
    connection.proxy ? `    proxy-url: ${connection.proxy}\n` : "",
  ].join("");
  const yaml = `apiVersion: v1
kind: Config
# Read-only access to the logs of ${kind} ${namespace}/${name}'s pods, as ServiceAccount ${serviceAccount}; expires ${expires}.
clusters:
- name: cluster
  cluster:
    server: ${connection.server}
${caLine}users:
- name: ${serviceAccount}
  user:
    token: ${token}
contexts:
- name: ${serviceAccount}
  context:
    cluster: cluster
    user: ${serviceAccount}
    namespace: ${namespace}
current-context: ${serviceAccount}
`;
  return { yaml, serviceAccount, expires };
}
