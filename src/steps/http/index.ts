// http: one HTTP request with a JSON body, the event's Idempotency-Key, secret headers from
// SecretSources, and the response (status, safe headers, body) as output. The URL is a URL
// template: placeholder values are percent-encoded for the URL unless written {{+ expr }}.
import { urlTemplateProblems } from "../../expr/template.js";
import { sendHttp, jsonBody, safeHeaders, statusFailure, describeUrl } from "../common/http.js";
import { renderUrlAt, renderText, renderValueAt } from "../common/render.js";
import { isSecretSource, secretKeyRefs, secretSourceSchema } from "../common/secrets.js";
import { templated } from "../common/schema.js";
import { StepFailure, type SecretSource, type StepProblem, type StepType } from "../types.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS";

/** A header value from a secret, optionally with a prefix (e.g. "Bearer "). */
export type SecretHeader = SecretSource & { prefix?: string };

export interface HttpConfig {
  method?: HttpMethod;
  url: string;
  headers?: Record<string, string | SecretHeader>;
  body?: unknown;
  /** Accepted statuses: codes (204), classes ("2xx") or ranges ("200-299"). Default ["2xx"]. */
  expectStatus?: (number | string)[];
}

const STATUS_PATTERN = "^([1-5]xx|[1-5][0-9]{2}-[1-5][0-9]{2})$";
const HEADER_NAME_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
/** Headers the sender owns. */
const RESERVED_HEADERS = new Set(["idempotency-key", "content-length", "host", "transfer-encoding", "connection"]);

export function statusMatches(status: number, expect: readonly (number | string)[]): boolean {
  return expect.some((e) => {
    if (typeof e === "number") return e === status;
    const cls = /^([1-5])xx$/.exec(e);
    if (cls) return Math.floor(status / 100) === Number(cls[1]);
    const range = /^(\d{3})-(\d{3})$/.exec(e);
    if (range) return status >= Number(range[1]) && status <= Number(range[2]);
    return false;
  });
}

export const httpStep: StepType<HttpConfig> = {
  type: "http",
  urlFields: { url: "url" },
  schema: {
    type: "object",
    additionalProperties: false,
    required: ["url"],
    description: "Send one HTTP request (JSON body, Idempotency-Key header); the response is the output.",
    properties: {
      method: {
        type: "string",
        enum: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
        default: "POST",
        description: "HTTP method (default POST).",
      },
      url: templated(
        "URL (http or https). Placeholder values are percent-encoded for the part of the URL they " +
          "land in; {{+ expr }} inserts a value as it is (a base URL, a path).",
        { pattern: "^(https?://|\\{\\{)" },
      ),
      headers: {
        type: "object",
        description:
          "Request headers: a templated string, or a secret ({secretKeyRef} or {env}, " +
          'optional prefix such as "Bearer "). ' +
          "With a secret header, redirects are not followed (a 3xx is the response).",
        propertyNames: { pattern: HEADER_NAME_PATTERN },
        additionalProperties: {
          anyOf: [
            { type: "string", description: "Header value (templated)." },
            secretSourceSchema("Header value from a secret.", {
              prefix: { type: "string", description: 'Text before the secret value, e.g. "Bearer ".' },
            }),
          ],
        },
      },
      body: {
        description:
          "JSON body (any JSON value; strings templated). Sent with Content-Type: application/json " +
          "unless a header says otherwise.",
      },
      expectStatus: {
        type: "array",
        minItems: 1,
        description:
          'Statuses that mean success: codes (204), classes ("2xx") or ranges ("200-299"). Default ["2xx"]. ' +
          "Other statuses fail: 5xx, 408 and 429 retryably.",
        items: {
          anyOf: [
            { type: "integer", minimum: 100, maximum: 599 },
            { type: "string", pattern: STATUS_PATTERN },
          ],
        },
      },
    },
  },

  check(config) {
    return [...bodyProblems(config), ...headerProblems(config), ...statusProblems(config), ...urlProblems(config)];
  },

  secrets(config) {
    return secretKeyRefs(...Object.values(config?.headers ?? {}));
  },

  async execute(config, ctx) {
    const method = config.method ?? "POST";
    const urlText = renderUrlAt(ctx, config.url, "url");
    let url: URL;
    try {
      url = new URL(urlText);
    } catch {
      throw new StepFailure(`url: ${JSON.stringify(urlText.slice(0, 200))} is not a valid URL`, { retryable: false });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new StepFailure(`url: only http and https are supported, not ${url.protocol}`, { retryable: false });
    }
    const headers: Record<string, string> = {};
    // Templates first, secrets after: secret values never pass through the template engine.
    for (const [name, value] of Object.entries(config.headers ?? {})) {
      if (typeof value === "string") headers[name] = renderText(ctx, value, `headers.${name}`);
    }
    for (const [name, value] of Object.entries(config.headers ?? {})) {
      if (isSecretSource(value)) headers[name] = `${value.prefix ?? ""}${await ctx.secret(value)}`;
    }
    let body: string | undefined;
    if (config.body !== undefined) {
      body = jsonBody(renderValueAt(ctx, config.body, "body"));
      if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type"))
        headers["Content-Type"] = "application/json";
    }
    const label = `${method} ${describeUrl(url)}`;
    // Redirects are followed only when no header carries a secret (see sendHttp).
    const hasSecretHeader = Object.values(config.headers ?? {}).some(isSecretSource);
    const response = await sendHttp(ctx, {
      method,
      url: url.href,
      headers,
      ...(body !== undefined ? { body } : {}),
      label,
      redirect: hasSecretHeader ? "manual" : "follow",
    });
    if (!statusMatches(response.status, config.expectStatus ?? ["2xx"])) throw statusFailure(response, label);
    ctx.logger.info({ status: response.status, request: label }, "http request done");
    const output: Record<string, unknown> = {
      status: response.status,
      headers: safeHeaders(response.headers),
      body: response.body,
    };
    if (response.truncated) output.bodyTruncated = true;
    return { output };
  },
};

function bodyProblems(config: HttpConfig | undefined): StepProblem[] {
  const method = config?.method ?? "POST";
  if ((method === "GET" || method === "HEAD") && config?.body !== undefined)
    return [{ path: ["body"], message: `a ${method} request cannot have a body` }];
  return [];
}

function headerProblems(config: HttpConfig | undefined): StepProblem[] {
  return Object.keys(config?.headers ?? {})
    .filter((name) => RESERVED_HEADERS.has(name.toLowerCase()))
    .map((name) => ({ path: ["headers", name], message: `${name} is set by the runner` }));
}

function statusProblems(config: HttpConfig | undefined): StepProblem[] {
  const problems: StepProblem[] = [];
  for (const [i, e] of (config?.expectStatus ?? []).entries()) {
    const range = typeof e === "string" ? /^(\d{3})-(\d{3})$/.exec(e) : null;
    if (range && Number(range[1]) > Number(range[2]))
      problems.push({ path: ["expectStatus", i], message: `empty range ${String(e)}` });
  }
  return problems;
}

/** A URL template's own problems; a literal URL must parse and carry no credentials. */
function urlProblems(config: HttpConfig | undefined): StepProblem[] {
  if (typeof config?.url !== "string") return [];
  if (config.url.includes("{{")) return urlTemplateProblems(config.url).map((message) => ({ path: ["url"], message }));
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    return [{ path: ["url"], message: "not a valid URL" }];
  }
  if (url.username || url.password)
    return [{ path: ["url"], message: "credentials in the URL would be inlined: use a header from a secret" }];
  return [];
}
