// The chart's webhook authorizer: off, it renders nothing of it; on, a ClusterIP Service in front
// of every replica, a serving certificate for the Service's names (made by the chart, or a
// cert-manager Certificate), the client CA, and the controller's --authorizer-* flags pointing at
// the mounted files.
import { describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate, createPrivateKey } from "node:crypto";
import type { V1ClusterRole, V1ConfigMap, V1Container, V1Deployment, V1Secret, V1Service, V1Volume } from "@kubernetes/client-node";
import { selfSigned } from "../../scripts/harness/pki.ts";
import { parseOptions } from "../../src/commands/run.ts";
import {
  chartDir,
  find,
  helmTemplate,
  KUBE_VERSION,
  parseManifests,
  permissions,
  render,
  runHelm,
  setFlags,
  template,
  type Manifest,
} from "../support/chart.ts";

/** A CA certificate of our own, standing for the one that signs the apiserver's client certificate. */
function clientCaPem(): string {
  const dir = mkdtempSync(join(tmpdir(), "podlogreader-chart-ca-"));
  return selfSigned(dir, "ca", { subject: "/CN=apiserver webhook client CA", days: 1 }).cert;
}
const CLIENT_CA = clientCaPem();

const ON = { "authorizer.enabled": true, "authorizer.clientCA.pem": CLIENT_CA };

const deployment = (m: Manifest[]) => find<V1Deployment>(m, "Deployment")[0]!;
const container = (m: Manifest[]): V1Container => deployment(m).spec!.template.spec!.containers[0]!;
const volumes = (m: Manifest[]): V1Volume[] => deployment(m).spec!.template.spec!.volumes ?? [];
const authorizerObjects = (m: Manifest[]) => m.filter((o) => o.metadata.name.includes("authorizer") || o.kind === "Certificate");
const decode = (b64: string) => Buffer.from(b64, "base64").toString("utf8");

/** Where, in the container, a flag's file is, and what key of which volume is mounted there. */
function fileSource(m: Manifest[], flag: string): { volume: V1Volume; key: string } {
  const file = container(m)
    .args!.find((a) => a.startsWith(`--${flag}=`))!
    .slice(flag.length + 3);
  const mount = container(m).volumeMounts!.find((vm) => file.startsWith(`${vm.mountPath}/`))!;
  expect(mount.readOnly).toBe(true);
  const volume = volumes(m).find((v) => v.name === mount.name)!;
  const path = file.slice(mount.mountPath.length + 1);
  const items = volume.secret?.items ?? volume.configMap?.items ?? [];
  return { volume, key: items.find((i) => i.path === path)!.key };
}

describe("off (the default)", () => {
  test("renders no authorizer object, flag, port or volume", () => {
    for (const m of [
      render("pl", "ops"),
      render("pl", "ops", { "authorizer.clientCA.pem": CLIENT_CA, "authorizer.rolePodNames": "none" }),
    ]) {
      expect(authorizerObjects(m)).toEqual([]);
      expect(container(m).args!.filter((a) => /^--(authorizer-|role-pod-names)/.test(a))).toEqual([]);
      expect(container(m).ports!.map((p) => p.name)).toEqual(["metrics", "health"]);
      expect(container(m).volumeMounts).toBeUndefined();
      expect(volumes(m)).toEqual([]);
    }
  });
});

