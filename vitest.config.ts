import { defineConfig } from 'vitest/config';

// e2e tests share network namespaces, cgroups and the BPF attach points of one kernel:
// run files one at a time so that they never see each other's traffic.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
