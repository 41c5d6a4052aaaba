// Which backend the page trains on, and the one line that says why (issue 12, part 1).
//
// A WebGPU adapter is not always a GPU: SwiftShader (Chromium's fallback), llvmpipe/lavapipe
// (Mesa) and WARP (Windows) run every shader on the CPU. Measured on a 2-core machine with
// SwiftShader (batch 16, width 8): 12 images/s on WebGPU against 334 on the CPU backend in
// WebAssembly, and the first step 18 s against 1.9 s after the page opened. So a software
// adapter is passed over for the CPU backend unless the link asks for it (`backend=webgpu`).
import type { AdapterInfo, Backend } from './protocol';

export interface BackendChoice {
  backend: Backend;
  /** One line for the page's badge: the backend and why. */
  badge: string;
  /** The badge's tooltip: more of why, and how to choose otherwise. */
  detail: string;
  /** A longer message for the notice bar, when the user should act on it. */
  notice: string | null;
}

/** Names of adapters that run on the CPU, as they appear in vendor, architecture or description. */
const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

/** The software renderer behind `adapter` (`SwiftShader`, `llvmpipe`, …), or null for a GPU. */
export function softwareRenderer(adapter: AdapterInfo): string | null {
  const text = `${adapter.vendor} ${adapter.architecture} ${adapter.description}`;
  const named = SOFTWARE.exec(text);
  if (named) return named[0];
  return adapter.isFallbackAdapter ? 'a fallback adapter' : null;
}

export function adapterName(adapter: AdapterInfo): string {
  return [adapter.vendor, adapter.architecture].filter(Boolean).join(' ') || 'GPU';
}

/**
 * The backend for a run: `forced` is the link's `backend=` (null when absent), `adapter` the
 * WebGPU adapter the worker found (null when none), `webgpuError` why there is none.
 */
export function chooseBackend(adapter: AdapterInfo | null, forced: Backend | null, webgpuError: string | null): BackendChoice {
  if (forced === 'cpu') return { backend: 'cpu', badge: 'CPU backend (chosen in the link)', detail: 'The link has backend=cpu; without it the page uses a GPU when the browser offers one.', notice: null };
  if (!adapter) {
    const asked = forced === 'webgpu' ? 'The link asks for WebGPU, but it' : 'WebGPU';
    return {
      backend: 'cpu',
      badge: 'CPU backend (no WebGPU)',
      detail: webgpuError ?? 'WebGPU is not available in this browser.',
      notice: `${asked} is not available here (${webgpuError ?? 'unknown reason'}), so training runs on the CPU backend in WebAssembly. It works, only slower; try a recent Chrome or Edge for the GPU.`,
    };
  }
  const software = softwareRenderer(adapter);
  if (software && forced !== 'webgpu') {
    return {
      backend: 'cpu',
      badge: `CPU backend (WebGPU here is software: ${software})`,
      detail: `This browser's WebGPU adapter (${adapterName(adapter)}) runs its shaders on the CPU, which is slower than the CPU backend. backend=webgpu in the link trains on it anyway.`,
      notice: null,
    };
  }
  const notes = [software ? 'software' : '', forced === 'webgpu' ? 'chosen in the link' : ''].filter(Boolean).join(', ');
  return {
    backend: 'webgpu',
    badge: `WebGPU · ${adapterName(adapter)}${notes ? ` (${notes})` : ''}`,
    detail: software ? `A software adapter (${software}): slower than the CPU backend; the link asked for it.` : 'Training runs on this GPU through WebGPU.',
    notice: null,
  };
}
