// Lint: typescript-eslint's recommended rules, plus the type-aware ones that catch what tsc does
// not (a dropped promise, a promise where a callback is expected, a switch that misses a case),
// and limits that keep functions and files readable. Prettier owns the layout.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["eslint.config.js", "test/e2e/pod-init.mjs"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": [
        "error",
        {
          argsIgnorePattern: "^_",
          varsIgnorePattern: "^_",
          destructuredArrayIgnorePattern: "^_",
          ignoreRestSiblings: true,
        },
      ],
      complexity: ["error", 20],
      "max-params": ["error", 5],
      "max-depth": ["error", 4],
      "no-nested-ternary": "error",
    },
  },
  {
    files: ["src/**/*.ts"],
    rules: {
      "max-len": ["error", { code: 120 }],
      "max-lines": ["error", { max: 400 }],
    },
  },
  {
    // Tests keep every correctness rule; fake servers and fixture tables read best as one function
    // or one expression, so the structural limits are src's alone.
    files: ["test/**", "bench/**", "scripts/**"],
    rules: { complexity: "off", "max-params": "off", "no-nested-ternary": "off" },
  },
  {
    files: ["**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
);
