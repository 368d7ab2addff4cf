// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', '.local/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      // zod's namespace import lets esbuild drop what a bundle never uses; the named `z` re-export
      // drags every locale (≈ 260 KB) into each function (infra/aws/README.md, "What each function bundles").
      // Code that ships in a function uses zod's mini build through lib/common/zod.ts (English messages
      // set there), as a namespace too (infra/aws/README.md, "What each function bundles").
      'no-restricted-syntax': [
        'error',
        {
          selector: "ImportDeclaration[source.value='zod'] > ImportSpecifier[imported.name='z']",
          message: "import * as z from 'zod' (the named z export defeats tree shaking: every locale gets bundled)",
        },
        {
          selector: 'ImportDeclaration[source.value=/^zod\\/(v4\\/)?mini$/]',
          message:
            "import * as z from 'lib/common/zod.ts' (zod's mini build with English messages; alone it words every issue \"Invalid input\")",
        },
        {
          selector: 'ImportDeclaration[source.value=/\\/common\\/zod\\.ts$/] > :matches(ImportSpecifier, ImportDefaultSpecifier)',
          message: "import * as z from '…/common/zod.ts' (a namespace: z.object, z.optional, …)",
        },
      ],
    },
  },
  {
    // Domain code stays free of AWS types and of the local world (docs/architecture.md#layout).
    files: ['lib/**/*.ts'],
    ignores: ['lib/store/**', 'lib/aws/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@aws-sdk/*', 'aws-lambda', 'aws-cdk-lib', 'aws-cdk-lib/*'],
              message: 'lib/ is free of AWS types: put adapters in lib/store or lib/aws.',
            },
            { group: ['**/infra/**'], message: 'lib/ never imports infra/.' },
            { group: ['**/store/*'], message: 'ports live with their feature; only lib/aws wires the DynamoDB adapters of lib/store.' },
          ],
        },
      ],
    },
  },
  {
    files: ['functions/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/infra/local/**'], message: 'functions/ never import the local world or the sandbox.' }] },
      ],
    },
  },
);
