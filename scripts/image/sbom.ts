// Writes an SPDX 2.3 JSON SBOM of what an image (or a release binary) holds: the Debian packages
// of its root filesystem, the podlogreader binary, the Bun runtime compiled into it and the npm
// production dependencies bundled into it (from package-lock.json).
// Usage: bun scripts/image/sbom.ts --name NAME --version V --revision SHA --source URL
//          --created EPOCH --binary PATH --bun-target TARGET [--deb FILE]... [--locked NAME=VERSION]...
//          > sbom.spdx.json
// --locked names a package whose .deb is not the version debs.lock pins (apt no longer offered it).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";

interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo: string;
  downloadLocation: string;
  filesAnalyzed: false;
  licenseConcluded: string;
  licenseDeclared: string;
  copyrightText: "NOASSERTION";
  supplier?: string;
  packageFileName?: string;
  checksums?: { algorithm: "SHA256" | "SHA512"; checksumValue: string }[];
  externalRefs?: { referenceCategory: "PACKAGE-MANAGER"; referenceType: "purl"; referenceLocator: string }[];
  primaryPackagePurpose?: "APPLICATION" | "CONTAINER" | "LIBRARY" | "OPERATING-SYSTEM";
  comment?: string;
}

interface LockEntry {
  version?: string;
  integrity?: string;
  license?: string;
  resolved?: string;
  dev?: boolean;
  devOptional?: boolean;
  link?: boolean;
}

const { values: args } = parseArgs({
  options: {
    name: { type: "string" },
    version: { type: "string" },
    revision: { type: "string" },
    source: { type: "string" },
    created: { type: "string" },
    binary: { type: "string" },
    "bun-target": { type: "string" },
    deb: { type: "string", multiple: true, default: [] },
    locked: { type: "string", multiple: true, default: [] },
  },
});
for (const required of ["name", "version", "revision", "source", "created", "binary", "bun-target"] as const) {
  if (!args[required]) throw new Error(`sbom: --${required} is required`);
}
const root = join(import.meta.dir, "../..");
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const spdxId = (kind: string, name: string) => `SPDXRef-${kind}-${name.replace(/[^A-Za-z0-9.-]/g, "-")}`;
const purlNpm = (name: string, version: string) => `pkg:npm/${name.startsWith("@") ? `%40${name.slice(1)}` : name}@${version}`;

function dpkgField(deb: string, field: string): string {
  const r = Bun.spawnSync(["dpkg-deb", "-f", deb, field]);
  if (r.exitCode !== 0) throw new Error(`dpkg-deb -f ${deb} ${field}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

const locked = new Map(
  (args.locked ?? []).map((pair) => {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`sbom: --locked takes NAME=VERSION, not ${pair}`);
    return [pair.slice(0, eq), pair.slice(eq + 1)] as const;
  }),
);
const drift = (name: string, version: string) =>
  `scripts/image/debs.lock pins ${locked.get(name)}, which apt no longer offered; this build used ${version}, with the sha256 of ` +
  `apt's signed index`;

const debs: SpdxPackage[] = (args.deb ?? []).map((deb) => {
  const [name, version, arch] = ["Package", "Version", "Architecture"].map((f) => dpkgField(deb, f)) as [string, string, string];
  return {
    SPDXID: spdxId("deb", name),
    name,
    versionInfo: version,
    supplier: `Organization: ${dpkgField(deb, "Maintainer")}`,
    downloadLocation: "NOASSERTION",
    packageFileName: basename(deb),
    filesAnalyzed: false,
    licenseConcluded: "NOASSERTION",
    licenseDeclared: "NOASSERTION",
    copyrightText: "NOASSERTION",
    checksums: [{ algorithm: "SHA256", checksumValue: sha256(deb) }],
    externalRefs: [
      {
        referenceCategory: "PACKAGE-MANAGER",
        referenceType: "purl",
        referenceLocator: `pkg:deb/debian/${name}@${encodeURIComponent(version)}?arch=${arch}&distro=debian-12`,
      },
    ],
    primaryPackagePurpose: name === "base-files" ? "OPERATING-SYSTEM" : "LIBRARY",
    ...(locked.has(name) ? { comment: drift(name, version) } : {}),
  };
});

const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };
const npm: SpdxPackage[] = Object.entries(lock.packages)
  .filter(([path, e]) => path !== "" && !e.dev && !e.devOptional && !e.link && e.version)
  .map(([path, e]): SpdxPackage => {
    const name = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    const [algorithm, digest] = (e.integrity ?? "").split("-") as [string, string | undefined];
    return {
      SPDXID: spdxId("npm", `${name}-${e.version}`),
      name,
      versionInfo: e.version!,
      downloadLocation: e.resolved ?? "NOASSERTION",
      filesAnalyzed: false,
      licenseConcluded: "NOASSERTION",
      licenseDeclared: e.license ?? "NOASSERTION",
      copyrightText: "NOASSERTION",
      ...(algorithm === "sha512" && digest
        ? { checksums: [{ algorithm: "SHA512" as const, checksumValue: Buffer.from(digest, "base64").toString("hex") }] }
        : {}),
      externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: purlNpm(name, e.version!) }],
      primaryPackagePurpose: "LIBRARY",
    };
  })
  .sort((a, b) => a.name.localeCompare(b.name));

