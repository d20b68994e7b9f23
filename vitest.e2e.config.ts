import { defineConfig } from "vitest/config";

// End-to-end tests: real kube-apiserver/etcd/NATS/Argo Events processes (see
// test/e2e/README.md). One file at a time: 2 cores, and each file starts its
// own stack.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    globalSetup: ["test/e2e/global-setup.ts"],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    reporters: ["default"],
  },
});
