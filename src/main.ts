// The binary: one command per invocation, chosen by the registry.
import { dispatch } from "./commands/registry.ts";

process.exit(await dispatch(process.argv.slice(2)));
