import { existsSync } from 'node:fs';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

// PostgreSQL 9.1 is compiled from source: tests use the vendored, verified git export beside the
// checkout (shared/vendor), so no test ever downloads it.
const vendored = path.resolve(__dirname, '../shared/vendor/postgresql-9.1.24.git-REL9_1_24.tar.gz');
const pg91Source = process.env.PGLAB_PG91_SOURCE ?? (existsSync(vendored) ? vendored : undefined);

// Unit tests need no Docker. E2e tests (test/e2e) drive real containers: one file at a time,
// long timeouts; images are built once and reused by every file (tags carry a recipe hash).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 900_000,
    reporters: ['default'],
    // No test may reach Docker Hub: bases come from debootstrap (or a registry a test starts on 127.0.0.1).
    env: {
      TESTCONTAINERS_RYUK_DISABLED: 'true', LAB_LANG: 'es', PGLAB_BASE_REGISTRY: process.env.PGLAB_BASE_REGISTRY ?? 'none',
      ...(pg91Source ? { PGLAB_PG91_SOURCE: pg91Source } : {}),
    },
  },
});
