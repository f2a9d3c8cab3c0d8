// Writes the apiserver refuses, as admission in a real cluster refuses them: a
// ValidatingAdmissionPolicy (as Kyverno or Gatekeeper would), or a validating webhook that answers
// with a status code of its choosing (409 and 404 included: the apiserver passes any code of 400
// or more through). Each refusal is scoped to one namespace. It is in force once a probe object
// of each refused resource has its refused writes refused (the apiserver loads policies and
// webhooks a moment after they are created), and the function it returns lifts it and waits
// until the probes' writes pass again.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type {
  V1ValidatingAdmissionPolicy,
  V1ValidatingAdmissionPolicyBinding,
  V1ValidatingWebhookConfiguration,
} from "@kubernetes/client-node";
import {
  RoleBindings,
  Roles,
  ServiceAccounts,
  ValidatingAdmissionPolicies,
  ValidatingAdmissionPolicyBindings,
  type ResourceType,
} from "../../src/kube/resources.ts";
import { ApiError, isNotFound } from "../../src/kube/transport.ts";
import { makeCa, signLeaf } from "../../scripts/harness/pki.ts";
import { eventually, TEST_FIELD_MANAGER, testCluster } from "./cluster.ts";

const ValidatingWebhookConfigurations: ResourceType = {
  group: "admissionregistration.k8s.io",
  version: "v1",
  plural: "validatingwebhookconfigurations",
  kind: "ValidatingWebhookConfiguration",
};

export type RefusedOperation = "UPDATE" | "DELETE";
export type RefusedResource = "roles" | "rolebindings" | "serviceaccounts";
/** The operations refused on each resource, e.g. `{ roles: ["UPDATE"], rolebindings: ["DELETE"] }`. */
export type Refused = Partial<Record<RefusedResource, RefusedOperation[]>>;
/** Lifts a refusal and waits until the apiserver no longer enforces it. */
export type Lift = () => Promise<void>;

const RBAC = "rbac.authorization.k8s.io";
const RESOURCES: Record<RefusedResource, ResourceType> = { roles: Roles, rolebindings: RoleBindings, serviceaccounts: ServiceAccounts };

function entries(refused: Refused): [RefusedResource, RefusedOperation[]][] {
  return Object.entries(refused).filter(([, ops]) => ops && ops.length > 0) as [RefusedResource, RefusedOperation[]][];
}

/** The admission rules matching exactly the refused writes. */
function resourceRules(refused: Refused) {
  return entries(refused).map(([resource, operations]) => ({
    apiGroups: [RESOURCES[resource].group],
    apiVersions: ["v1"],
    operations,
    resources: [resource],
    scope: "Namespaced",
  }));
}

const inNamespace = (namespace: string) => ({ matchLabels: { "kubernetes.io/metadata.name": namespace } });

/** The message every refusal of `name` carries, by which the probe tells it from any other error. */
const refusalMessage = (name: string) => `refused by test admission ${name}`;

/**
 * Refuses the writes with a ValidatingAdmissionPolicy (failurePolicy Fail, expression `false`)
 * bound to `namespace`. The apiserver answers 403 or 422.
 */
export async function refuseByPolicy(namespace: string, name: string, refused: Refused): Promise<Lift> {
  const { admin } = await testCluster();
  const objectName = `${name}-${namespace}`.slice(0, 253);
  const policy: V1ValidatingAdmissionPolicy = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: objectName },
    spec: {
      failurePolicy: "Fail",
      matchConstraints: { namespaceSelector: inNamespace(namespace), resourceRules: resourceRules(refused) },
      validations: [{ expression: "false", message: refusalMessage(name) }],
    },
  };
  const binding: V1ValidatingAdmissionPolicyBinding = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: objectName },
    spec: { policyName: objectName, validationActions: ["Deny"], matchResources: { namespaceSelector: inNamespace(namespace) } },
  };
  const probe = await createProbes(namespace, name, refused);
  const remove = async () => {
    await deleteIfPresent(ValidatingAdmissionPolicyBindings, undefined, objectName);
    await deleteIfPresent(ValidatingAdmissionPolicies, undefined, objectName);
  };
  return enforce(
    probe,
    remove,
    async () => {
      await admin.create(ValidatingAdmissionPolicies, undefined, policy);
      await admin.create(ValidatingAdmissionPolicyBindings, undefined, binding);
    },
    (err) => err instanceof ApiError && err.message.includes(refusalMessage(name)),
  );
}

