// This package's version, from its package.json (next to dist/ and src/ alike, and in the image):
// `resource-hooks version` prints it and the default runner image is tagged with it, so the
// manifests a release generates name the image that release publishes.
import { readFileSync } from "node:fs";

export const VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
