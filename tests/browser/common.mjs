// What the browser tests share: where things are, a static server for dist/, and headless
// Chromium launched the same way everywhere (Debian's chromium, no sandbox, nothing that
// phones home; launch() gives it a fresh temporary profile and removes it afterwards).

import { chromium } from 'playwright-core';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST = process.env.DIST || path.join(ROOT, 'dist');
export const ARTIFACTS = path.join(ROOT, 'artifacts');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
};

/** Serves `root` on a free port of 127.0.0.1; resolves to the listening server. */
export function serve(root) {
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

/** Fails with a clear message when the web app was not built. */
export async function requireDist() {
  await fs.access(path.join(DIST, 'index.html')).catch(() => {
    throw new Error(`${DIST}/index.html is missing: run scripts/build-web first`);
  });
}

/** Headless Chromium with the flags every test uses. */
export function launchChromium() {
  return chromium.launch({
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
}

/** A new page whose page errors, failed requests (HTTP 400 and above) and console errors are
 * pushed onto `errors`, which each test checks at its end. */
export async function newPage(browser, errors, viewport = { width: 1280, height: 800 }) {
  const page = await browser.newPage({ viewport });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`HTTP ${response.status()} for ${response.url()}`);
  });
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console error: ${message.text()}`);
  });
  return page;
}
