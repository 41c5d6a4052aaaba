import { describe, expect, it } from 'vitest';
import type { AdapterInfo } from '../../src/protocol';
import { chooseBackend, softwareRenderer } from '../../src/backend';

// What headless Chromium reports for SwiftShader, and a discrete GPU.
const swiftshader: AdapterInfo = { vendor: 'google', architecture: 'swiftshader', description: '', isFallbackAdapter: true };
const lavapipe: AdapterInfo = { vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 19.1.7, 256 bits)', isFallbackAdapter: false };
const fallbackOnly: AdapterInfo = { vendor: '', architecture: '', description: '', isFallbackAdapter: true };
const gpu: AdapterInfo = { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200', isFallbackAdapter: false };

describe('backend choice', () => {
  it('names software adapters and leaves GPUs alone', () => {
    expect(softwareRenderer(swiftshader)).toBe('swiftshader');
    expect(softwareRenderer(lavapipe)).toBe('llvmpipe');
    expect(softwareRenderer(fallbackOnly)).toBe('a fallback adapter');
    expect(softwareRenderer(gpu)).toBeNull();
    // "warp" only as a word: a GPU named "Warpath" is not WARP.
    expect(softwareRenderer({ ...gpu, description: 'Warpath 9000' })).toBeNull();
    expect(softwareRenderer({ ...gpu, vendor: 'microsoft', description: 'Microsoft Basic Render Driver' })).toBe('Microsoft Basic Render');
  });

  it('trains on a GPU adapter', () => {
    const c = chooseBackend(gpu, null, null);
    expect(c.backend).toBe('webgpu');
    expect(c.badge).toBe('WebGPU · nvidia hopper');
    expect(c.notice).toBeNull();
  });

  it('passes over a software adapter for the CPU, and says why in one line', () => {
    for (const a of [swiftshader, lavapipe, fallbackOnly]) {
      const c = chooseBackend(a, null, null);
      expect(c.backend).toBe('cpu');
      expect(c.badge).toMatch(/^CPU backend \(WebGPU here is software: .+\)$/);
      expect(c.detail).toMatch(/backend=webgpu in the link trains on it anyway/);
      expect(c.notice).toBeNull();
    }
  });

  it('follows the link: backend=webgpu uses a software adapter, backend=cpu skips any', () => {
    expect(chooseBackend(swiftshader, 'webgpu', null)).toMatchObject({ backend: 'webgpu', badge: 'WebGPU · google swiftshader (software, chosen in the link)', notice: null });
    expect(chooseBackend(gpu, 'webgpu', null).badge).toBe('WebGPU · nvidia hopper (chosen in the link)');
    expect(chooseBackend(gpu, 'cpu', null)).toMatchObject({ backend: 'cpu', badge: 'CPU backend (chosen in the link)', notice: null });
  });

  it('falls back to the CPU without WebGPU, with the reason, also when the link asked for WebGPU', () => {
    const c = chooseBackend(null, null, 'this browser has no WebGPU (navigator.gpu is missing)');
    expect(c.backend).toBe('cpu');
    expect(c.notice).toMatch(/^WebGPU is not available here \(this browser has no WebGPU/);
    expect(chooseBackend(null, 'webgpu', 'x').notice).toMatch(/^The link asks for WebGPU, but it is not available here \(x\)/);
  });
});
