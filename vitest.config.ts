import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Node by default; the web portal's component tests choose a DOM per file (`// @vitest-environment happy-dom`).
    include: ["**/*.test.ts", "**/*.test.tsx"],
    exclude: ["node_modules/**", "data/**", "portal/web/dist/**"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
