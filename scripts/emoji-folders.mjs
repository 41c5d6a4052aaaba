// Lays out the Noto emoji images of npm's emoji-datasource-google as an ImageFolder tree for
// `sslp pack --images`: one folder per emoji category, holding that category's 64-px PNGs.
// Only each emoji's base image is used (no skin-tone variants, which would fill one class
// with near-copies), and the five "Component" images (skin-tone swatches, hair parts) are
// left out: too few for a class.
// Usage: node scripts/emoji-folders.mjs PACKAGE_DIR OUT_DIR
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [pkg, out] = process.argv.slice(2);
if (!pkg || !out) {
  console.error('usage: node scripts/emoji-folders.mjs PACKAGE_DIR OUT_DIR');
  process.exit(2);
}
const emoji = JSON.parse(readFileSync(join(pkg, 'emoji.json'), 'utf8'));
const counts = new Map();
for (const e of emoji) {
  if (!e.has_img_google || e.category === 'Component') continue;
  const source = join(pkg, 'img/google/64', e.image);
  if (!existsSync(source)) continue;
  const folder = join(out, e.category);
  mkdirSync(folder, { recursive: true });
  copyFileSync(source, join(folder, e.image));
  counts.set(e.category, (counts.get(e.category) ?? 0) + 1);
}
for (const [category, n] of [...counts].sort()) console.log(`${n}\t${category}`);
