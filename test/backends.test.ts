import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { loadOrt } from './onnx/support.js';
import { REDIS_SERVER } from './support/redis.js';

/**
 * The suites for the browser (Chromium) and the ONNX networks (onnxruntime-node) skip cleanly where
 * a backend is absent, so a developer's machine without them still runs the rest. On CI (CI=true,
 * which .ci/run sets) both are required: a skipped backend would leave CI green with nothing checked.
 */
const onCi = process.env.CI === 'true';
const chromium = process.env.DIFFUSE_CHROMIUM ?? '/usr/bin/chromium';

describe.runIf(onCi)('required backends on CI', () => {
  it('Chromium is installed (the browser parity and onnxruntime-web suites)', () => {
    expect(existsSync(chromium), `no Chromium at ${chromium}: scripts/setup-browser.sh failed`).toBe(true);
  });

  it('redis-server is installed (the distributed-job suite, test/jobs.test.ts)', () => {
    expect(existsSync(REDIS_SERVER), `no redis-server at ${REDIS_SERVER}: .ci/run installs Debian's redis-server`).toBe(true);
  });

  it('onnxruntime-node loads (the network suites)', async () => {
    expect(await loadOrt(), 'onnxruntime-node cannot load').toBeDefined();
  });
});
