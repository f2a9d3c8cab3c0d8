// Preloaded by bun test (bunfig.toml): cleans up after the whole run.
import { afterAll } from "bun:test";
import { deleteTestNamespaces } from "./support/cluster.ts";

afterAll(deleteTestNamespaces);
