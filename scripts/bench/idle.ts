// The `idle` scenario: what the controller costs when there is nothing to do. 100 opted-in
// Deployments (one pod each) are in sync; nothing changes for a minute; the controller's CPU time,
// wake-ups and RSS over that minute are read from /proc, with and without leader election.
import { readdirSync, readFileSync } from "node:fs";
import { managedName } from "../../src/access/names.ts";
import { Deployments } from "../../src/kube/resources.ts";
import { IMAGE_ENV } from "../image/env.ts";
import { deployment, forEachLimit, MiB, namespace, round, RoleWatch, startController, until, withCluster } from "./kit.ts";

/** Clock ticks per second of utime/stime in /proc/PID/stat (USER_HZ; 100 on Linux). */
const USER_HZ = 100;

export interface IdleRun {
  leaderElect: boolean;
  /** Run with the image's environment (IMAGE_ENV), as the chart runs it; else the bare binary. */
  imageEnv: boolean;
  seconds: number;
  /** utime + stime of the whole process, per second of wall time. */
  cpuMsPerSecond: number;
  /** Voluntary and involuntary context switches of all its threads, per second: how often it wakes. */
  wakeupsPerSecond: number;
  /** API requests the controller sent during the window (rest_client_requests_total). */
  apiRequests: number;
  rssMiB: number;
}

export interface IdleResult {
  deployments: number;
  runs: IdleRun[];
}

/** CPU ticks (utime + stime) of the process, all threads included. */
function cpuTicks(pid: number): number {
  // The command name may hold spaces; the fields after it are fixed.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Context switches of each live thread of the process, by thread id. */
function contextSwitches(pid: number): Map<string, number> {
  const byThread = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
      let n = 0;
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) n += Number(m[1]);
      byThread.set(tid, n);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return byThread;
}

/** Switches between two readings: of threads alive at the end (one that ended in between is not counted). */
function switchesBetween(before: Map<string, number>, after: Map<string, number>): number {
  let n = 0;
  for (const [tid, count] of after) n += count - (before.get(tid) ?? 0);
  return n;
}

/**
 * Runs the controller over `deployments` opted-in Deployments until every Role is right, lets it
 * settle for `settleMs`, then measures `windowMs` of doing nothing; without and with --leader-elect
 * (which renews its Lease every 2 s by design), each as the bare binary and with the image's
 * environment.
 */
export function idle(deployments = 100, windowMs = 60_000, settleMs = 15_000): Promise<IdleResult> {
  return withCluster(async (env) => {
    const ns = await namespace(env.api, "idle");
    const list = Array.from({ length: deployments }, (_, i) => `d${i}`);
    await forEachLimit(list, 32, (d) => env.api.create(Deployments, ns, deployment(d, 1)));
    const roles = await RoleWatch.start(env.api, ns);
    const runs: IdleRun[] = [];
    for (const [imageEnv, leaderElect] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ] as const) {
      const ctl = await startController(
        env,
        ["--namespace", ns, ...(leaderElect ? ["--leader-elect", "--leader-election-namespace", ns] : [])],
        imageEnv ? IMAGE_ENV : {},
      );
      await until(
        `${deployments} Roles to list their pod`,
        async () => (list.every((d) => roles.pods.get(managedName("Deployment", d))?.size === 1) ? true : undefined),
        180_000,
      );
      await Bun.sleep(settleMs);
      const pid = ctl.proc.pid;
      const requests0 = await ctl.counter("rest_client_requests_total");
      const [ticks0, switches0, t0] = [cpuTicks(pid), contextSwitches(pid), performance.now()];
      await Bun.sleep(windowMs);
      const [ticks1, switches1, t1] = [cpuTicks(pid), contextSwitches(pid), performance.now()];
      // Read after the window: the scrape itself must not count as idle work.
      const requests1 = await ctl.counter("rest_client_requests_total");
      const seconds = (t1 - t0) / 1000;
      runs.push({
        leaderElect,
        imageEnv,
        seconds: round(seconds),
        cpuMsPerSecond: round(((ticks1 - ticks0) * (1000 / USER_HZ)) / seconds, 2),
        wakeupsPerSecond: round(switchesBetween(switches0, switches1) / seconds, 1),
        apiRequests: requests1 - requests0,
        rssMiB: MiB(ctl.memory().rss),
      });
      await ctl.stop();
    }
    roles.stop();
    return { deployments, runs };
  });
}
