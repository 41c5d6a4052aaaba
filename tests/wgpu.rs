//! The code the browser runs, exercised natively: a few SimCLR and FixMatch steps on Burn's
//! wgpu backend (lavapipe on a machine without a GPU; `.ci/run` installs it), matching the
//! CPU backend's first loss. Needs the `wgpu` feature (default); the CI test command builds
//! without it to save build time, and trains on WebGPU in the browser test instead.
mod common;
use common::{cpu, pack};
use ssl_playground::device::native_device;
use ssl_playground::exec::block_on;
use ssl_playground::session::native_clock;
use ssl_playground::{RunConfig, Session};

#[test]
fn wgpu_backend_trains_and_agrees_with_cpu() {
    let gpu = native_device("wgpu").expect("a wgpu adapter (install mesa-vulkan-drivers for lavapipe)");
    let p = pack("fashion-mnist");
    for method in ["simclr", "fixmatch"] {
        let config = RunConfig {
            method: method.into(),
            width: 8,
            steps: 4,
            batch_size: 16,
            labels_per_class: 4,
            params: if method == "fixmatch" { serde_json::json!({"mu": 2}) } else { serde_json::json!({}) },
            train_limit: Some(200),
            test_limit: Some(50),
            knn_k: 10,
            ..RunConfig::default()
        };
        let mut on_gpu = Session::new(config.clone(), &p, gpu.clone(), native_clock()).unwrap();
        let mut on_cpu = Session::new(config, &p, cpu(), native_clock()).unwrap();
        let mut first = None;
        for i in 0..4 {
            let g = block_on(on_gpu.step()).unwrap();
            let c = block_on(on_cpu.step()).unwrap();
            for (name, v) in &g.terms {
                assert!(v.is_finite(), "{method} on wgpu: {name} = {v}");
            }
            if i == 0 {
                first = Some((g.term("total").unwrap(), c.term("total").unwrap()));
            }
        }
        // Same seed, same data, same views: the first losses agree up to float differences.
        // (Initial weights come from each backend's own RNG, so only a loose match is fair.)
        let (g, c) = first.unwrap();
        assert!((g - c).abs() < 0.5 * c.abs().max(1.0), "{method}: wgpu {g} vs cpu {c}");
        let eval = block_on(on_gpu.evaluate()).unwrap();
        assert!(eval.knn_acc > 0.0 && eval.knn_acc <= 1.0);
        let n = block_on(on_gpu.neighbours_of_test(0, 3)).unwrap();
        assert_eq!(n.len(), 3);
    }
}
