// Ports on 127.0.0.1: a free one, and a forwarder that pipes each connection of a listener
// (a unix socket or a host port) to another endpoint. The stack's Argo Events pods and the
// isolated processes of netns.ts reach the host and are reached through these.
import net from "node:net";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** A server on `listenOn` (a socket path, or port and host) that pipes each connection to `connect()`. */
export async function forwarder(connect: () => net.Socket, listenOn: [string] | [number, string]): Promise<net.Server> {
  const server = net.createServer((conn) => {
    const other = connect();
    conn.pipe(other);
    other.pipe(conn);
    const destroy = (): void => {
      conn.destroy();
      other.destroy();
    };
    for (const end of [conn, other]) {
      end.on("error", destroy);
      end.on("close", destroy);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if (listenOn.length === 1) server.listen(listenOn[0], () => resolve());
    else server.listen(listenOn[0], listenOn[1], () => resolve());
  });
  return server;
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise<void>((r) => server.close(() => r()));
}
