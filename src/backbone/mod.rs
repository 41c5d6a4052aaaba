//! Backbones: images `[B, C, H, W]` → features `[B, D]`, plus pooled features of every stage
//! for the per-layer kNN probe (RotNet's best features sit in early blocks, Gidaris et al. 2018).
//!
//! Every backbone takes 1- or 3-channel images of 28–64 px, and smaller crops (DINO's local
//! views): the CNNs end every stage in global average pooling and `vit-tiny` resamples its
//! position embeddings, so the feature width does not depend on the image size.
//!
//! The CNNs' stages are their conv blocks; `vit-tiny`'s are its transformer blocks, whose
//! features are the CLS token after each block (its patch tokens are the stage maps).
pub mod conv;
pub mod resnet_tiny;
pub mod small_cnn;
pub mod vit_tiny;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use resnet_tiny::ResnetTiny;
pub use small_cnn::SmallCnn;
pub use vit_tiny::VitTiny;

/// Which backbone a run uses; the ids are what the CLI and the page send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackboneKind {
    SmallCnn,
    ResnetTiny,
    VitTiny,
}

impl BackboneKind {
    pub fn id(self) -> &'static str {
        match self {
            BackboneKind::SmallCnn => "small-cnn",
            BackboneKind::ResnetTiny => "resnet-tiny",
            BackboneKind::VitTiny => "vit-tiny",
        }
    }
    /// Width of the final feature vector at `width`: 4× for the CNNs (their last stage), the
    /// embedding width 2× for `vit-tiny`.
    pub fn out_dim(self, width: usize) -> usize {
        match self {
            BackboneKind::SmallCnn | BackboneKind::ResnetTiny => 4 * width,
            BackboneKind::VitTiny => vit_tiny::embed_dim(width),
        }
    }
    /// Parameters (and BatchNorm running statistics) of this backbone, counted from its
    /// layer list without building it, so a run's size is known before anything is allocated.
    /// A test checks it against the built module.
    pub fn num_params(self, in_channels: usize, width: usize) -> usize {
        // conv 3×3 without bias + BatchNorm (γ, β, running mean, running var).
        let conv_bn = |c_in: usize, c_out: usize, k: usize| k * k * c_in * c_out + 4 * c_out;
        let (w1, w2, w3) = (width, 2 * width, 4 * width);
        match self {
            BackboneKind::SmallCnn => conv_bn(in_channels, w1, 3) + conv_bn(w1, w2, 3) + conv_bn(w2, w3, 3),
            BackboneKind::ResnetTiny => {
                let block = |c_in: usize, c_out: usize| {
                    let shortcut = if c_in != c_out { conv_bn(c_in, c_out, 1) } else { 0 };
                    conv_bn(c_in, c_out, 3) + conv_bn(c_out, c_out, 3) + shortcut
                };
                // Block 2 and 3 change width (and stride), so they have a 1×1 projection.
                conv_bn(in_channels, w1, 3) + block(w1, w1) + block(w1, w2) + block(w2, w3)
            }
            BackboneKind::VitTiny => vit_tiny::num_params(in_channels, width),
        }
    }

    /// Feature-map values one image produces in a forward pass (every conv, BatchNorm, ReLU,
    /// pool and residual-add output), for the memory estimate in [`crate::limits`].
    pub fn activations_per_image(self, width: usize, height: usize, width_px: usize) -> usize {
        let px = |stride: usize| height.div_ceil(stride) * width_px.div_ceil(stride);
        let (w1, w2, w3) = (width, 2 * width, 4 * width);
        match self {
            // conv → BN → ReLU at 1×, 2×2 max-pool, the same at ½, pool, the same at ¼.
            BackboneKind::SmallCnn => 3 * w1 * px(1) + w1 * px(2) + 3 * w2 * px(2) + w2 * px(4) + 3 * w3 * px(4),
            // Stem conv → BN → ReLU; each BasicBlock: conv, BN, ReLU, conv, BN, add, ReLU
            // (7 maps), plus conv + BN of the projection shortcut in blocks 2 and 3.
            BackboneKind::ResnetTiny => 3 * w1 * px(1) + 7 * w1 * px(1) + 9 * w2 * px(2) + 9 * w3 * px(4),
            BackboneKind::VitTiny => vit_tiny::activations_per_image(width, height, width_px),
        }
    }

    /// Values of the largest single feature tensor per image: the CNNs' first stage, or
    /// `vit-tiny`'s attention scores (heads × tokens²) or its widest token map.
    pub fn largest_map_per_image(self, width: usize, height: usize, width_px: usize) -> usize {
        match self {
            BackboneKind::SmallCnn | BackboneKind::ResnetTiny => width * height * width_px,
            BackboneKind::VitTiny => {
                let d = vit_tiny::embed_dim(width);
                let (rows, cols) = vit_tiny::grid(height, width_px);
                let t = 1 + rows * cols;
                (vit_tiny::heads(d) * t * t).max(vit_tiny::MLP_RATIO * d * t)
            }
        }
    }

    pub fn parse(id: &str) -> Result<Self, String> {
        match id {
            "small-cnn" => Ok(BackboneKind::SmallCnn),
            "resnet-tiny" => Ok(BackboneKind::ResnetTiny),
            "vit-tiny" => Ok(BackboneKind::VitTiny),
            other => Err(format!("unknown backbone '{other}'; choose small-cnn, resnet-tiny or vit-tiny")),
        }
    }
}

