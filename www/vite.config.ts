// Vite builds the page and its module worker into dist/, with relative URLs so the folder
// works from any static host and any sub-path. pkg/ (wasm-bindgen output) sits beside www/.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The wasm file is large by nature; it is fetched once by the worker, never inlined.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1024,
    // Two pages, the playground and the browser benchmark (bench.html), and the
    // <ssl-playground> element's script, at a fixed name beside index.html so that a course
    // page can point at it (dist/ssl-playground.js; see public/example/).
    rollupOptions: {
      input: {
        main: fileURLToPath(new URL('./index.html', import.meta.url)),
        bench: fileURLToPath(new URL('./bench.html', import.meta.url)),
        element: fileURLToPath(new URL('./src/element.ts', import.meta.url)),
      },
      output: { entryFileNames: (chunk) => (chunk.name === 'element' ? 'ssl-playground.js' : 'assets/[name]-[hash].js') },
    },
  },
  worker: { format: 'es' },
  server: { fs: { allow: ['..'] } },
  test: { include: ['tests/unit/**/*.test.ts'] },
});