describe("on, with the certificate made by the chart", () => {
  const m = render("pl", "ops", ON);
  const service = find<V1Service>(m, "Service", "pl-podlogreader-authorizer")[0]!;
  const secret = find<V1Secret>(m, "Secret", "pl-podlogreader-authorizer-tls")[0]!;

  test("a ClusterIP Service sends the port to every replica's authorizer port", () => {
    expect(service.spec!.type).toBe("ClusterIP");
    expect(service.spec!.selector).toEqual(deployment(m).spec!.selector.matchLabels!);
    expect(service.spec!.ports).toEqual([{ name: "authorizer", port: 8443, targetPort: "authorizer" }]);
    expect(container(m).ports).toContainEqual({ name: "authorizer", containerPort: 8443 });
  });

  test("the controller serves the webhook on that port with the mounted certificate, key and client CA, and --role-pod-names", () => {
    const options = parseOptions(container(m).args!);
    expect(options.authorizerAddr).toEqual({ host: "", port: 8443 });
    expect(options.rolePodNames).toBe("names");
    expect(fileSource(m, "authorizer-tls-cert-file")).toEqual({
      volume: expect.objectContaining({ secret: expect.objectContaining({ secretName: secret.metadata!.name }) }),
      key: "tls.crt",
    });
    expect(fileSource(m, "authorizer-tls-key-file")).toEqual({
      volume: expect.objectContaining({ secret: expect.objectContaining({ secretName: secret.metadata!.name }) }),
      key: "tls.key",
    });
    const ca = fileSource(m, "authorizer-client-ca-file");
    const configMap = find<V1ConfigMap>(m, "ConfigMap", ca.volume.configMap!.name)[0]!;
    expect(configMap.data![ca.key]).toBe(CLIENT_CA);
  });

  test(
    "the serving certificate names the Service's DNS names, is for " + "serving, is signed by the Secret's ca.crt, and matches its key",
    () => {
      expect(secret.type).toBe("kubernetes.io/tls");
      expect(Object.keys(secret.data!).sort()).toEqual(["ca.crt", "tls.crt", "tls.key"]);
      const cert = new X509Certificate(decode(secret.data!["tls.crt"]!));
      const ca = new X509Certificate(decode(secret.data!["ca.crt"]!));
      expect(cert.subjectAltName!.split(", ").sort()).toEqual(
        [
          "pl-podlogreader-authorizer",
          "pl-podlogreader-authorizer.ops",
          "pl-podlogreader-authorizer.ops.svc",
          "pl-podlogreader-authorizer.ops.svc.cluster.local",
        ]
          .map((n) => `DNS:${n}`)
          .sort(),
      );
      expect(cert.ca).toBe(false);
      expect(ca.ca).toBe(true);
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.keyUsage).toContain("1.3.6.1.5.5.7.3.1"); // serverAuth
      expect(cert.checkPrivateKey(createPrivateKey(decode(secret.data!["tls.key"]!)))).toBe(true);
      const spki = (c: X509Certificate) => c.publicKey.export({ type: "spki", format: "der" });
      expect(spki(cert).equals(spki(ca))).toBe(false);
    },
  );

  test("the CA's key is not kept", () => {
    const keys = m
      .flatMap((o) => Object.values((o as { data?: Record<string, string> }).data ?? {}))
      .map(decode)
      .filter((s) => s.includes("PRIVATE KEY"));
    expect(keys).toEqual([decode(secret.data!["tls.key"]!)]);
  });

  test("a fixed clusterIP is the Service's and is in the certificate; the DNS names stay", () => {
    const fixed = render("pl", "ops", { ...ON, "authorizer.clusterIP": "10.96.0.50", "authorizer.port": 9443 });
    const svc = find<V1Service>(fixed, "Service", "pl-podlogreader-authorizer")[0]!;
    expect(svc.spec!.clusterIP).toBe("10.96.0.50");
    expect(svc.spec!.ports![0]!.port).toBe(9443);
    const cert = new X509Certificate(decode(find<V1Secret>(fixed, "Secret", "pl-podlogreader-authorizer-tls")[0]!.data!["tls.crt"]!));
    expect(cert.checkIP("10.96.0.50")).toBe("10.96.0.50");
    expect(cert.checkHost("pl-podlogreader-authorizer.ops.svc")).toBe("pl-podlogreader-authorizer.ops.svc");
    expect(parseOptions(container(fixed).args!).authorizerAddr).toEqual({ host: "", port: 9443 });
  });

  test("rolePodNames: none reaches the flag", () => {
    expect(parseOptions(container(render("pl", "ops", { ...ON, "authorizer.rolePodNames": "none" })).args!).rolePodNames).toBe("none");
  });

  test("a long release name keeps the Service a DNS label, and the certificate names it", () => {
    const long = render(`${"a".repeat(50)}.x`, "ops", ON);
    const svc = find<V1Service>(long, "Service").find(
      (s) => s.metadata!.name!.includes("authorizer") || s.spec!.ports![0]!.name === "authorizer",
    )!;
    expect(svc.metadata!.name!).toMatch(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    const secret = find<V1Secret>(long, "Secret").find((s) => s.type === "kubernetes.io/tls")!;
    expect(new X509Certificate(decode(secret.data!["tls.crt"]!)).checkHost(`${svc.metadata!.name}.ops.svc`)).toBe(
      `${svc.metadata!.name}.ops.svc`,
    );
  });
});

