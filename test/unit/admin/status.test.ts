// `podlogreader status`: whether a managed Role is in sync with its workload's pods, in either mode.
import { describe, expect, test } from "bun:test";
import { syncState } from "../../../src/admin/status.ts";

const names = (...pods: string[]) => ({
  rules: [
    { apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"], resourceNames: pods },
    { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"], resourceNames: ["web"] },
  ],
});
const none = { rules: [{ apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"], resourceNames: ["web"] }] };

describe("syncState", () => {
  test("a Role that names pods is in sync only when it names exactly the workload's pods", () => {
    expect(syncState(names("web-b", "web-a"), ["web-a", "web-b"])).toBe("in-sync");
    expect(syncState(names("web-a"), ["web-a", "web-b"])).toBe("out-of-sync");
    expect(syncState(names("web-a", "gone"), ["web-a"])).toBe("out-of-sync");
  });

  test("a Role that names no pod (--role-pod-names=none) holds nothing that can go stale: in sync whatever the pods", () => {
    expect(syncState(none, ["web-a", "web-b"])).toBe("in-sync");
    expect(syncState(none, [])).toBe("in-sync");
  });
});