const bunVersion = lock.packages["node_modules/bun"]?.version;
if (!bunVersion) throw new Error("sbom: package-lock.json holds no bun version");
const runtimeName = `@oven/${args["bun-target"]}`;
const runtime: SpdxPackage = {
  SPDXID: spdxId("runtime", runtimeName),
  name: runtimeName,
  versionInfo: bunVersion,
  downloadLocation: `https://registry.npmjs.org/${runtimeName}/-/${args["bun-target"]}-${bunVersion}.tgz`,
  filesAnalyzed: false,
  licenseConcluded: "NOASSERTION",
  licenseDeclared: "MIT",
  copyrightText: "NOASSERTION",
  externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: purlNpm(runtimeName, bunVersion) }],
  primaryPackagePurpose: "LIBRARY",
};
const binary: SpdxPackage = {
  SPDXID: "SPDXRef-podlogreader",
  name: "podlogreader",
  versionInfo: args.version!,
  downloadLocation: `git+${args.source}@${args.revision}`,
  packageFileName: "/podlogreader",
  filesAnalyzed: false,
  licenseConcluded: "Apache-2.0",
  licenseDeclared: "Apache-2.0",
  copyrightText: "NOASSERTION",
  checksums: [{ algorithm: "SHA256", checksumValue: sha256(args.binary!) }],
  primaryPackagePurpose: "APPLICATION",
};
const image: SpdxPackage = {
  SPDXID: "SPDXRef-image",
  name: args.name!,
  versionInfo: args.version!,
  downloadLocation: "NOASSERTION",
  filesAnalyzed: false,
  licenseConcluded: "NOASSERTION",
  licenseDeclared: "NOASSERTION",
  copyrightText: "NOASSERTION",
  primaryPackagePurpose: debs.length ? "CONTAINER" : "APPLICATION",
};

for (const name of locked.keys()) if (!debs.some((d) => d.name === name)) throw new Error(`sbom: --locked ${name} is not a --deb package`);

const created = new Date(Number(args.created) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
const contains = (from: string, to: SpdxPackage) => ({ spdxElementId: from, relationshipType: "CONTAINS", relatedSpdxElement: to.SPDXID });
const document = {
  spdxVersion: "SPDX-2.3",
  dataLicense: "CC0-1.0",
  SPDXID: "SPDXRef-DOCUMENT",
  name: `${args.name}-${args.version}`,
  documentNamespace: `${args.source!.replace(/\.git$/, "")}/spdx/${args.name}-${args.version}-${args.revision}`,
  creationInfo: {
    created,
    creators: ["Tool: podlogreader-scripts/image/sbom.ts"],
    ...(locked.size > 0 ? { comment: `Debian packages not at their locked version: ${[...locked.keys()].sort().join(", ")}` } : {}),
  },
  packages: [image, binary, runtime, ...debs, ...npm],
  relationships: [
    { spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: image.SPDXID },
    contains(image.SPDXID, binary),
    ...debs.map((d) => contains(image.SPDXID, d)),
    contains(binary.SPDXID, runtime),
    ...npm.map((p) => contains(binary.SPDXID, p)),
  ],
};
process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
