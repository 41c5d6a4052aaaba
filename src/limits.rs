//! Limits: the range of every run setting, and an estimate of a run's memory, checked before
//! anything is allocated.
//!
//! [`check_run`] is the one gate. [`Session::new`](crate::Session::new) calls it before it
//! builds a model or moves a dataset to the device, so the CLI (`sslp train`, `sslp bench`)
//! and the page's worker (through the web facade) refuse the same runs with the same message.
//! Ranges of the run itself live in [`RunConfig::validate`]; each method checks its own
//! hyper-parameters in its file ([`crate::methods::Method::check`]).
//!
//! The estimate counts what a step keeps alive: every feature map of the forward pass (the
//! backbone's are counted layer by layer in
//! [`crate::backbone::BackboneKind::activations_per_image`]), the
//! gradients backward makes of them, the views, and the parameters with their gradients and
//! optimizer state. `tests/limits.rs` runs real steps and checks the estimate against the
//! memory they really used.
use crate::config::RunConfig;
use crate::optim::OptimKind;

/// What a step holds per feature-map value of the forward pass: the value itself, kept for
/// backward, plus a share for its gradient and the kernels' scratch, which backward frees as it
/// goes. Measured on the CPU backend (flex): the resident memory real steps added was
/// 1.1–1.4 values per forward value for SimCLR, FixMatch and RotNet on small-cnn and
/// resnet-tiny (tests/limits.rs runs the comparison).
const VALUES_PER_ACTIVATION: f64 = 1.3;
/// Copies of the input images the augmentation pipeline makes per view (warp grids, colour
/// ops, blur, cutout masks): RandAugment's strong view chains about eight tensor ops.
const VIEW_COPIES: f64 = 8.0;
/// The largest single tensor any backend is asked to hold. WebGPU adapters cap one buffer
/// (SwiftShader: 1 GiB; many GPUs: 1–2 GiB), and wasm32 addresses 4 GiB in all.
pub const MAX_TENSOR_BYTES: u64 = 1 << 30;
/// Memory a run may use in the browser: wasm32's CPU backend lives in a 4 GiB address space,
/// and a tab that takes more than 2 GiB of GPU memory is likely to lose its device.
pub const WEB_BUDGET_BYTES: u64 = 2 << 30;

/// The dataset a run trains on, as far as its size matters.
#[derive(Clone, Copy, Debug)]
pub struct DataShape {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub n_classes: usize,
    pub n_train: usize,
    pub n_test: usize,
    /// Images without a class: they join the training pool whatever `train_limit` says.
    pub n_unlabelled: usize,
}

/// Bytes a run needs, by part.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryEstimate {
    /// Train and test images on the device as f32.
    pub dataset_bytes: u64,
    /// Parameters, their gradients and the optimizer's state.
    pub model_bytes: u64,
    /// What one training step keeps alive: feature maps, their gradients, the views.
    pub step_bytes: u64,
    /// The largest single tensor of a step (the first stage's feature maps of every image).
    pub largest_tensor_bytes: u64,
    pub forward_images: usize,
    pub parameters: usize,
}

impl MemoryEstimate {
    pub fn total_bytes(&self) -> u64 {
        self.dataset_bytes + self.model_bytes + self.step_bytes
    }
}

/// "1.5 GB", "320 MB": sizes in messages.
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else {
        format!("{:.0} kB", b / 1e3)
    }
}

/// Parameters of an MLP head from its widths (weights, biases, BatchNorm with running stats).
fn head_params(widths: &[usize]) -> usize {
    let linear: usize = widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
    let norms: usize = widths[1..widths.len().saturating_sub(1)].iter().map(|w| 4 * w).sum();
    linear + norms
}

/// Feature-map values one image makes in a head: Linear, BatchNorm and ReLU per hidden
/// layer, the output layer alone.
fn head_activations(widths: &[usize]) -> usize {
    let hidden: usize = widths[1..widths.len().saturating_sub(1)].iter().map(|w| 3 * w).sum();
    hidden + widths.last().copied().unwrap_or(0)
}

/// Optimizer state tensors per parameter tensor.
fn optimizer_slots(config: &RunConfig) -> Result<u64, String> {
    let optim = config.optimizer()?;
    Ok(match optim.kind {
        OptimKind::Sgd | OptimKind::Lars => u64::from(optim.momentum > 0.0),
        OptimKind::Adam | OptimKind::Adamw => 2,
    })
}


/// The checks that need no dataset: every range of the run and of the method's parameters
/// (the page's worker calls it before it fetches any data).
pub fn check_config(config: &RunConfig) -> Result<(), String> {
    config.validate()?;
    config.method_kind()?.footprint(&config.params, config.batch_size, config.backbone.out_dim(config.width), 2, 1).map(|_| ())
}

