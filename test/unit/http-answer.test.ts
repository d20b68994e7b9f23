// A request answered before its body was read is drained (src/runner/http-answer.ts): its sender
// gets the answer, and the drain is bounded in bytes and in time, holding nothing.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { answerJson, prefersMinimal, type DrainLimits } from "../../src/runner/http-answer.js";

let server: Server | undefined;

afterEach(async () => {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server!.close(resolve));
  server = undefined;
});

/** A server that answers 413 at once, draining with `drain`; resolves to its port. */
async function refusingServer(drain: DrainLimits): Promise<number> {
  server = createServer((req, res) => answerJson(req, res, 413, { error: "too large" }, { drain }));
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** Sends the head, then `write` on the socket; resolves when the server closes it, with the answer and how long it took. */
function sendAndWait(port: number, head: string, write: (socket: ReturnType<typeof connect>) => void) {
  return new Promise<{ answer: string; ms: number }>((resolve) => {
    const started = Date.now();
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => resolve({ answer, ms: Date.now() - started }));
    socket.write(head);
    write(socket);
  });
}

describe("answering before the body is read", () => {
  it("closes the connection once the rest of the body has arrived, after sending the whole answer", async () => {
    const port = await refusingServer({ maxBytes: 1_000_000, maxMs: 10_000 });
    const { answer, ms } = await sendAndWait(
      port,
      "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n",
      (s) => s.end(Buffer.alloc(100_000, 0x20)),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 .*\r\nconnection: close\r\n/is);
    expect(answer.endsWith('{"error":"too large"}')).toBe(true);
    expect(ms).toBeLessThan(5_000);
  });

  it("stops reading after maxBytes: a sender that never stops is cut off", async () => {
    const port = await refusingServer({ maxBytes: 64 * 1024, maxMs: 10_000 });
    let sent = 0;
    const { answer } = await sendAndWait(
      port,
      "POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
      (s) => {
        const chunk = `10000\r\n${" ".repeat(0x10000)}\r\n`;
        const pump = () => {
          while (!s.destroyed && sent < 64 * 1024 * 1024 && s.write(chunk)) sent += 0x10000;
          if (!s.destroyed && sent < 64 * 1024 * 1024) s.once("drain", pump);
        };
        pump();
      },
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });

  it("stops waiting after maxMs: a sender that stalls mid-body is cut off", async () => {
    const port = await refusingServer({ maxBytes: 1_000_000, maxMs: 300 });
    const { answer, ms } = await sendAndWait(
      port,
      "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n",
      (s) => s.write("{"),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(3_000);
  });
});

describe("Prefer: return=minimal", () => {
  const asked = (...prefer: string[]) =>
    prefersMinimal({ headersDistinct: prefer.length ? { prefer } : {} } as unknown as IncomingMessage);
  it("is read as RFC 7240 writes it: among other preferences, with parameters, quoted, in any case", () => {
    expect(asked("return=minimal")).toBe(true);
    expect(asked('respond-async, Return = "minimal"; foo=bar')).toBe(true);
    expect(asked("wait=10", "return=minimal")).toBe(true);
    expect(asked()).toBe(false);
    expect(asked("return=representation")).toBe(false);
    expect(asked("returnminimal")).toBe(false);
  });
});
