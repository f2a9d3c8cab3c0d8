// What the image adds to the controller's environment beyond PATH and SSL_CERT_FILE (docs/benchmarks.md):
// - BUN_GC_TIMER_DISABLE: Bun's once-a-second collection timer off ("Idle");
// - BUN_JSC_useFTLJIT: JavaScriptCore's top compiler tier off; its code is never paged in and
//   its compilations never run ("Memory").
// scripts/image/build.sh sets these (run as a script, this prints them) and Dockerfile.distroless
// repeats them; test/e2e/image.test.ts checks the built image carries them, and the benchmark runs
// the controller with them, as the chart runs it.
export const IMAGE_ENV: Readonly<Record<string, string>> = { BUN_GC_TIMER_DISABLE: "1", BUN_JSC_useFTLJIT: "0" };

if (import.meta.main) for (const [name, value] of Object.entries(IMAGE_ENV)) console.log(`${name}=${value}`);
