// Lint of src, labs and test (`npm run lint`, with the type-check of all three): the recommended
// rules of ESLint and typescript-eslint, and one rule of layout, a 160-column limit. The code's
// own layout is otherwise kept as it is (no formatter rewrites it: parallel branches stay mergeable).
import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/', 'bin/', 'docker/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // Scripts served to the browser (the portal's client).
  { files: ['src/**/client/**/*.js'], languageOptions: { globals: globals.browser } },
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    plugins: { '@stylistic': stylistic },
    rules: {
      // Long SQL, messages and patterns stay on one line (they are read and grepped whole).
      '@stylistic/max-len': ['error', { code: 160, ignoreUrls: true, ignoreRegExpLiterals: true, ignoreStrings: true, ignoreTemplateLiterals: true }],
      // `_name`: a parameter a signature needs and this implementation does not use.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' }],
      // Parsers of psql, ps and terminal output match control characters (unit separators, ANSI escapes) on purpose.
      'no-control-regex': 'off',
    },
  },
);
