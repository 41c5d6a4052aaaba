// Every method trains on WebGPU: for each registry method (and each backbone given), the built
// dist/ trains 2 steps and evaluates once on a real WebGPU adapter in headless Chromium. Not
// part of `scripts/test.sh` (on SwiftShader it takes 10–15 minutes a backbone); run it after
// touching a method's tensor code, because an op without a WebGPU kernel (or without a
// backward pass on Burn's wgpu backend) only fails there:
//   node www/tests/e2e/every-method.mjs [small-cnn,vit-tiny,...]     (default: small-cnn)
// METHODS=simclr,dino narrows the list. One JSON line per run; exit code 1 if any failed.
import { chromium } from 'playwright-core';
import { resolve } from 'node:path';
import { serve } from '../../scripts/serve.mjs';

const dist = resolve(new URL('.', import.meta.url).pathname, '../../dist');
const server = await serve(dist, 0);
const origin = `http://127.0.0.1:${server.address().port}`;
const FLAGS = ['--headless=new', '--no-sandbox', '--disable-gpu-sandbox', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: FLAGS });
const backbones = (process.argv[2] ?? 'small-cnn').split(',');
let failed = 0;
try {
  // The registry as the page knows it: the worker's hello carries every method.
  const probe = await browser.newPage();
  await probe.goto(`${origin}/?backend=cpu`);
  await probe.waitForFunction(() => document.querySelectorAll('#method option').length > 0, null, { timeout: 60_000 });
  const all = await probe.$$eval('#method option', (options) => options.map((o) => o.value));
  await probe.close();
  const methods = process.env.METHODS ? process.env.METHODS.split(',') : all;
  for (const backbone of backbones) {
    for (const method of methods) {
      const page = await browser.newPage();
      const panics = [];
      page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && panics.push(m.text().split('\n')[0].slice(0, 300))));
      const started = Date.now();
      await page.goto(`${origin}/?backend=webgpu&method=${method}&backbone=${backbone}&steps=2&batch=8&width=8&eval_every=2&labels=2&p.mu=1&train_limit=256&test_limit=64&autostart=1`);
      const settled = await page
        .waitForFunction(() => window.__sslp && (window.__sslp.errors.length > 0 || window.__sslp.state === 'done' || window.__sslp.state === 'failed'), null, { timeout: 300_000 })
        .then(() => true, () => false);
      const d = await page.evaluate(() => window.__sslp);
      const ok = settled && d.state === 'done' && d.backend === 'webgpu' && d.errors.length === 0 && d.loss.length === 2 && d.loss.every((v) => v !== null && Number.isFinite(v)) && d.knn.length === 1;
      if (!ok) failed++;
      console.log(JSON.stringify({ ok, method, backbone, seconds: (Date.now() - started) / 1000, state: d.state, backend: d.backend, loss: d.loss, errors: d.errors, panic: panics[0] ?? null }));
      await page.close();
    }
  }
} finally {
  await browser.close();
  server.close();
}
console.log(`every method on WebGPU: ${failed === 0 ? 'all passed' : `${failed} failed`}`);
process.exit(failed === 0 ? 0 : 1);
