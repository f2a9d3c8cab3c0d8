// What the apiserver needs to call the authorizer: an AuthorizationConfiguration
// (apiserver.config.k8s.io/v1) that runs Node, RBAC, then the webhook, and the kubeconfig the
// webhook entry points at. Pure text; `podlogreader authorizer-config` and the test harness use it.
import { AUTHORIZE_PATH } from "./server.ts";

/** Where kubeadm keeps the apiserver's files; the examples mount this path into the static pod. */
export const DEFAULT_WEBHOOK_KUBECONFIG_PATH = "/etc/kubernetes/podlogreader-authorizer.kubeconfig";

/**
 * Only pod reads reach the webhook: get, list and watch of pods and get of pods/log in the core
 * group. A field that is unset reads as empty, or fails `has()`: both forms are accepted.
 */
export const MATCH_CONDITIONS = [
  "has(request.resourceAttributes)",
  "request.resourceAttributes.resource == 'pods'",
  "!has(request.resourceAttributes.group) || request.resourceAttributes.group == ''",
  "!has(request.resourceAttributes.subresource) || request.resourceAttributes.subresource == '' || " +
    "(request.resourceAttributes.subresource == 'log' && request.resourceAttributes.verb == 'get')",
  "request.resourceAttributes.verb in ['get', 'list', 'watch']",
];

/**
 * Node, RBAC, then podlogreader's webhook: failurePolicy NoOpinion (a webhook that is down takes
 * nothing away and adds nothing), no decision cache (a cached Allow would outlive its pod).
 */
export function authorizationConfig(webhookKubeconfigPath: string): string {
  return `apiVersion: apiserver.config.k8s.io/v1
kind: AuthorizationConfiguration
authorizers:
- type: Node
  name: node
- type: RBAC
  name: rbac
- type: Webhook
  name: podlogreader
  webhook:
    timeout: 3s
    subjectAccessReviewVersion: v1
    matchConditionSubjectAccessReviewVersion: v1
    failurePolicy: NoOpinion
    authorizedTTL: 1s
    unauthorizedTTL: 1s
    cacheAuthorizedRequests: false
    cacheUnauthorizedRequests: false
    connectionInfo:
      type: KubeConfigFile
      kubeConfigFile: ${JSON.stringify(webhookKubeconfigPath)}
    matchConditions:
${MATCH_CONDITIONS.map((e) => `    - expression: ${JSON.stringify(e)}`).join("\n")}
`;
}

/**
 * The kubeconfig the apiserver uses to reach the webhook: its URL, the CA of its serving
 * certificate, the client certificate, and `tlsServerName`, the name the apiserver checks in the
 * serving certificate instead of the URL's host (for a URL by IP address, or through a proxy).
 */
export function webhookKubeconfig(
  serverUrl: string,
  caPem: string,
  client: { certPem: string; keyPem: string },
  tlsServerName?: string,
): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const url = new URL(serverUrl);
  url.pathname = AUTHORIZE_PATH;
  return `apiVersion: v1
kind: Config
clusters:
- name: podlogreader-authorizer
  cluster:
    server: ${url.toString()}
    certificate-authority-data: ${b64(caPem)}
${tlsServerName === undefined ? "" : `    tls-server-name: ${JSON.stringify(tlsServerName)}\n`}users:
- name: kube-apiserver
  user:
    client-certificate-data: ${b64(client.certPem)}
    client-key-data: ${b64(client.keyPem)}
contexts:
- name: podlogreader-authorizer
  context:
    cluster: podlogreader-authorizer
    user: kube-apiserver
current-context: podlogreader-authorizer
`;
}
