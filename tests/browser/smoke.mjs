// Browser smoke test: serves dist/ from a local server on a free port, loads the page in
// headless Chromium (Debian's, through playwright-core) and checks that it shows what the wasm
// app computed with flotilla-core. Writes a screenshot to artifacts/browser-smoke.png.
//
// Usage: node tests/browser/smoke.mjs   (after scripts/build-web)
// Env:   CHROMIUM=/path/to/chromium to use another browser binary.

import fs from 'node:fs/promises';
import path from 'node:path';
import { CHROMIUM, DIST, ROOT, launchChromium, requireDist, serve } from './common.mjs';

const SCREENSHOT = path.join(ROOT, 'artifacts', 'browser-smoke.png');
const PAGE_TIMEOUT_MS = 30_000;
const TOTAL_TIMEOUT_MS = 120_000;

// What the page must show: the workspace version (flotilla-core uses it) and the hard state
// that flotilla_web::core_sample() builds (its unit test pins the same string).
const cargoToml = await fs.readFile(path.join(ROOT, 'Cargo.toml'), 'utf8');
const EXPECTED_VERSION = cargoToml.match(/\[workspace\.package\][^[]*?\nversion = "([^"]+)"/)[1];
const EXPECTED_RESULT = '{"term":2,"vote":1,"commit":42}';


async function main() {
  await requireDist();
  const server = await serve(DIST);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await launchChromium();
  const errors = [];
  try {
    const page = await browser.newPage();
    page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
    page.on('response', (response) => {
      if (response.status() >= 400) errors.push(`HTTP ${response.status()} for ${response.url()}`);
    });
    page.on('console', (message) => {
      console.log(`  [browser ${message.type()}] ${message.text()}`);
      if (message.type() === 'error') errors.push(`console error: ${message.text()}`);
    });
    console.log(`loading ${url} in ${CHROMIUM} (${browser.version()})`);
    await page.goto(url, { waitUntil: 'load', timeout: PAGE_TIMEOUT_MS });
    const version = page.locator('#core-version');
    const result = page.locator('#core-result');
    try {
      await version.waitFor({ timeout: PAGE_TIMEOUT_MS });
    } finally {
      // Also on failure: the screenshot shows what the page showed instead.
      await fs.mkdir(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      console.log(`screenshot: ${path.relative(ROOT, SCREENSHOT)}`);
    }

    const shown = { version: await version.textContent(), result: await result.textContent() };
    console.log(`page shows flotilla-core ${shown.version}, result ${shown.result}`);
    if (shown.version !== EXPECTED_VERSION) {
      errors.push(`#core-version is "${shown.version}", expected "${EXPECTED_VERSION}"`);
    }
    if (shown.result !== EXPECTED_RESULT) {
      errors.push(`#core-result is "${shown.result}", expected "${EXPECTED_RESULT}"`);
    }
  } finally {
    await browser.close();
    server.closeAllConnections();
    server.close();
  }
  if (errors.length > 0) {
    throw new Error(errors.join('\n'));
  }
  console.log('browser smoke test: ok');
}

setTimeout(() => {
  console.error(`browser smoke test: timed out after ${TOTAL_TIMEOUT_MS / 1000}s`);
  process.exit(1);
}, TOTAL_TIMEOUT_MS).unref();

main().catch((error) => {
  console.error(`browser smoke test: FAILED\n${error.message}`);
  process.exit(1);
});
