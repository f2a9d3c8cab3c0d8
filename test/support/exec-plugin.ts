// An exec credential plugin for tests, run as `bun test/support/exec-plugin.ts <dir>`.
// It prints the next ExecCredential from <dir>/credentials.json (the last one again once the
// list is used up) and appends the KUBERNETES_EXEC_INFO it was given to <dir>/calls, one line per
// run, so a test can count the runs and read what the plugin was told.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecConfig } from "../../src/kube/kubeconfig.ts";
import type { ExecCredentialStatus } from "../../src/kube/exec-credential.ts";

const API_VERSION = "client.authentication.k8s.io/v1";

export interface TestExecPlugin {
  dir: string;
  /** The `exec` stanza of a kubeconfig user that runs this plugin. */
  exec: ExecConfig;
  /** How many times the plugin has run. */
  calls(): number;
  /** The KUBERNETES_EXEC_INFO of each run. */
  execInfos(): { spec: { interactive: boolean; cluster?: Record<string, unknown> } }[];
}

/** A plugin that prints these statuses in turn. */
export function testExecPlugin(statuses: ExecCredentialStatus[], extra: Partial<ExecConfig> = {}): TestExecPlugin {
  const dir = mkdtempSync(join(tmpdir(), "podlogreader-exec-plugin-"));
  writeFileSync(join(dir, "credentials.json"), JSON.stringify(statuses));
  const lines = () => (existsSync(join(dir, "calls")) ? readFileSync(join(dir, "calls"), "utf8").split("\n").filter(Boolean) : []);
  return {
    dir,
    exec: { apiVersion: API_VERSION, command: process.execPath, args: [import.meta.path, dir], interactiveMode: "Never", ...extra },
    calls: () => lines().length,
    execInfos: () => lines().map((l) => JSON.parse(l)),
  };
}

if (import.meta.main) {
  const dir = process.argv[2]!;
  const statuses = JSON.parse(readFileSync(join(dir, "credentials.json"), "utf8")) as ExecCredentialStatus[];
  const calls = existsSync(join(dir, "calls")) ? readFileSync(join(dir, "calls"), "utf8").split("\n").filter(Boolean).length : 0;
  appendFileSync(join(dir, "calls"), `${process.env.KUBERNETES_EXEC_INFO ?? "{}"}\n`);
  const status = statuses[Math.min(calls, statuses.length - 1)];
  process.stdout.write(JSON.stringify({ apiVersion: API_VERSION, kind: "ExecCredential", status }));
}
