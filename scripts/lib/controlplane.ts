// Forwarding only, for the two files that still import the harness from its old place
// (test/e2e/webhook-authorizer.test.ts, test/support/webhook-scene.ts). Delete this file, and
// scripts/lib/ with it, once they import ../../scripts/harness/controlplane.ts.
export { kubeconfigYaml } from "../harness/controlplane.ts";
