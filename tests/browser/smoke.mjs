// Browser smoke test: serves dist/ from a local server on a free port, loads the page in
// headless Chromium (Debian's, through playwright-core) and checks that it shows what the wasm
// app computed with flotilla-core. Writes a screenshot to artifacts/browser-smoke.png.
//
// Usage: node tests/browser/smoke.mjs   (after scripts/build-web)
// Env:   CHROMIUM=/path/to/chromium to use another browser binary.

import { chromium } from 'playwright-core';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = path.join(ROOT, 'dist');
const SCREENSHOT = path.join(ROOT, 'artifacts', 'browser-smoke.png');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PAGE_TIMEOUT_MS = 30_000;
const TOTAL_TIMEOUT_MS = 120_000;

// What the page must show: the workspace version (flotilla-core uses it) and the hard state
// that flotilla_web::core_sample() builds (its unit test pins the same string).
const cargoToml = await fs.readFile(path.join(ROOT, 'Cargo.toml'), 'utf8');
const EXPECTED_VERSION = cargoToml.match(/\[workspace\.package\][^[]*?\nversion = "([^"]+)"/)[1];
const EXPECTED_RESULT = '{"term":2,"vote":1,"commit":42}';

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
};

function serve(root) {
  const server = http.createServer(async (req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = path.join(root, urlPath.endsWith('/') ? urlPath + 'index.html' : urlPath);
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await fs.readFile(file);
      const type = CONTENT_TYPES[path.extname(file)] || 'application/octet-stream';
      res.writeHead(200, { 'Content-Type': type }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function main() {
  await fs.access(path.join(DIST, 'index.html')).catch(() => {
    throw new Error(`${DIST}/index.html is missing: run scripts/build-web first`);
  });
  const server = await serve(DIST);
  const url = `http://127.0.0.1:${server.address().port}/`;
  // launch() gives the browser a fresh temporary profile (user data dir) and removes it on close.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
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
