// A recording reverse proxy in front of the runner: the generated Sensors are pointed at it
// (spec.runner.url), it records every request and forwards it unchanged to the runner. The
// runner's own metrics count runs, not requests, so "no request reached the runner" is counted
// here, on the only way in. A runner that is down answers 502 here (the Sensor sees a failure,
// as it would on a refused connection).
import { startHttpSink, type HttpSink, type RecordedRequest } from "./stack.js";

export interface FrontDoor {
  /** What the Sensors are given as the runner URL. */
  readonly url: string;
  /** Every request, in arrival order (live array). */
  readonly requests: RecordedRequest[];
  /**
   * Requests to one path, e.g. /namespaces/argo-events/hooksets/e2e/watches/configmaps-web; with `subject`, only those of
   * that EventSource entry (a watch's own, or its `_changes` stream: the CloudEvent's subject).
   */
  count(path: string, subject?: string): number;
  close(): Promise<void>;
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) and the ones fetch computes itself. */
const NOT_FORWARDED = new Set([
  "host",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "upgrade",
  "proxy-connection",
  "te",
  "trailer",
]);

export async function startFrontDoor(target: string): Promise<FrontDoor> {
  const sink: HttpSink = await startHttpSink({
    responder: async (req) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined || NOT_FORWARDED.has(name)) continue;
        headers[name] = Array.isArray(value) ? value.join(", ") : value;
      }
      try {
        const r = await fetch(`${target}${req.path}`, {
          method: req.method,
          headers,
          ...(req.method === "GET" || req.method === "HEAD" ? {} : { body: new Uint8Array(req.body) }),
          signal: AbortSignal.timeout(30_000),
        });
        return {
          status: r.status,
          headers: { "content-type": r.headers.get("content-type") ?? "text/plain" },
          body: await r.text(),
        };
      } catch (err) {
        return { status: 502, body: `front door: the runner at ${target} did not answer: ${(err as Error).message}` };
      }
    },
  });
  return {
    url: sink.url,
    requests: sink.requests,
    count: (path, subject) =>
      sink.requests.filter((r) => r.path === path && (subject === undefined || r.headers["ce-subject"] === subject))
        .length,
    close: () => sink.close(),
  };
}