/**
 * Refuses the writes with a validating webhook served by this test process over TLS, which denies
 * each with `status.code` = `code`. The probe checks that the apiserver answers with that code.
 */
export async function refuseByWebhook(namespace: string, name: string, refused: Refused, code: number): Promise<Lift> {
  const { admin } = await testCluster();
  const pki = webhookPki();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: pki.cert, key: pki.key },
    async fetch(request) {
      const review = (await request.json()) as AdmissionReview;
      return Response.json(admissionResponse(review, namespace, refused, { code, message: refusalMessage(name) }));
    },
  });
  const objectName = `${name}-${namespace}`.slice(0, 253);
  const config: V1ValidatingWebhookConfiguration = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: objectName },
    webhooks: [
      {
        name: "refuse.test.podlogreader.dev",
        clientConfig: { url: `https://127.0.0.1:${server.port}/refuse`, caBundle: Buffer.from(pki.ca).toString("base64") },
        rules: resourceRules(refused),
        namespaceSelector: inNamespace(namespace),
        failurePolicy: "Fail",
        sideEffects: "None",
        admissionReviewVersions: ["v1"],
        timeoutSeconds: 5,
      },
    ],
  };
  let probe: Probe;
  try {
    probe = await createProbes(namespace, name, refused);
  } catch (err) {
    await server.stop(true);
    throw err;
  }
  const lift = await enforce(
    probe,
    () => deleteIfPresent(ValidatingWebhookConfigurations, undefined, objectName),
    async () => {
      await admin.create(ValidatingWebhookConfigurations, undefined, config);
    },
    (err) => err instanceof ApiError && err.status === code && err.message.includes(refusalMessage(name)),
  ).catch(async (err) => {
    await server.stop(true);
    throw err;
  });
  return async () => {
    try {
      await lift();
    } finally {
      await server.stop(true);
    }
  };
}

/** The part of an AdmissionReview (admission.k8s.io/v1) the webhook reads. */
export interface AdmissionReview {
  request?: { uid: string; operation: string; namespace?: string; resource: { group: string; version: string; resource: string } };
}

/** Denies, with `status`, exactly the refused writes in `namespace`; allows everything else. Pure. */
export function admissionResponse(review: AdmissionReview, namespace: string, refused: Refused, status: { code: number; message: string }) {
  const req = review.request;
  const ops = req ? refused[req.resource.resource as RefusedResource] : undefined;
  const deny =
    req !== undefined &&
    req.namespace === namespace &&
    RESOURCES[req.resource.resource as RefusedResource]?.group === req.resource.group &&
    (ops ?? []).includes(req.operation as RefusedOperation);
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: deny ? { uid: req!.uid, allowed: false, status } : { uid: req?.uid ?? "", allowed: true },
  };
}

interface Probe {
  /** Tries every refused write on the probe objects: true when all are refused as `isRefusal` says, false when all pass. */
  refusedAll(isRefusal: (err: unknown) => boolean): Promise<boolean | undefined>;
  remove(): Promise<void>;
}