/// The backbone module; an enum so that a method holds one field whatever the choice.
#[derive(Module, Debug)]
pub enum Backbone {
    SmallCnn(SmallCnn),
    ResnetTiny(ResnetTiny),
    VitTiny(VitTiny),
}

impl Backbone {
    /// `width` is the first stage's channel count; later stages double it.
    pub fn new(kind: BackboneKind, in_channels: usize, width: usize, device: &Device) -> Self {
        match kind {
            BackboneKind::SmallCnn => Backbone::SmallCnn(SmallCnn::new(in_channels, width, device)),
            BackboneKind::ResnetTiny => Backbone::ResnetTiny(ResnetTiny::new(in_channels, width, device)),
            BackboneKind::VitTiny => Backbone::VitTiny(VitTiny::new(in_channels, width, device)),
        }
    }

    /// Width of the final feature vector.
    pub fn out_dim(&self) -> usize {
        match self {
            Backbone::SmallCnn(m) => m.out_dim(),
            Backbone::ResnetTiny(m) => m.out_dim(),
            Backbone::VitTiny(m) => m.out_dim(),
        }
    }

    /// Stage outputs as feature maps `[B, C_i, H_i, W_i]`, shallow to deep (`vit-tiny`: its
    /// patch tokens after each block, on the patch grid).
    pub fn stages(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        match self {
            Backbone::SmallCnn(m) => m.stages(x),
            Backbone::ResnetTiny(m) => m.stages(x),
            Backbone::VitTiny(m) => m.maps(x),
        }
    }

    pub fn stage_names(&self) -> Vec<String> {
        let n = match self {
            Backbone::SmallCnn(_) => 3,
            Backbone::ResnetTiny(_) => 4,
            Backbone::VitTiny(_) => return (1..=vit_tiny::DEPTH).map(|i| format!("block{i}")).collect(),
        };
        (1..=n).map(|i| format!("stage{i}")).collect()
    }

    /// Final features `[B, D]`: global average pool of the last stage (`vit-tiny`: the final
    /// CLS token).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        if let Backbone::VitTiny(m) = self {
            return m.forward(x);
        }
        let last = self.stages(x).pop().expect("a backbone has at least one stage");
        global_pool(last)
    }

    /// Features of every stage, `[B, C_i]` each: pooled maps, or `vit-tiny`'s CLS tokens.
    pub fn pooled_stages(&self, x: Tensor<4>) -> Vec<Tensor<2>> {
        if let Backbone::VitTiny(m) = self {
            return m.cls_per_block(x);
        }
        self.stages(x).into_iter().map(global_pool).collect()
    }
}

/// `[B, C, H, W]` → `[B, C]` by global average pooling.
pub fn global_pool(x: Tensor<4>) -> Tensor<2> {
    let [b, c, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([b, c])
}

/// Bilinear resampling of a `from` grid to a `to` grid (rows, columns), as a row-major
/// `[to.0·to.1, from.0·from.1]` matrix: half-pixel centres, edges clamped (as `align_corners =
/// false`); each row is a convex blend, and `from == to` gives the identity. A product with it
/// resamples on every backend, with gradients: Burn 0.22's wgpu backend has no backward pass
/// for bilinear `interpolate` (it panics), so trained tensors are resampled this way.
pub fn bilinear_matrix(from: (usize, usize), to: (usize, usize)) -> Vec<f32> {
    let axis = |n_in: usize, n_out: usize| -> Vec<[(usize, f32); 2]> {
        (0..n_out)
            .map(|i| {
                let src = ((i as f32 + 0.5) * n_in as f32 / n_out as f32 - 0.5).clamp(0.0, (n_in - 1) as f32);
                let lo = src.floor() as usize;
                let hi = (lo + 1).min(n_in - 1);
                let t = src - lo as f32;
                [(lo, 1.0 - t), (hi, t)]
            })
            .collect()
    };
    let (ys, xs) = (axis(from.0, to.0), axis(from.1, to.1));
    let n = from.0 * from.1;
    let mut m = vec![0.0; to.0 * to.1 * n];
    for (r, y) in ys.iter().enumerate() {
        for (c, x) in xs.iter().enumerate() {
            for &(yi, wy) in y {
                for &(xi, wx) in x {
                    m[(r * to.1 + c) * n + yi * from.1 + xi] += wy * wx;
                }
            }
        }
    }
    m
}

/// Feature maps `[B, D, h, w]` resampled bilinearly to the grid `to`, flattened: `[B, D, to.0·to.1]`.
pub fn resample_maps(maps: Tensor<4>, to: (usize, usize)) -> Tensor<3> {
    let [b, d, h, w] = maps.dims();
    let flat = maps.reshape([b * d, h * w]); // [B·D, h·w]
    if (h, w) == to {
        return flat.reshape([b, d, h * w]);
    }
    let resample = Tensor::<2>::from_data(TensorData::new(bilinear_matrix((h, w), to), [to.0 * to.1, h * w]), &flat.device());
    flat.matmul(resample.transpose()).reshape([b, d, to.0 * to.1]) // [B·D, N] → [B, D, N]
}
