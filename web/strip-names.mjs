// Trunk post-build hook (Trunk.toml): in release builds, drops the `name` custom section
// (function names, for stack traces) from the web app's wasm, and updates the file's
// subresource-integrity hash in index.html to match. The section is a quarter of the raw size
// and about 90 KB of the gzipped download; nothing reads it but a debugger. wasm-bindgen has
// already run, so its `target_features` section is left alone (stripping through Cargo's
// `strip` setting hides it from wasm-bindgen, which then warns). Debug builds keep names.

import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

function leb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, at];
  }
}

/// The module without its `name` custom section (every other section kept, in order).
export function stripNames(bytes) {
  const parts = [bytes.subarray(0, 8)];
  let at = 8;
  while (at < bytes.length) {
    const start = at;
    const id = bytes[at++];
    const [size, body] = leb(bytes, at);
    const end = body + size;
    let keep = true;
    if (id === 0) {
      const [length, name] = leb(bytes, body);
      keep = Buffer.from(bytes.subarray(name, name + length)).toString('utf8') !== 'name';
    }
    if (keep) parts.push(bytes.subarray(start, end));
    at = end;
  }
  return Buffer.concat(parts);
}

const sri = (bytes) => 'sha384-' + crypto.createHash('sha384').update(bytes).digest('base64');

async function main() {
  if (process.env.TRUNK_PROFILE !== 'release') return;
  const staging = process.env.TRUNK_STAGING_DIR;
  if (!staging) throw new Error('TRUNK_STAGING_DIR is not set: run me as a trunk hook');
  const htmlPath = path.join(staging, 'index.html');
  let html = await fs.readFile(htmlPath, 'utf8');
  for (const file of await fs.readdir(staging)) {
    if (!file.endsWith('.wasm')) continue;
    const wasmPath = path.join(staging, file);
    const before = await fs.readFile(wasmPath);
    const after = stripNames(before);
    await fs.writeFile(wasmPath, after);
    html = html.split(sri(before)).join(sri(after));
    console.log(`strip-names: ${file}: ${before.length} -> ${after.length} bytes`);
  }
  await fs.writeFile(htmlPath, html);
}

main().catch((error) => {
  console.error(`strip-names: ${error.message}`);
  process.exit(1);
});
