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
