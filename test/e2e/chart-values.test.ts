// What the chart accepts is what its consumers accept: a duration value renders exactly when the
// compiled binary takes it as a flag, a schedule exactly when the apiserver takes it for a CronJob,
// and everything the chart renders, with the longest names helm and Kubernetes allow, is accepted
// by the apiserver (server-side dry run).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { EVERYTHING_ON, template, type Manifest, parseManifests } from "../support/chart.ts";
import { testCluster, useNamespace } from "../support/cluster.ts";
import { Namespaces } from "../../src/kube/resources.ts";
import { BINARY, kubectl } from "../support/process.ts";

/** The binary's verdict on run flags: exit 2 is a refused flag; with good flags it goes on to the (missing) kubeconfig and exits 1. */
async function binaryAccepts(flags: string[]): Promise<{ accepted: boolean; message: string }> {
  const proc = Bun.spawn([BINARY, "--kubeconfig=/nonexistent/kubeconfig", ...flags], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  if (code !== 1 && code !== 2) throw new Error(`unexpected exit ${code}: ${stderr}`);
  if (code === 1) expect(stderr).toContain("/nonexistent/kubeconfig");
  return { accepted: code === 1, message: stderr.split("\n")[0]!.replace(/^podlogreader: /, "") };
}

function chartAccepts(values: Record<string, unknown>): { accepted: boolean; message: string } {
  const r = template("pl", "ops", values);
  return r.ok ? { accepted: true, message: "" } : { accepted: false, message: r.error };
}

const DURATIONS = [
  "0",
  "0s",
  "-0s",
  "+0",
  "+5s",
  "-1s",
  "1.5h",
  "1h30m",
  "500ms500ms",
  "999ms",
  "1s",
  "999999us",
  "1000000us",
  "999999999ns",
  "999999999.5ns",
  ".5s",
  "1.s",
  ".s",
  "1",
  "00",
  "1d",
  "5 s",
  "",
  "+",
  "1µs",
  "1μs",
  "1us",
  "1mh",
  "1h1h",
  "1e3s",
  "1.5.5s",
  "9223372036s",
  "9223372037s",
  "2562047h",
  "2562048h",
  "0.000001ms",
  "0.5s0.5s",
  "3s",
  "2.4s",
  "2.41s",
];

describe("duration values: the chart's verdict is the binary's", () => {
  const flags = [
    ["debounce", "debounce"],
    ["resync", "resync"],
    ["leaderElection.leaseDuration", "leader-elect-lease-duration"],
    ["leaderElection.renewDeadline", "leader-elect-renew-deadline"],
    ["leaderElection.retryPeriod", "leader-elect-retry-period"],
  ] as const;
  for (const [value, flag] of flags) {
    test(`${value} / --${flag}`, async () => {
      const disagreements: string[] = [];
      let accepted = 0;
      for (const d of DURATIONS) {
        const chart = chartAccepts({ [value]: d });
        const bin = await binaryAccepts([`--${flag}=${d}`]);
        if (chart.accepted !== bin.accepted)
          disagreements.push(
            `${JSON.stringify(d)}: chart ${chart.accepted ? "accepts" : "refuses"}, binary ` +
              `${bin.accepted ? "accepts" : `refuses (${bin.message})`}`,
          );
        if (!chart.accepted && !bin.accepted && chart.message.includes("--")) expect(chart.message).toContain(bin.message);
        if (bin.accepted) accepted++;
      }
      expect(disagreements).toEqual([]);
      // The table has both verdicts for every flag.
      expect(accepted).toBeGreaterThan(1);
      expect(accepted).toBeLessThan(DURATIONS.length - 5);
    }, 180_000);
  }

  test("the leader election timings checked against each other", async () => {
    const cases = [
      ["15s", "10s", "2s"],
      ["10s", "10s", "2s"],
      ["10s", "11s", "2s"],
      ["15s", "2.4s", "2s"],
      ["15s", "2.41s", "2s"],
      ["1s", "900ms", "500ms"],
      ["1s", "600ms", "500ms"],
      ["1s", "601ms", "500ms"],
      ["2m", "1m", "50s"],
      ["2m", "1m", "49.9s"],
    ];
    const disagreements: string[] = [];
    for (const [lease, renew, retry] of cases) {
      const chart = chartAccepts({ leaderElection: { leaseDuration: lease, renewDeadline: renew, retryPeriod: retry } });
      const bin = await binaryAccepts([
        `--leader-elect-lease-duration=${lease}`,
        `--leader-elect-renew-deadline=${renew}`,
        `--leader-elect-retry-period=${retry}`,
      ]);
      if (chart.accepted !== bin.accepted)
        disagreements.push(`${lease}/${renew}/${retry}: chart ${chart.accepted}, binary ${bin.accepted} ${bin.message}`);
    }
    expect(disagreements).toEqual([]);
  }, 180_000);
});

describe("audit.schedule: the chart's verdict is the apiserver's", () => {
  const SCHEDULES = [
    "@hourly",
    "@daily",
    "@midnight",
    "@weekly",
    "@monthly",
    "@yearly",
    "@annually",
    "@every 1h",
    "@every 90s",
    "@every 5",
    "@reboot",
    "@HOURLY",
    "0 * * * *",
    "17 * * * *",
    "*/5 * * * *",
    "0 0 1 1 *",
    "60 * * * *",
    "* 24 * * *",
    "* * 0 * *",
    "* * 32 * *",
    "* * * 13 *",
    "* * * 0 *",
    "* * * JAN *",
    "* * * jan-mar *",
    "* * * * SUN",
    "* * * * 6",
    "* * * * 7",
    "* * * * mon-fri",
    "*/0 * * * *",
    "0 * * *",
    "0 * * * * *",
    "TZ=UTC 0 * * * *",
    "? * * * *",
    "1,2,3 * * * *",
    "1-5/2 * * * *",
    "5/15 * * * *",
    "0  *  * * *",
    "a * * * *",
    "",
    "hourly",
  ];
  /** Ranges that run backwards pass the schema's per-field pattern; the apiserver refuses them. */
  const KNOWN = new Set(["* 5-1 * * *"]);

  let ns: string;
  beforeAll(async () => {
    ns = await useNamespace("chart-schedule");
  });

  test("every schedule in the table", async () => {
    const disagreements: string[] = [];
    for (const schedule of [...SCHEDULES, ...KNOWN]) {
      const chart = chartAccepts({ audit: { enabled: true, schedule } });
      const cronJob = {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: { name: "s", namespace: ns },
        spec: {
          schedule,
          jobTemplate: { spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "x" }] } } } },
        },
      };
      const server = await kubectl(["create", "--dry-run=server", "-o", "name", "-f", "-"], { stdin: JSON.stringify(cronJob) });
      const agree = chart.accepted === (server.code === 0);
      if (agree === KNOWN.has(schedule))
        disagreements.push(
          `${JSON.stringify(schedule)}: chart ${chart.accepted ? "accepts" : "refuses"}, apiserver ` +
            `${server.code === 0 ? "accepts" : `refuses: ${server.stderr.trim()}`}`,
        );
    }
    expect(disagreements).toEqual([]);
  }, 120_000);
});

