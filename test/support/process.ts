// Processes the tests run: the compiled binary, kubectl, and anything left running in the
// background while the test watches its output. One place for how each is spawned.
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { eventually } from "../../scripts/harness/poll.ts";
import { testCluster } from "./cluster.ts";

/** The compiled executable, as `make build` leaves it. */
export const BINARY = resolve(import.meta.dir, "../../dist/podlogreader");

export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `argv` to its end; `env` is its whole environment when given; `stdin` is written to it. */
export async function finish(
  argv: string[],
  opts: { env?: Record<string, string>; stdin?: string; timeoutMs?: number } = {},
): Promise<Finished> {
  const proc = Bun.spawn(argv, {
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
  });
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code, stdout, stderr };
}

/** The environment of a binary run: PATH, and KUBECONFIG (the suite's admin unless given). */
async function binaryEnv(kubeconfig: string | undefined, env: Record<string, string> = {}): Promise<Record<string, string>> {
  return { PATH: process.env.PATH ?? "", KUBECONFIG: kubeconfig ?? (await testCluster()).kubeconfig, ...env };
}

/** The compiled binary with `args`, to its end. */
export async function podlogreader(
  args: string[],
  opts: { kubeconfig?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Finished> {
  return finish([BINARY, ...args], { env: await binaryEnv(opts.kubeconfig, opts.env), timeoutMs: opts.timeoutMs });
}

/** The local control plane's kubectl, as admin unless `kubeconfig` says otherwise. */
export async function kubectl(args: string[], opts: { kubeconfig?: string; stdin?: string; timeoutMs?: number } = {}): Promise<Finished> {
  const c = await testCluster();
  return finish([join(c.binDir, "kubectl"), "--kubeconfig", opts.kubeconfig ?? c.kubeconfig, ...args], {
    stdin: opts.stdin,
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
}

export interface Background {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything printed so far. */
  seen: { stdout: string; stderr: string };
  /** stdout and stderr lines so far, in the order they came. */
  log: string[];
  /** Waits until stdout satisfies `check`; fails at once if the process exits first, showing what it printed. */
  waitFor(what: string, check: (stdout: string) => boolean, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number>;
}

/** Starts `argv` and collects its output as it comes. */
export function background(argv: string[], opts: { env?: Record<string, string> } = {}): Background {
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", ...(opts.env ? { env: opts.env } : {}) });
  const seen = { stdout: "", stderr: "" };
  const log: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      seen[key] += text;
      log.push(...text.split("\n").filter(Boolean));
    }
  };
  const done = Promise.all([collect(proc.stdout, "stdout"), collect(proc.stderr, "stderr")]);
  return {
    proc,
    seen,
    log,
    async waitFor(what, check, timeoutMs = 120_000) {
      const shown = () => `\n--- stdout\n${seen.stdout}--- stderr\n${seen.stderr}`;
      let printed: boolean;
      try {
        printed = await eventually(what, async () => (check(seen.stdout) ? true : proc.exitCode !== null ? false : undefined), timeoutMs);
      } catch (err) {
        throw new Error(`${(err as Error).message}${shown()}`, { cause: err });
      }
      if (!printed) throw new Error(`${argv[0]} exited with code ${proc.exitCode} before ${what}${shown()}`);
    },
    async stop() {
      proc.kill("SIGTERM");
      const code = await proc.exited;
      await done;
      return code;
    },
  };
}

/** The binary in the background, with KUBECONFIG set (the suite's admin unless given). */
export async function podlogreaderInBackground(
  args: string[],
  opts: { kubeconfig?: string; env?: Record<string, string> } = {},
): Promise<Background> {
  return background([BINARY, ...args], { env: await binaryEnv(opts.kubeconfig, opts.env) });
}
