// What the image adds to the controller's environment beyond PATH and SSL_CERT_FILE: Bun's
// once-a-second collection timer off (docs/benchmarks.md, "Idle"). scripts/image/build.sh and
// Dockerfile.distroless set the same; test/e2e/image.test.ts checks the built image carries it, and
// the idle benchmark runs the binary with it to measure the controller as the chart runs it.
export const IMAGE_ENV: Readonly<Record<string, string>> = { BUN_GC_TIMER_DISABLE: "1" };