test(
  "the controller reads its certificate and client CA only at start, so the pods roll when what they are made from changes, and only " +
    "then",
  () => {
    const inputs = (values: Record<string, unknown>) =>
      deployment(render("pl", "ops", values)).spec!.template.metadata!.annotations!["podlogreader.dev/authorizer-inputs"];
    const base = inputs(ON);
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(inputs({ ...ON, replicaCount: 3, "podAnnotations.team": "a" })).toBe(base);
    expect(inputs({ ...ON, "authorizer.clientCA.pem": clientCaPem() })).not.toBe(base);
    expect(inputs({ ...ON, "authorizer.clusterIP": "10.96.0.50" })).not.toBe(base);
    expect(
      inputs({ ...ON, "authorizer.certificate.source": "cert-manager", "authorizer.certificate.issuerRef.name": "webhooks" }),
    ).not.toBe(base);
  },
);

/** The chart's NOTES as `helm install` prints them: a copy of the chart that also renders them into a ConfigMap. */
function notes(values: Record<string, unknown>): { notes: string; manifests: Manifest[] } {
  const dir = join(mkdtempSync(join(tmpdir(), "podlogreader-notes-")), "chart");
  cpSync(chartDir, dir, { recursive: true });
  writeFileSync(
    join(dir, "templates/zz-notes.yaml"),
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: zz-notes\ndata:\n  notes: {{ include "podlogreader/templates/NOTES.txt" . ' +
      "| quote }}\n",
  );
  const r = template("pl", "ops", values, dir);
  if (!r.ok) throw new Error(r.error);
  const manifests = parseManifests(r.yaml);
  return {
    notes: find<V1ConfigMap>(manifests, "ConfigMap", "zz-notes")[0]!.data!.notes!,
    manifests: manifests.filter((o) => o.metadata.name !== "zz-notes"),
  };
}

describe("NOTES say how to wire the apiserver", () => {
  test.each([
    ["by the Service's DNS name", {}],
    ["by a fixed IPv4 ClusterIP", { "authorizer.clusterIP": "10.96.0.50" }],
    ["by a fixed IPv6 ClusterIP", { "authorizer.clusterIP": "fd00::50" }],
  ])(
    "%s: the server URL is the Service's port at a name the certificate holds, and the CA comes from the Secret the chart made",
    (_, extra) => {
      const { notes: text, manifests } = notes({ ...ON, ...extra });
      const url = new URL(text.match(/--server-url (\S+)/)![1]!);
      const secretName = text.match(/kubectl get secret (\S+) -n ops -o jsonpath='\{\.data\.ca\\\.crt\}'/)![1]!;
      const secret = find<V1Secret>(manifests, "Secret", secretName)[0]!;
      const cert = new X509Certificate(decode(secret.data!["tls.crt"]!));
      const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
      expect(host.includes(".svc") ? cert.checkHost(host) : cert.checkIP(host)).toBe(host);
      expect(cert.checkIssued(new X509Certificate(decode(secret.data!["ca.crt"]!)))).toBe(true);
      expect(Number(url.port)).toBe(
        find<V1Service>(manifests, "Service").find((s) => s.spec!.ports![0]!.name === "authorizer")!.spec!.ports![0]!.port,
      );
      expect(url.protocol).toBe("https:");
    },
  );

  test("with rolePodNames none they say nothing is readable until the apiserver calls the webhook; off, they do not mention it", () => {
    expect(notes({ ...ON, "authorizer.rolePodNames": "none" }).notes).toContain(
      "The Roles name no pod: nothing is readable through them until the apiserver calls the webhook.",
    );
    expect(notes({}).notes).not.toContain("authorizer");
  });
});

describe("the client CA", () => {
  test.each([
    [
      "an existing Secret",
      { "authorizer.clientCA.existingSecret": "apiserver-webhook-ca", "authorizer.clientCA.key": "ca.pem" },
      { secretName: "apiserver-webhook-ca" },
    ],
    ["an existing ConfigMap", { "authorizer.clientCA.existingConfigMap": "apiserver-webhook-ca" }, { name: "apiserver-webhook-ca" }],
  ])("can be %s, read at its key, and the chart makes no ConfigMap of its own", (_, values, source) => {
    const m = render("pl", "ops", { "authorizer.enabled": true, ...values });
    const ca = fileSource(m, "authorizer-client-ca-file");
    expect(ca.volume.secret ?? ca.volume.configMap).toEqual(expect.objectContaining(source));
    expect(ca.key).toBe((values as Record<string, string>)["authorizer.clientCA.key"] ?? "ca.crt");
    expect(find(m, "ConfigMap").filter((c) => c.metadata.name.includes("authorizer"))).toEqual([]);
  });

  test.each([
    ["none", {}],
    ["two", { "authorizer.clientCA.pem": CLIENT_CA, "authorizer.clientCA.existingSecret": "x" }],
  ])("is required exactly once: %s is refused, with and without the schema", (_, values) => {
    for (const schema of [true, false]) {
      const r = helmTemplate({ "authorizer.enabled": true, ...values }, schema);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(
        "authorizer.enabled needs exactly one of authorizer.clientCA.pem, authorizer.clientCA.existingSecret and " +
          "authorizer.clientCA.existingConfigMap",
      );
    }
  });
});

describe("on, with cert-manager", () => {
  const values = {
    ...ON,
    "authorizer.certificate.source": "cert-manager",
    "authorizer.certificate.issuerRef.name": "webhooks",
    "authorizer.certificate.issuerRef.kind": "ClusterIssuer",
    "authorizer.clusterIP": "10.96.0.50",
  };
  const m = render("pl", "ops", values);

  test(
    "a Certificate of the named issuer writes the Secret the " + "controller mounts, for the Service's names; the chart makes no Secret",
    () => {
      const [certificate] = find<Manifest & { spec: Record<string, unknown> }>(m, "Certificate");
      expect(certificate!.apiVersion).toBe("cert-manager.io/v1");
      expect(find(m, "Secret")).toEqual([]);
      expect(fileSource(m, "authorizer-tls-cert-file").volume.secret!.secretName).toBe(certificate!.spec.secretName as string);
      expect(fileSource(m, "authorizer-tls-key-file").key).toBe("tls.key");
      expect(certificate!.spec.dnsNames).toEqual([
        "pl-podlogreader-authorizer",
        "pl-podlogreader-authorizer.ops",
        "pl-podlogreader-authorizer.ops.svc",
        "pl-podlogreader-authorizer.ops.svc.cluster.local",
      ]);
      expect(certificate!.spec.ipAddresses).toEqual(["10.96.0.50"]);
      expect(certificate!.spec.usages).toContain("server auth");
      expect(certificate!.spec.issuerRef).toEqual({ name: "webhooks", kind: "ClusterIssuer", group: "cert-manager.io" });
    },
  );

  test("without an issuer it is refused", () => {
    expect(template("pl", "ops", { ...values, "authorizer.certificate.issuerRef.name": "" })).toEqual({
      ok: false,
      error: expect.stringContaining("authorizer.certificate.source cert-manager needs authorizer.certificate.issuerRef.name"),
    });
  });
});

describe("RBAC", () => {
  test(
    "the webhook's reads (get and list pods, get ReplicaSets and Jobs) are the controller's already: the ClusterRole and Roles are " +
      "the same on and off",
    () => {
      for (const watchNamespaces of [[], ["a", "b"]]) {
        const rules = (m: Manifest[]) =>
          m
            .filter((o) => o.kind === "ClusterRole" || o.kind === "Role")
            .map((r) => ({ name: r.metadata.name, rules: (r as unknown as V1ClusterRole).rules }));
        const on = rules(render("pl", "ops", { ...ON, watchNamespaces }));
        expect(on).toEqual(rules(render("pl", "ops", { watchNamespaces })));
        const controller = on.find((r) => r.name === "pl-podlogreader:controller")!;
        expect(permissions(controller.rules!)).toEqual(
          expect.arrayContaining([
            "/pods:get",
            "/pods:list",
            "apps/replicasets:get",
            "batch/jobs:get",
            "rbac.authorization.k8s.io/rolebindings:list",
            "rbac.authorization.k8s.io/rolebindings:watch",
          ]),
        );
      }
    },
  );
});

describe("values.schema.json", () => {
  test.each([
    ["authorizer.rolePodNames", "some"],
    ["authorizer.port", 0],
    ["authorizer.clusterIP", "not-an-ip"],
    ["authorizer.clientCA.pem", "not a certificate"],
    ["authorizer.certificate.source", "vault"],
    ["authorizer.certificate.duration", "90d"],
    ["authorizer.unknown", true],
  ])("refuses %s: %p", (key, value) => {
    expect(template("pl", "ops", { ...ON, [key]: value })).toEqual({
      ok: false,
      error: expect.stringContaining("values don't meet the specifications of the schema"),
    });
  });

  test("helm lint --strict passes with the authorizer on, either source", () => {
    for (const values of [
      ON,
      { ...ON, "authorizer.certificate.source": "cert-manager", "authorizer.certificate.issuerRef.name": "webhooks" },
    ]) {
      const r = runHelm(["lint", chartDir, "--strict", "--kube-version", KUBE_VERSION, ...setFlags(values)]);
      expect(r.stdout).not.toContain("[WARNING]");
      expect(r.status).toBe(0);
    }
  });
});
