// Plain GETs the stack's readiness checks make (etcd /health, kube-apiserver /readyz with the
// stack's CA, NATS monitoring, pod metrics): status and body, never a throw on an error status.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface HttpResult {
  status: number;
  body: string;
}

export function httpGet(
  url: string,
  opts: { ca?: string; token?: string; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(
      u,
      { method: "GET", headers, ca: opts.ca, timeout: opts.timeoutMs ?? 5_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}
