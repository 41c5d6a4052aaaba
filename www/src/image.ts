// A user's own image, turned into the dataset's shape: decoded by the browser, fitted into a
// square (letterboxed, aspect kept), resized to h×w, reduced to grey for 1-channel datasets.
// MNIST and Fashion-MNIST draw a light object on black; a photo is usually dark on light, so a
// grey image whose border is mostly light is inverted to match.

/** Larger files are refused before decoding: a 28×28 model gains nothing from them. */
export const MAX_FILE_BYTES = 20 * 1024 * 1024;
export const MAX_SIDE = 8192;

export async function imageFileToPixels(file: File, channels: number, height: number, width: number): Promise<{ pixels: Float32Array; preview: HTMLCanvasElement }> {
  if (file.size === 0) throw new Error(`“${file.name}” is empty. Choose a PNG, JPEG, GIF or WebP image.`);
  if (file.size > MAX_FILE_BYTES) throw new Error(`“${file.name}” is ${(file.size / 1e6).toFixed(1)} MB; images up to ${MAX_FILE_BYTES / 1e6} MB are accepted. Shrink it first.`);
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`“${file.name}” could not be decoded as an image (it may be corrupt or in a format this browser cannot read). Choose a PNG, JPEG, GIF or WebP image.`);
  }
  if (bitmap.width > MAX_SIDE || bitmap.height > MAX_SIDE) {
    const size = `${bitmap.width}×${bitmap.height}`;
    bitmap.close();
    throw new Error(`“${file.name}” is ${size} pixels; the largest side accepted is ${MAX_SIDE}.`);
  }
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  // Letterbox bars take the colour of the image's own border, so they do not look like ink.
  ctx.drawImage(bitmap, 0, 0, width, height);
  ctx.fillStyle = borderColour(ctx.getImageData(0, 0, width, height).data, height, width);
  ctx.fillRect(0, 0, width, height);
  const scale = Math.min(width / bitmap.width, height / bitmap.height);
  const [dw, dh] = [bitmap.width * scale, bitmap.height * scale];
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, (width - dw) / 2, (height - dh) / 2, dw, dh);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  return { pixels: toPlanar(rgba, channels, height, width), preview: canvas };
}

/** RGBA bytes → planar `[c, h, w]` floats in [0, 1]; grey images auto-inverted (see above). */
export function toPlanar(rgba: Uint8ClampedArray, channels: number, height: number, width: number): Float32Array {
  const n = height * width;
  const out = new Float32Array(channels * n);
  for (let i = 0; i < n; i++) {
    const [r, g, b] = [rgba[4 * i] / 255, rgba[4 * i + 1] / 255, rgba[4 * i + 2] / 255];
    if (channels === 1) out[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    else {
      out[i] = r;
      out[n + i] = g;
      out[2 * n + i] = b;
    }
  }
  if (channels === 1 && borderMean(out, height, width) > 0.5) {
    for (let i = 0; i < n; i++) out[i] = 1 - out[i];
  }
  return out;
}

/** Is (y, x) in the 2-pixel frame of an h×w image? */
function onBorder(y: number, x: number, h: number, w: number): boolean {
  return y < 2 || y >= h - 2 || x < 2 || x >= w - 2;
}

export function borderMean(grey: Float32Array, h: number, w: number): number {
  let sum = 0;
  let count = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!onBorder(y, x, h, w)) continue;
      sum += grey[y * w + x];
      count++;
    }
  }
  return count ? sum / count : 0;
}

function borderColour(rgba: Uint8ClampedArray, h: number, w: number): string {
  const sum = [0, 0, 0];
  let count = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!onBorder(y, x, h, w)) continue;
      for (let c = 0; c < 3; c++) sum[c] += rgba[4 * (y * w + x) + c];
      count++;
    }
  }
  const [r, g, b] = sum.map((v) => Math.round(v / Math.max(1, count)));
  return `rgb(${r}, ${g}, ${b})`;
}
