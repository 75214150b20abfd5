/**
 * Line ends pinned by .gitattributes: a checkout made with core.autocrlf=true (Git for Windows' default)
 * keeps LF in everything that runs in a container or under bash. The e2e proof that `lab` also copes
 * with a CRLF copy is in test/e2e/images.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe.skipIf(!existsSync(path.join(ROOT, '.git')))('.gitattributes', () => {
  it('pins LF for scripts, docker/ and lab solutions', () => {
    const files = [
      'docker/pg/pglab-init', 'docker/pg/pglab-recorder', 'docker/pg/Dockerfile', 'docker/pg/Dockerfile.pg91', 'docker/pg/pg91-build.sh',
      'docker/base/make-base.sh', 'docker/base/Dockerfile.registry', 'labs/lib.sh', 'labs/wal-streaming/solutions/lib.sh',
      'labs/wal-streaming/solutions/step-1/keygen.sh', '.ci/run', 'bin/lab.js',
    ];
    const out = execFileSync('git', ['check-attr', 'eol', '--', ...files], { cwd: ROOT }).toString();
    for (const f of files) expect(out, f).toContain(`${f}: eol: lf`);
  });
});
