//! Backbones: images `[B, C, H, W]` → features `[B, D]`, plus pooled features of every stage
//! for the per-layer kNN probe (RotNet's best features sit in early blocks, Gidaris et al. 2018).
//!
//! Both backbones take 1- or 3-channel images of 28–64 px: every stage ends in global average
//! pooling, so the feature width does not depend on the image size.
pub mod resnet_tiny;
pub mod small_cnn;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use resnet_tiny::ResnetTiny;
pub use small_cnn::SmallCnn;

/// Which backbone a run uses; the ids are what the CLI and the page send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackboneKind {
    SmallCnn,
    ResnetTiny,
}

impl BackboneKind {
    pub fn id(self) -> &'static str {
        match self {
            BackboneKind::SmallCnn => "small-cnn",
            BackboneKind::ResnetTiny => "resnet-tiny",
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
        }
    }

    pub fn parse(id: &str) -> Result<Self, String> {
        match id {
            "small-cnn" => Ok(BackboneKind::SmallCnn),
            "resnet-tiny" => Ok(BackboneKind::ResnetTiny),
            other => Err(format!("unknown backbone '{other}'; choose small-cnn or resnet-tiny")),
        }
    }
}

/// The backbone module; an enum so that a method holds one field whatever the choice.
#[derive(Module, Debug)]
pub enum Backbone {
    SmallCnn(SmallCnn),
    ResnetTiny(ResnetTiny),
}

impl Backbone {
    /// `width` is the first stage's channel count; later stages double it.
    pub fn new(kind: BackboneKind, in_channels: usize, width: usize, device: &Device) -> Self {
        match kind {
            BackboneKind::SmallCnn => Backbone::SmallCnn(SmallCnn::new(in_channels, width, device)),
            BackboneKind::ResnetTiny => Backbone::ResnetTiny(ResnetTiny::new(in_channels, width, device)),
        }
    }

    /// Width of the final feature vector.
    pub fn out_dim(&self) -> usize {
        match self {
            Backbone::SmallCnn(m) => m.out_dim(),
            Backbone::ResnetTiny(m) => m.out_dim(),
        }
    }

    /// Stage outputs as feature maps `[B, C_i, H_i, W_i]`, shallow to deep.
    pub fn stages(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        match self {
            Backbone::SmallCnn(m) => m.stages(x),
            Backbone::ResnetTiny(m) => m.stages(x),
        }
    }

    pub fn stage_names(&self) -> Vec<String> {
        let n = match self {
            Backbone::SmallCnn(_) => 3,
            Backbone::ResnetTiny(_) => 4,
        };
        (1..=n).map(|i| format!("stage{i}")).collect()
    }

    /// Final features `[B, D]`: global average pool of the last stage.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let last = self.stages(x).pop().expect("a backbone has at least one stage");
        global_pool(last)
    }

    /// Pooled features of every stage, `[B, C_i]` each.
    pub fn pooled_stages(&self, x: Tensor<4>) -> Vec<Tensor<2>> {
        self.stages(x).into_iter().map(global_pool).collect()
    }
}

/// `[B, C, H, W]` → `[B, C]` by global average pooling.
pub fn global_pool(x: Tensor<4>) -> Tensor<2> {
    let [b, c, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([b, c])
}
