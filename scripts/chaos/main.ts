// `make chaos`: a seeded randomized run against a fresh local control plane. Prints the report,
// writes it as JSON to $CHAOS_OUT (default chaos/report.json), exits 1 on any violation.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseDuration } from "./duration.ts";
import { flagHelp, parseFlags, UsageError, type Flag } from "../../src/flags/parse.ts";
import { runChaos } from "./harness.ts";
import { formatReport } from "./report.ts";

const FLAGS: Flag[] = [
  {
    name: "seed",
    kind: "string",
    value: "N",
    help: "Seed of the operation sequence (an unsigned 32-bit integer). Default: $CHAOS_SEED, else random (printed).",
  },
  { name: "duration", kind: "string", value: "DURATION", help: "Run at least this long, e.g. 10m. Default: $CHAOS_DURATION, else 0." },
  { name: "ops", kind: "string", value: "N", help: "Run at least this many operations. Default: $CHAOS_OPS, else 300." },
  {
    name: "settle-timeout",
    kind: "string",
    value: "DURATION",
    default: "120s",
    help: "How long the controller may take to settle after a burst before what is still wrong counts as a violation.",
  },
  {
    name: "reaction-time",
    kind: "string",
    value: "DURATION",
    help:
      "How long a grant may outlive its pod (or, in a refusal period with a way out, its reason) before the judge counts it. " +
      "Default: the README's removal p99, 115ms.",
  },
  { name: "max-pause", kind: "string", value: "DURATION", default: "60s", help: "Longest SIGSTOP of a replica." },
  {
    name: "role-pod-names",
    kind: "string",
    value: "MODE",
    help:
      "The replicas' --role-pod-names, names or none. Default: $CHAOS_ROLE_POD_NAMES, else none for an odd seed and names for an " +
      "even one.",
  },
  { name: "out", kind: "string", value: "FILE", help: "Where the JSON report goes. Default: $CHAOS_OUT, else chaos/report.json." },
  { name: "help", kind: "bool", help: "Show this help and exit." },
];

const repo = resolve(import.meta.dir, "../..");

function usage(): string {
  return [
    "Usage: bun scripts/chaos/main.ts [flags]",
    "",
    "Abuses dist/podlogreader (two replicas, leader election) on a fresh local control plane",
    "with seeded random operations, and judges the grants with SubjectAccessReview.",
    "",
    ...flagHelp(FLAGS),
  ].join("\n");
}

function number(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new UsageError(`--${name} must be a whole number from 0 to 4294967295, not ${JSON.stringify(text)}`);
  return n;
}

function milliseconds(name: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new UsageError(`--${name} must be a duration like 90s or 10m, not ${JSON.stringify(text)}`);
  return ms;
}

async function main(): Promise<number> {
  let options: Parameters<typeof runChaos>[0];
  let out: string;
  try {
    const { values } = parseFlags(FLAGS, process.argv.slice(2));
    if (values.help === "true") {
      console.log(usage());
      return 0;
    }
    const get = (flag: string, env: string) => (values[flag] as string | undefined) || process.env[env] || undefined;
    const seedText = get("seed", "CHAOS_SEED");
    options = {
      seed: seedText === undefined ? Math.floor(Math.random() * 2 ** 32) : number("seed", seedText),
      ops: number("ops", get("ops", "CHAOS_OPS") ?? "300"),
      durationMs: milliseconds("duration", get("duration", "CHAOS_DURATION") ?? "0s"),
      settleTimeoutMs: milliseconds("settle-timeout", values["settle-timeout"] as string),
      maxPauseSeconds: milliseconds("max-pause", values["max-pause"] as string) / 1000,
      ...(values["reaction-time"] ? { reactionMs: milliseconds("reaction-time", values["reaction-time"] as string) } : {}),
    };
    const mode = get("role-pod-names", "CHAOS_ROLE_POD_NAMES");
    if (mode !== undefined && mode !== "names" && mode !== "none")
      throw new UsageError(`--role-pod-names must be names or none, not ${JSON.stringify(mode)}`);
    if (mode) Object.assign(options, { rolePodNames: mode });
    out = get("out", "CHAOS_OUT") ?? join(repo, "chaos", "report.json");
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`chaos: ${err.message}\nRun with --help for the flags.\n`);
    return 2;
  }
  const report = await runChaos(options);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(formatReport(report));
  console.log(`\nreport written to ${out}`);
  return report.violations.length ? 1 : 0;
}

process.exit(await main());
