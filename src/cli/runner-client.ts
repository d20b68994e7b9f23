// The runner's HTTP API as `send` and `runs` call it. node:http and node:https, not fetch: fetch
// refuses the WHATWG "bad ports" (6000, 6665-6669, 10080 …) before it connects, and a runner may
// listen on any port.
import http from "node:http";
import https from "node:https";
import { CliError, Failure, UsageError } from "./exit.js";
import { readToken } from "./token.js";

export interface Answer {
  status: number;
  /** The parsed JSON, or the text when the body is not JSON. */
  body: unknown;
}

/** The Authorization header from --token-file or $RESOURCE_HOOKS_TOKEN (none when neither is set). */
export function authHeaders(tokenFile: string | undefined): Record<string, string> {
  const token = readToken(tokenFile, process.env.RESOURCE_HOOKS_TOKEN);
  if (token.error) throw new UsageError(token.error);
  return token.value ? { authorization: `Bearer ${token.value}` } : {};
}

/** The runner refused: its answer, with the status, is the command's failure. */
export function refused({ status, body }: Answer): Failure {
  return new Failure(`HTTP ${status}: ${typeof body === "string" ? body : JSON.stringify(body)}`);
}

export class RunnerClient {
  private readonly base: string;

  constructor(
    url: string,
    private readonly headers: Record<string, string>,
  ) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--url ${url}: not a URL (expected e.g. http://127.0.0.1:8080)`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
      throw new UsageError(`--url ${url}: expected an http:// or https:// URL`);
    this.base = url.replace(/\/+$/, "");
  }

  get(path: string): Promise<Answer> {
    return this.call("GET", path);
  }

  post(path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
    return this.call("POST", path, body, headers);
  }

  /** A run's URL path. */
  static runPath(name: string): string {
    return `/runs/${encodeURIComponent(name)}`;
  }

  private call(method: string, path: string, body?: string, extra: Record<string, string> = {}): Promise<Answer> {
    const url = `${this.base}${path}`;
    const unreachable = (err: Error) =>
      new CliError(`cannot reach the runner at ${url}: ${err.message}`, { cause: err });
    return new Promise((resolve, reject) => {
      const transport = url.startsWith("https:") ? https : http;
      const request = transport.request(url, { method, headers: { ...this.headers, ...extra } }, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", (err) => reject(unreachable(err)));
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: the text as it came
          }
          resolve({ status: response.statusCode ?? 0, body: parsed });
        });
      });
      request.on("error", (err) => reject(unreachable(err)));
      request.end(body);
    });
  }
}
