// Lint: type-aware rules that catch unawaited promises and misused async callbacks.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "data/**", "bin/**", "eslint.config.js", "schemas/json/**", "portal/web/dist/**"] },
  {
    files: ["**/*.ts", "**/*.tsx"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@typescript-eslint": tseslint.plugin },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false } }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": ["error"],
    },
  },
  { files: ["scripts/**/*.ts", "bench/**/*.ts"], rules: { "no-console": "off" } },
  // Production code never imports test doubles or harnesses (tests, benches and other testing/ files may).
  {
    files: ["**/*.ts"],
    ignores: ["**/*.test.ts", "**/testing/**", "bench/**", "test/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["**/testing/**"], message: "test doubles live in testing/ folders: production code must not import them" }] },
      ],
    },
  },
  // The engine depends on the StackRunner interface only: no simulator, VPN, hook, test-host or CLI implementation.
  {
    files: ["engine/**/*.ts"],
    ignores: ["**/*.test.ts", "**/testing/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["**/testing/**"], message: "production code must not import testing/ folders" },
            {
              group: [
                "../sim/**",
                "../../sim/**",
                "../vpn/**",
                "../../vpn/**",
                "../hooks/**",
                "!../hooks/hook.js",
                "../../hooks/**",
                "!../../hooks/hook.js",
                "../testhosts/**",
                "../../testhosts/**",
                "../scripts/**",
                "../../scripts/**",
                "../app/**",
                "../../app/**",
                "../runners/pulumi/**",
                "../runners/simulation/**",
                "../../runners/pulumi/**",
                "../../runners/simulation/**",
              ],
              message: "engine/ depends on interfaces only (runners/runner.ts); implementations are wired in app/",
            },
          ],
        },
      ],
    },
  },
);