/// Estimate the memory of `config` on `data`, checking the method's parameters on the way.
pub fn estimate(config: &RunConfig, data: &DataShape) -> Result<MemoryEstimate, String> {
    config.validate()?;
    let kind = config.method_kind()?;
    let used = |n: usize, limit: Option<usize>| limit.map_or(n, |l| l.min(n));
    let (n_train, n_test) = (used(data.n_train, config.train_limit) + data.n_unlabelled, used(data.n_test, config.test_limit));
    let footprint = kind.footprint(&config.params, config.batch_size, config.backbone.out_dim(config.width), data.n_classes, n_train)?;
    let image = (data.channels * data.height * data.width) as u64;
    let dataset_bytes = 4 * image * (n_train + n_test) as u64;

    let parameters = config.backbone.num_params(data.channels, config.width) + footprint.heads.iter().map(|h| head_params(h)).sum::<usize>();
    let model_bytes = 4 * parameters as u64 * (1 + optimizer_slots(config)?);

    let images = footprint.forward_images as f64;
    let per_image = config.backbone.activations_per_image(config.width, data.height, data.width)
        + footprint.heads.iter().map(|h| head_activations(h)).sum::<usize>();
    let step_values = images * (VALUES_PER_ACTIVATION * per_image as f64 + VIEW_COPIES * image as f64) + 2.0 * parameters as f64 + footprint.extra_values as f64;
    let step_bytes = (4.0 * step_values).min(u64::MAX as f64 / 4.0) as u64;
    let first_stage = config.backbone.largest_map_per_image(config.width, data.height, data.width) as f64;
    let largest_tensor_bytes = (4.0 * images * first_stage.max(image as f64)).min(u64::MAX as f64 / 4.0) as u64;
    Ok(MemoryEstimate { dataset_bytes, model_bytes, step_bytes, largest_tensor_bytes, forward_images: footprint.forward_images, parameters })
}

/// Memory this process may plan on: in a browser [`WEB_BUDGET_BYTES`]; natively three
/// quarters of the memory Linux reports available (8 GiB where it cannot be read).
pub fn memory_budget() -> u64 {
    #[cfg(target_family = "wasm")]
    {
        WEB_BUDGET_BYTES
    }
    #[cfg(not(target_family = "wasm"))]
    {
        let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib * 1024)
        });
        available.map_or(8 << 30, |bytes| bytes / 4 * 3)
    }
}

/// Check every range and the memory estimate against `budget` bytes. The error names what is
/// too large and what to lower.
pub fn check_run(config: &RunConfig, data: &DataShape, budget: u64) -> Result<MemoryEstimate, String> {
    let e = estimate(config, data)?;
    let what_to_lower = "lower the batch size, the width, the method's view count or head sizes (or train_limit for the dataset)";
    if e.largest_tensor_bytes > MAX_TENSOR_BYTES {
        return Err(format!(
            "this run would need a single {} tensor ({} images through the network per step at width {}); one tensor may hold at most {}: {what_to_lower}",
            human_bytes(e.largest_tensor_bytes),
            e.forward_images,
            config.width,
            human_bytes(MAX_TENSOR_BYTES)
        ));
    }
    if e.total_bytes() > budget {
        return Err(format!(
            "this run needs about {} (dataset {}, model and optimizer {}, one training step {} for {} images through the network), \
             but {} is available here: {what_to_lower}",
            human_bytes(e.total_bytes()),
            human_bytes(e.dataset_bytes),
            human_bytes(e.model_bytes),
            human_bytes(e.step_bytes),
            e.forward_images,
            human_bytes(budget)
        ));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FASHION: DataShape = DataShape { channels: 1, height: 28, width: 28, n_classes: 10, n_train: 60_000, n_test: 10_000, n_unlabelled: 0 };

    #[test]
    fn head_sizes_by_hand() {
        // [128, 64, 10]: 128·64 + 64 + 4·64 (BatchNorm) + 64·10 + 10.
        assert_eq!(head_params(&[128, 64, 10]), 8256 + 256 + 650);
        assert_eq!(head_activations(&[128, 64, 10]), 3 * 64 + 10);
    }

    #[test]
    fn defaults_fit_and_absurd_runs_are_refused_with_what_to_lower() {
        let fits = check_run(&RunConfig::default(), &FASHION, WEB_BUDGET_BYTES).unwrap();
        assert!(fits.total_bytes() < 1 << 30, "{fits:?}");
        let fixmatch = RunConfig { method: "fixmatch".into(), batch_size: 4096, params: serde_json::json!({"mu": 16}), ..RunConfig::default() };
        let e = check_run(&fixmatch, &FASHION, 16 << 30).unwrap_err();
        assert!(e.contains("135168 images") && e.contains("lower the batch size"), "{e}");
        let wide = RunConfig { params: serde_json::json!({"projector_out": 100_000_000}), ..RunConfig::default() };
        let e = check_run(&wide, &FASHION, 16 << 30).unwrap_err();
        assert!(e.contains("projector_out = 100000000 must be in 1..=4096"), "{e}");
    }
}
