// The controller under test: two replicas of the compiled binary with leader election, each
// killable, pausable (SIGSTOP/SIGCONT) and restarted when it exits, as a Deployment would.
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";

export interface ReplicaOptions {
  binary: string;
  kubeconfig: string;
  namespaces: string[];
  leaseNamespace: string;
  leaseName: string;
  logDir: string;
  /** More arguments for the replica of this index. */
  args?: (index: number) => string[];
}

interface Replica {
  index: number;
  proc: Subprocess<"ignore", "ignore", "pipe">;
  identity?: string;
  paused: boolean;
  /** Set while the harness itself ends the process, so the exit is not counted as unexpected. */
  killing: boolean;
}

/** A line in which a replica reported a refused write of a workload's objects. */
export interface RefusalReport {
  at: number;
  kind: string;
  namespace: string;
  name: string;
}

const REFUSAL_REASON = /\breason=RoleWriteRefused\b/;

/** The workload a RoleWriteRefused log line (logfmt fields after the message) is about. */
export function refusalReport(line: string, at: number): RefusalReport | undefined {
  if (!REFUSAL_REASON.test(line)) return undefined;
  const field = (k: string) => line.match(new RegExp(`\\s${k}=("(?:[^"\\\\]|\\\\.)*"|\\S+)`))?.[1]?.replace(/^"(.*)"$/, "$1");
  const kind = field("kind");
  const namespace = field("namespace");
  const name = field("name");
  return kind && namespace && name ? { at, kind, namespace, name } : undefined;
}

export class Replicas {
  private readonly replicas: Replica[] = [];
  /** Every RoleWriteRefused line any replica wrote, in order. */
  readonly refusalReports: RefusalReport[] = [];
  private stopped = false;
  private resumeTimer: Timer | undefined;
  /** Exits the harness did not cause (e.g. a replica that lost its Lease stops itself). */
  unexpectedExits: { replica: number; code: number | null; at: number }[] = [];
  starts = 0;

  constructor(
    private readonly options: ReplicaOptions,
    count = 2,
  ) {
    for (let i = 0; i < count; i++) this.replicas.push(this.spawn(i));
  }

  private spawn(index: number): Replica {
    const o = this.options;
    const args = [
      o.binary,
      "--kubeconfig",
      o.kubeconfig,
      "--leader-elect",
      `--leader-election-namespace=${o.leaseNamespace}`,
      `--leader-election-id=${o.leaseName}`,
      "--create-sa-and-rolebinding",
      ...o.namespaces.map((n) => `--namespace=${n}`),
      "--log-level=info",
      "--metrics-bind-address=127.0.0.1:0",
      "--health-probe-bind-address=127.0.0.1:0",
      ...(o.args?.(index) ?? []),
    ];
    const proc = Bun.spawn(args, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    this.starts++;
    const replica: Replica = { index, proc, paused: false, killing: false };
    const logFile = join(o.logDir, `replica-${index}.log`);
    appendFileSync(logFile, `--- started pid ${proc.pid} at ${new Date().toISOString()}\n`);
    void (async () => {
      const decoder = new TextDecoder();
      let partial = "";
      for await (const chunk of proc.stderr) {
        const text = decoder.decode(chunk, { stream: true });
        appendFileSync(logFile, text);
        replica.identity ??= text.match(/identity ([^)\s]+)\)/)?.[1];
        const lines = (partial + text).split("\n");
        partial = lines.pop()!;
        for (const line of lines) {
          const report = refusalReport(line, Date.now());
          if (report) this.refusalReports.push(report);
        }
      }
    })().catch(() => {});
    void proc.exited.then((code) => {
      appendFileSync(logFile, `--- pid ${proc.pid} exited with ${code} at ${new Date().toISOString()}\n`);
      if (this.stopped || replica.killing || this.replicas[index] !== replica) return;
      this.unexpectedExits.push({ replica: index, code, at: Date.now() });
      // Restarted after a second, as the kubelet would.
      setTimeout(() => {
        if (!this.stopped && this.replicas[index] === replica) this.replicas[index] = this.spawn(index);
      }, 1000);
    });
    return replica;
  }

  get count(): number {
    return this.replicas.length;
  }

  /** The replica whose identity holds the Lease, if known. */
  indexOf(identity: string): number | undefined {
    return this.replicas.find((r) => r.identity === identity)?.index;
  }

  /** SIGKILL, then start it again at once. */
  async kill(index: number): Promise<void> {
    const replica = this.replicas[index]!;
    if (replica.paused) this.clearPause();
    replica.killing = true;
    replica.proc.kill("SIGKILL");
    await replica.proc.exited;
    if (!this.stopped) this.replicas[index] = this.spawn(index);
  }

  get pausedIndex(): number | undefined {
    return this.replicas.find((r) => r.paused)?.index;
  }

  /** SIGSTOP for `ms`, then SIGCONT; one replica at a time. False when one is already paused. */
  pause(index: number, ms: number): boolean {
    if (this.pausedIndex !== undefined) return false;
    const replica = this.replicas[index]!;
    replica.proc.kill("SIGSTOP");
    replica.paused = true;
    this.resumeTimer = setTimeout(() => this.resume(), ms);
    return true;
  }

  resume(): void {
    clearTimeout(this.resumeTimer);
    for (const r of this.replicas) {
      if (!r.paused) continue;
      r.paused = false;
      if (r.proc.exitCode === null) r.proc.kill("SIGCONT");
    }
  }

  private clearPause(): void {
    clearTimeout(this.resumeTimer);
    for (const r of this.replicas) r.paused = false;
  }

  /** Ends every replica (SIGCONT first so a stopped one can die), and waits for them. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.resume();
    for (const r of this.replicas) if (r.proc.exitCode === null) r.proc.kill("SIGKILL");
    await Promise.all(this.replicas.map((r) => r.proc.exited));
  }

  /** Synchronous last resort on process exit. */
  killAllNow(): void {
    this.stopped = true;
    for (const r of this.replicas) {
      try {
        r.proc.kill("SIGCONT");
        r.proc.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
}
