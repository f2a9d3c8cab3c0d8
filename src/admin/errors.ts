/** A refusal or failure the admin commands explain to the person who ran them (exit code 1). */
export class AdminError extends Error {
  override name = "AdminError";
}
