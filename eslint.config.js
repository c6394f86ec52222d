// Lint: typescript-eslint's recommended rules, plus the type-aware promise
// rules that catch a rejected promise nobody handles (it would crash Node).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".cache/", "client/dist/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        // node:test's describe/it return promises the runner itself tracks.
        { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["describe", "it", "test", "suite", "before", "after", "beforeEach", "afterEach"] }] },
      ],
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  // The client and the page are typed as the browser sees them (DOM, no Node).
  { files: ["client/**/*.ts", "public/**/*.ts"], languageOptions: { parserOptions: { projectService: false, project: "./tsconfig.browser.json" } } },
  // No `any` in the product; tests and the bench read loosely typed JSON.
  { files: ["src/**/*.ts", "client/**/*.ts", "public/**/*.ts"], rules: { "@typescript-eslint/no-explicit-any": "error" } },
  { files: ["test/**/*.ts", "bench/**/*.ts"], rules: { "@typescript-eslint/no-explicit-any": "off" } },
  {
    files: ["**/*.js", "**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { parserOptions: { projectService: false }, globals: { console: "readonly", process: "readonly" } },
  },
);