describe("the apiserver accepts everything the chart renders, with the longest names", () => {
  const release = "r".repeat(53);
  const releaseNs = "o".repeat(63);
  const watched = [`${"n".repeat(40)}-a`, `${"n".repeat(40)}-b`, "w".repeat(63)];
  const crds = ["servicemonitors", "prometheusrules"];

  beforeAll(async () => {
    const c = await testCluster();
    for (const name of [releaseNs, ...watched])
      await c.admin.create(Namespaces, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name } }).catch(() => {});
    // prometheus-operator's kinds, without their schemas: names and metadata are checked, not specs.
    for (const plural of crds) {
      const kind = plural === "servicemonitors" ? "ServiceMonitor" : "PrometheusRule";
      const crd = {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: `${plural}.monitoring.coreos.com` },
        spec: {
          group: "monitoring.coreos.com",
          scope: "Namespaced",
          names: { plural, kind, singular: kind.toLowerCase() },
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
            },
          ],
        },
      };
      const r = await kubectl(["apply", "-f", "-"], { stdin: JSON.stringify(crd) });
      expect(r.stderr).toBe("");
    }
    for (const plural of crds)
      expect((await kubectl(["wait", "--for=condition=Established", `crd/${plural}.monitoring.coreos.com`, "--timeout=60s"])).code).toBe(0);
  });
  afterAll(async () => {
    const c = await testCluster();
    for (const name of [releaseNs, ...watched]) await c.admin.delete(Namespaces, undefined, name).catch(() => {});
  });

  /** Creates the ServiceAccounts (a Pod's admission looks its ServiceAccount up), then dry-runs everything. */
  async function dryRun(manifests: Manifest[]): Promise<string[]> {
    const refused: string[] = [];
    for (const m of manifests.filter((m) => m.kind === "ServiceAccount")) {
      const r = await kubectl(["create", "-o", "name", "-f", "-"], { stdin: JSON.stringify(m) });
      if (r.code !== 0) refused.push(`${m.kind} ${m.metadata.name}: ${r.stderr.trim()}`);
    }
    for (const m of manifests.filter((m) => m.kind !== "ServiceAccount")) {
      const r = await kubectl(["create", "--dry-run=server", "-o", "name", "-f", "-"], { stdin: JSON.stringify(m) });
      if (r.code !== 0) refused.push(`${m.kind} ${m.metadata.name}: ${r.stderr.trim()}`);
    }
    return refused;
  }

  test.each([
    ["a 53-character release, a 63-character namespace, and watched namespaces alike in their first 40 characters", release, {}],
    ["a release called 0, in the same namespaces", "0", {}],
    ["a release beginning with a digit and holding dots", "1.podlogreader.x", {}],
    ["a 253-character fullnameOverride", "x", { fullnameOverride: `${"f".repeat(120)}.${"g".repeat(132)}` }],
  ])(
    "%s",
    async (_, name, extra) => {
      const r = template(name, releaseNs, { ...EVERYTHING_ON, watchNamespaces: watched, ...extra });
      if (!r.ok) throw new Error(r.error);
      const manifests = parseManifests(r.yaml);
      expect(manifests.length).toBeGreaterThan(30);
      expect(await dryRun(manifests)).toEqual([]);
    },
    120_000,
  );

  test.each([
    ["a 53-character release", release, {}],
    ["a 253-character fullnameOverride", "x", { fullnameOverride: `${"f".repeat(120)}.${"g".repeat(132)}` }],
  ])(
    "with the webhook authorizer on, its certificate made by the chart or by cert-manager: %s",
    async (_, name, extra) => {
      // cert-manager's Certificate, without its schema, as for prometheus-operator's kinds above.
      const crd = {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: "certificates.cert-manager.io" },
        spec: {
          group: "cert-manager.io",
          scope: "Namespaced",
          names: { plural: "certificates", kind: "Certificate", singular: "certificate" },
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
            },
          ],
        },
      };
      expect((await kubectl(["apply", "-f", "-"], { stdin: JSON.stringify(crd) })).stderr).toBe("");
      expect((await kubectl(["wait", "--for=condition=Established", "crd/certificates.cert-manager.io", "--timeout=60s"])).code).toBe(0);
      const ca = "-----BEGIN CERTIFICATE-----\nnot parsed by the chart\n-----END CERTIFICATE-----\n";
      for (const source of [
        { "authorizer.certificate.source": "helm" },
        { "authorizer.certificate.source": "cert-manager", "authorizer.certificate.issuerRef.name": "webhooks" },
      ]) {
        const r = template(name, releaseNs, {
          ...EVERYTHING_ON,
          watchNamespaces: watched,
          "authorizer.enabled": true,
          "authorizer.clientCA.pem": ca,
          "authorizer.clusterIP": "10.0.0.250",
          ...source,
          ...extra,
        });
        if (!r.ok) throw new Error(r.error);
        const manifests = parseManifests(r.yaml);
        const off = template(name, releaseNs, { ...EVERYTHING_ON, watchNamespaces: watched, ...extra });
        const before = new Set(parseManifests(off.ok ? off.yaml : "").map((m) => `${m.kind}/${m.metadata.name}`));
        expect(
          manifests
            .filter((m) => !before.has(`${m.kind}/${m.metadata.name}`))
            .map((m) => m.kind)
            .sort(),
        ).toEqual(
          source["authorizer.certificate.source"] === "helm" ? ["ConfigMap", "Secret", "Service"] : ["Certificate", "ConfigMap", "Service"],
        );
        // The ServiceAccounts may be there from the cases above; made here when not.
        for (const m of manifests.filter((m) => m.kind === "ServiceAccount"))
          await kubectl(["create", "-o", "name", "-f", "-"], { stdin: JSON.stringify(m) });
        expect(await dryRun(manifests.filter((m) => m.kind !== "ServiceAccount"))).toEqual([]);
      }
    },
    120_000,
  );
});
