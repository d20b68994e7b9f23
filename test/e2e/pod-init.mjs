// Runs inside the network + mount namespace that components/netns.ts (spawnNamespaced) gives
// each Argo Events "pod" and isolated process, as its init process.
//
// - forwards 127.0.0.1:<port> inside the pod to unix sockets that the host side
//   of the stack connects to the real 127.0.0.1:<port> (kube-apiserver, NATS,
//   HTTP sinks...): the pod's loopback is its own, like a real pod's;
// - exposes ports of the pod through unix sockets the host side listens on;
// - runs the Argo Events command, passing signals on and exiting with its code.
//
// Config comes in E2E_POD_CONFIG (JSON): { command, args, outbound: [{port,
// socket}], inbound: [{port, socket}] }. Plain JS so that it runs without a
// TypeScript loader.
import { spawn } from "node:child_process";
import net from "node:net";

const config = JSON.parse(process.env.E2E_POD_CONFIG ?? "{}");
// the pod's environment: everything but the E2E_POD_* plumbing
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("E2E_POD_")));

function pipeBoth(a, b) {
  a.pipe(b);
  b.pipe(a);
  const destroy = () => {
    a.destroy();
    b.destroy();
  };
  a.on("error", destroy);
  b.on("error", destroy);
  a.on("close", destroy);
  b.on("close", destroy);
}

function listen(server, ...args) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(...args, () => resolve());
  });
}

const servers = [];
for (const { port, socket } of config.outbound ?? []) {
  const server = net.createServer((conn) => pipeBoth(conn, net.connect(socket)));
  servers.push(listen(server, port, "127.0.0.1"));
}
for (const { port, socket } of config.inbound ?? []) {
  const server = net.createServer((conn) => pipeBoth(conn, net.connect(port, "127.0.0.1")));
  servers.push(listen(server, socket));
}
try {
  await Promise.all(servers);
} catch (err) {
  console.error(`pod-init: cannot set up port forwarding: ${err}`);
  process.exit(70);
}

// setpriv --pdeathsig: the Argo Events process dies with this one, even on SIGKILL
const child = config.setpriv
  ? spawn("setpriv", ["--pdeathsig", "KILL", "--", config.command, ...(config.args ?? [])], { stdio: "inherit", env })
  : spawn(config.command, config.args ?? [], { stdio: "inherit", env });
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) {
  process.on(sig, () => {
    if (child.exitCode === null) child.kill(sig);
  });
}
child.on("error", (err) => {
  console.error(`pod-init: cannot run ${config.command}: ${err}`);
  process.exit(71);
});
child.on("exit", (code, signal) => {
  if (signal) {
    console.error(`pod-init: ${config.command} killed by ${signal}`);
    process.exit(128 + (signal === "SIGKILL" ? 9 : signal === "SIGTERM" ? 15 : 1));
  }
  process.exit(code ?? 1);
});
