// The browser benchmark, headless: serves dist/ (built by scripts/run.sh or scripts/test.sh),
// opens bench.html in Debian's Chromium with WebGPU enabled, and prints one JSON line per run,
// as `sslp bench` does natively. The settings are bench.html's, as a query string:
//   node www/scripts/bench.mjs 'methods=simclr,dino&backbone=vit-tiny&batch=16&width=16&steps=10'
// CHROMIUM (default /usr/bin/chromium) and CHROMIUM_FLAGS (extra flags, space-separated; e.g.
// --use-webgpu-adapter=swiftshader, or --enable-features=Vulkan for a GPU) change the browser.
// Exit code 1 if a run failed or the page could not run the benchmark.
import { chromium } from 'playwright-core';
import { resolve } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { serve } from './serve.mjs';

const query = (process.argv[2] ?? '').replace(/^\?/, '');
const dist = resolve(new URL('.', import.meta.url).pathname, '../dist');
const server = await serve(dist, 0);
const origin = `http://127.0.0.1:${server.address().port}`;
const FLAGS = ['--headless=new', '--no-sandbox', '--disable-gpu-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--enable-unsafe-webgpu'];
const extra = (process.env.CHROMIUM_FLAGS ?? '').split(' ').filter(Boolean);
const profile = await mkdtemp(resolve(tmpdir(), 'sslp-bench-'));
const context = await chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: [...FLAGS, ...extra] });
let failed = true;
try {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(`${origin}/bench.html?${query}`);
  let printed = 0;
  // Print lines as they arrive: a long benchmark shows progress.
  for (;;) {
    const s = (await page.evaluate(() => window.__sslpBench)) ?? { lines: [], done: false, error: null };
    for (const line of s.lines.slice(printed)) console.log(JSON.stringify(line));
    printed = s.lines.length;
    if (s.done) {
      if (s.error) console.error(`bench: ${s.error}`);
      failed = s.error !== null || s.lines.some((l) => l.error !== null) || s.lines.length === 0;
      break;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
} finally {
  await context.close();
  server.close();
  await rm(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
