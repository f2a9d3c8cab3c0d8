// People of the local cluster: client certificates signed by its CA (scripts/lib/controlplane.ts
// makes it), the way a cluster's own CA or an OIDC provider would name a user and their groups.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubeconfigYaml } from "../../scripts/lib/controlplane.ts";
import { KubeApi } from "../../src/kube/api.ts";
import { SubjectAccessReviews } from "../../src/kube/resources.ts";
import { Transport } from "../../src/kube/transport.ts";
import { testCluster } from "./cluster.ts";

export interface TestUser {
  name: string;
  groups: string[];
  /** The API as this user: every request presents the user's certificate. */
  api: KubeApi;
  /** A kubeconfig file for the user, for the binary and kubectl. */
  kubeconfig: string;
}

function openssl(cwd: string, ...args: string[]): void {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.error?.message ?? r.stderr}`);
}

/** A user `name` in `groups` (the certificate's O= fields), authenticated by the cluster's CA. */
export async function testUser(name: string, groups: string[] = [], namespace?: string): Promise<TestUser> {
  const c = await testCluster();
  const dir = mkdtempSync(join(tmpdir(), `podlogreader-user-${name}-`));
  const pki = join(c.dir, "pki");
  const subject = `${groups.map((g) => `/O=${g}`).join("")}/CN=${name}`;
  writeFileSync(join(dir, "user.ext"), "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
  openssl(dir, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "user.key", "-out", "user.csr", "-subj", subject);
  openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "user.csr",
    "-CA",
    join(pki, "ca.crt"),
    "-CAkey",
    join(pki, "ca.key"),
    "-set_serial",
    `0x${crypto.getRandomValues(new Uint8Array(8)).reduce((s, b) => s + b.toString(16).padStart(2, "0"), "")}`,
    "-out",
    "user.crt",
    "-days",
    "1",
    "-extfile",
    "user.ext",
  );
  const cert = readFileSync(join(dir, "user.crt"), "utf8");
  const key = readFileSync(join(dir, "user.key"), "utf8");
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(c.server, c.caPem, { certPem: cert, keyPem: key }, namespace), { mode: 0o600 });
  const api = new KubeApi(
    new Transport({
      server: c.server,
      ca: c.caPem,
      cert,
      key,
      authorization: async () => undefined,
      invalidate() {},
      source: `test user ${name}`,
    }),
  );
  return { name, groups, api, kubeconfig };
}

/** Whether the authorizer lets this user (with these groups) read the pod's log (SubjectAccessReview, asked as admin). */
export async function userCanReadLog(user: { name: string; groups: string[] }, namespace: string, pod: string): Promise<boolean> {
  const { admin } = await testCluster();
  const review = (await admin.review(SubjectAccessReviews, {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SubjectAccessReview",
    spec: {
      user: user.name,
      groups: [...user.groups, "system:authenticated"],
      resourceAttributes: { namespace, verb: "get", resource: "pods", subresource: "log", name: pod },
    },
  })) as { status?: { allowed?: boolean } };
  return review.status?.allowed === true;
}

/** The pods, among `names` and one no pod has, whose logs the user may read, sorted. */
export async function userReadable(user: { name: string; groups: string[] }, namespace: string, names: string[]): Promise<string[]> {
  const asked = [...names, `no-such-pod-${Math.random().toString(36).slice(2)}`];
  const allowed = await Promise.all(asked.map((n) => userCanReadLog(user, namespace, n)));
  return asked.filter((_, i) => allowed[i]).sort();
}
