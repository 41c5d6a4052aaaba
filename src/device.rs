//! Picking the compute device at the edges: the CLI flag, the tests, the web worker's probe.
use burn::prelude::*;

/// `cpu` (Burn's flex backend: im2col + gemm convolutions, ~20× faster than ndarray's here) or `wgpu` (Vulkan/Metal/DX12 natively; lavapipe without a GPU).
pub fn native_device(name: &str) -> Result<Device, String> {
    match name {
        "cpu" => Ok(Device::flex()),
        #[cfg(all(not(target_family = "wasm"), feature = "wgpu"))]
        "wgpu" => Device::wgpu_options().init().map_err(|e| {
            format!("no wgpu adapter ({e:?}); install a Vulkan driver (on Debian: apt-get install mesa-vulkan-drivers libvulkan1) or use --device cpu")
        }),
        #[cfg(not(feature = "wgpu"))]
        "wgpu" => Err("this build has no wgpu backend; rebuild with the default features (cargo build --release) or use --device cpu".into()),
        other => Err(format!("unknown device '{other}'; choose cpu or wgpu")),
    }
}