/** Installs a refusal with `install`, waits until the probes are refused, and returns its lift. */
async function enforce(
  probe: Probe,
  uninstall: () => Promise<void>,
  install: () => Promise<void>,
  isRefusal: (err: unknown) => boolean,
): Promise<Lift> {
  const lift = async () => {
    await uninstall();
    await eventually("the refusal to be lifted", async () => ((await probe.refusedAll(isRefusal)) === false ? true : undefined), 30_000);
    await probe.remove();
  };
  try {
    await install();
    await eventually("the refusal to be enforced", async () => ((await probe.refusedAll(isRefusal)) === true ? true : undefined), 30_000);
  } catch (err) {
    await lift().catch(() => undefined);
    throw err;
  }
  return lift;
}

/** One object of each refused resource, made before the refusal, named `probe-<name>`. */
async function createProbes(namespace: string, name: string, refused: Refused): Promise<Probe> {
  const { admin } = await testCluster();
  const probeName = `probe-${name}`;
  const made: RefusedResource[] = [];
  for (const [resource] of entries(refused)) {
    if (resource === "roles") {
      await admin.create(
        Roles,
        namespace,
        {
          apiVersion: `${RBAC}/v1`,
          kind: "Role",
          metadata: { name: probeName, namespace },
          rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"], resourceNames: ["probe"] }],
        },
        TEST_FIELD_MANAGER,
      );
    } else if (resource === "rolebindings") {
      await admin.create(
        RoleBindings,
        namespace,
        {
          apiVersion: `${RBAC}/v1`,
          kind: "RoleBinding",
          metadata: { name: probeName, namespace },
          roleRef: { apiGroup: RBAC, kind: "Role", name: probeName },
          subjects: [],
        },
        TEST_FIELD_MANAGER,
      );
    } else {
      await admin.create(
        ServiceAccounts,
        namespace,
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: probeName, namespace } },
        TEST_FIELD_MANAGER,
      );
    }
    made.push(resource);
  }
  let n = 0;
  /** Whether the write was refused; any other error is thrown. */
  const attempt = async (
    resource: RefusedResource,
    operation: RefusedOperation,
    isRefusal: (err: unknown) => boolean,
  ): Promise<boolean> => {
    const rt = RESOURCES[resource];
    try {
      if (operation === "UPDATE")
        await admin.mergePatch(
          rt,
          namespace,
          probeName,
          { metadata: { labels: { "podlogreader-test/probe": String(n++) } } },
          { fieldManager: TEST_FIELD_MANAGER },
        );
      else await admin.delete(rt, namespace, probeName, undefined, "Background", { dryRun: true });
      return false;
    } catch (err) {
      if (isRefusal(err)) return true;
      throw err;
    }
  };
  return {
    async refusedAll(isRefusal) {
      const outcomes: boolean[] = [];
      for (const [resource, operations] of entries(refused))
        for (const op of operations) outcomes.push(await attempt(resource, op, isRefusal));
      if (outcomes.every((o) => o)) return true;
      if (outcomes.every((o) => !o)) return false;
      return undefined;
    },
    async remove() {
      for (const resource of made) await deleteIfPresent(RESOURCES[resource], namespace, probeName);
    },
  };
}

async function deleteIfPresent(rt: ResourceType, namespace: string | undefined, name: string): Promise<void> {
  const { admin } = await testCluster();
  try {
    await admin.delete(rt, namespace, name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** A CA and a serving certificate for 127.0.0.1 signed by it, made once per test process. */
let pki: { ca: string; cert: string; key: string } | undefined;
function webhookPki(): { ca: string; cert: string; key: string } {
  if (pki) return pki;
  const dir = mkdtempSync(join(tmpdir(), "podlogreader-test-webhook-"));
  const ca = makeCa(dir, "ca", { subject: "/CN=podlogreader-test-webhook-ca", days: 1 });
  const server = signLeaf(dir, "server", {
    subject: "/CN=podlogreader-test-webhook",
    ca: "ca",
    days: 1,
    subjectAltName: "IP:127.0.0.1",
    extendedKeyUsage: "serverAuth",
  });
  pki = { ca: ca.cert, ...server };
  return pki;
}
