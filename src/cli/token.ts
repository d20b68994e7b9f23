// The runner's bearer token: from a file (the mounted Secret) or the environment. The file may
// hold the bare token or "Bearer <token>" (what the Sensor's secureHeader sends), so one Secret
// key serves both. The generated placeholder and short tokens are refused.
import { PLACEHOLDER_TOKEN } from "../generate/runner.js";
import { readBounded } from "../hookset/input.js";

const MIN_LENGTH = 16;

export function readToken(file: string | undefined, env: string | undefined): { value?: string; error?: string } {
  let raw: string | undefined;
  if (file) {
    try {
      raw = readBounded(file).toString("utf8");
    } catch (err) {
      return { error: `cannot read token file ${file}: ${(err as Error).message}` };
    }
  } else {
    raw = env;
  }
  if (raw === undefined || raw.trim() === "") return file ? { error: `token file ${file} is empty` } : {};
  const value = raw.trim().replace(/^Bearer\s+/i, "");
  if (`Bearer ${value}` === PLACEHOLDER_TOKEN)
    return {
      error: "the token is still the generated placeholder: put a random token in the Secret (see README, Deploying)",
    };
  if (value.length < MIN_LENGTH)
    return { error: `the token is ${value.length} characters; use at least ${MIN_LENGTH} (e.g. openssl rand -hex 32)` };
  return { value };
}
