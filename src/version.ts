import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;

// Set at build time (`bun build --define PODLOGREADER_REVISION='"<commit>"'`, see the Makefile).
declare const PODLOGREADER_REVISION: string | undefined;
/** The commit the binary was built from; "unknown" when run from source. */
export const REVISION: string = typeof PODLOGREADER_REVISION === "string" ? PODLOGREADER_REVISION : "unknown";
