// The stack's certificates (openssl): a CA, a serving cert for 127.0.0.1 that kube-apiserver and
// the NATS servers use, and the key pair that signs ServiceAccount tokens (TokenRequest API).
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export interface Pki {
  caFile: string;
  caPem: string;
  serverCert: string;
  serverKey: string;
  saKey: string;
  saPub: string;
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await execFileP("openssl", args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string; code?: string };
    if (e.code === "ENOENT") throw new Error("missing: openssl (needed to make the stack's certificates)");
    throw new Error(`openssl ${args.join(" ")} failed: ${e.stderr ?? String(err)}`);
  }
}

export async function makePki(dir: string): Promise<Pki> {
  mkdirSync(dir, { recursive: true });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(dir, [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "7",
    "-subj",
    "/CN=resource-hooks-e2e-ca",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await openssl(dir, ["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
  writeFileSync(
    path.join(dir, "server.ext"),
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local",
      "",
    ].join("\n"),
  );
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "7",
    "-extfile",
    "server.ext",
  ]);
  // service-account token signing key pair (TokenRequest API)
  await openssl(dir, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "sa.key"]);
  await openssl(dir, ["pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
  const caFile = path.join(dir, "ca.crt");
  return {
    caFile,
    caPem: readFileSync(caFile, "utf8"),
    serverCert: path.join(dir, "server.crt"),
    serverKey: path.join(dir, "server.key"),
    saKey: path.join(dir, "sa.key"),
    saPub: path.join(dir, "sa.pub"),
  };
}
