import { defineConfig } from 'vitest/config';

// Unit tests need no Docker. E2e tests (test/e2e) drive real containers: one file at a time,
// long timeouts; images are built once and reused by every file (tags carry a recipe hash).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 900_000,
    reporters: ['default'],
    env: { TESTCONTAINERS_RYUK_DISABLED: 'true', LAB_LANG: 'es' },
  },
});
