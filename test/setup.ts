// Preloaded by bun test (bunfig.toml): cleans up after the whole run.
import { afterAll } from "bun:test";
import { cleanUpTestCluster } from "./support/cluster.ts";

afterAll(cleanUpTestCluster);
