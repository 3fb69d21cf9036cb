// Lint: type-aware rules that catch unawaited promises and misused async callbacks.
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "data/**", "bin/**", "eslint.config.js", "schemas/json/**"] },
  {
    files: ["**/*.ts"],
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
);
