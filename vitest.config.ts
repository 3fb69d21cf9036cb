import { defineConfig } from "vitest/config";

// Tests that run real containers on the host's own addresses (sshd test hosts behind the Proxmox simulator
// at the example stacks' 10.10.0.x, the in-process VPN's wg-proxstack device) cannot share the machine with
// each other: they run one after another, after everything else.
const HOST_EXCLUSIVE = ["hooks/simulated-apply.test.ts", "app/post-deploy.test.ts", "portal/web/e2e.test.ts"];
const EXCLUDE = ["node_modules/**", "data/**", "portal/web/dist/**"];

export default defineConfig({
  test: {
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default", "./test/summary-reporter.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          // Node by default; the web portal's component tests choose a DOM per file (`// @vitest-environment happy-dom`).
          include: ["**/*.test.ts", "**/*.test.tsx"],
          exclude: [...EXCLUDE, ...HOST_EXCLUSIVE],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: "host-exclusive", include: HOST_EXCLUSIVE, exclude: EXCLUDE, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
