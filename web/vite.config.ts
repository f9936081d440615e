// Vite build of the browser page (web/ → dist/web). The ONNX Runtime wasm files are copied next to the page
// (dist/web/ort/) and loaded from there: the built page needs no CDN and works offline.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { defineConfig, defaultClientConditions, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
// The package's CommonJS entry lives in its dist/ folder, next to the wasm files.
const ortDist = dirname(require.resolve('onnxruntime-web'));
/** The single wasm build the page uses (SIMD; threads only when the server makes the page cross-origin isolated). */
export const ORT_FILES = ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];

function copyOrtRuntime(): Plugin {
  return {
    name: 'gue-copy-ort-runtime',
    generateBundle() {
      for (const f of ORT_FILES) this.emitFile({ type: 'asset', fileName: `ort/${f}`, source: readFileSync(join(ortDist, f)) });
    },
  };
}

export default defineConfig({
  root: here,
  base: './',
  publicDir: false,
  // ort.wasm.min.mjs imports its wasm glue at run time from env.wasm.wasmPaths (./ort/) instead of inlining it.
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  build: {
    outDir: resolve(here, '..', 'dist', 'web'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1000,
    reportCompressedSize: false,
  },
  plugins: [copyOrtRuntime()],
});
