// A kubeconfig for a local HTTP server standing in for kube-apiserver in unit tests.
import { KubeConfig } from "@kubernetes/client-node";

export function kubeConfigFor(server: string, token = "t"): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "local", server, skipTLSVerify: true }],
    users: [{ name: "me", token }],
    contexts: [{ name: "local", cluster: "local", user: "me" }],
    currentContext: "local",
  });
  return kc;
}
