//! Contrastive and non-contrastive joint-embedding methods.
pub mod barlow_twins;
pub mod byol;
pub mod dino;
pub mod maskfeat;
pub mod moco;
pub mod npid;
pub mod simclr;
pub mod simclr_v2;

use super::Setup;
use crate::backbone::Backbone;
use crate::augment::SimclrViews;
use crate::heads::Mlp;
use crate::rng::Rng;
use crate::optim::{OptimConfig, OptimKind};
use burn::prelude::*;

/// SGD with momentum 0.9, lr 0.05, weight decay 5e-4, 5 % warm-up then cosine decay: what
/// SimCLR and SimCLR v2 train with here. Their papers use LARS on batches of thousands; at
/// our batches of 64–128 LARS measured worse for SimCLR (see simclr.rs).
pub fn small_batch_sgd() -> OptimConfig {
    OptimConfig { kind: OptimKind::Sgd, lr: 0.05, momentum: 0.9, nesterov: false, weight_decay: 5e-4, warmup: 0.05, cosine: true }
}

/// Adam at `lr`, weight decay 1e-6, 5 % warm-up then cosine decay: what BYOL and Barlow
/// Twins train with here in place of their papers' LARS. Without negatives their losses'
/// gradients differ in scale from layer to layer, which Adam's per-weight step absorbs; both
/// gained 2–3 kNN points over SGD at 1,000 steps (see their `optimizer`).
pub fn small_batch_adam(lr: f64) -> OptimConfig {
    OptimConfig { kind: OptimKind::Adam, lr, momentum: 0.9, nesterov: false, weight_decay: 1e-6, warmup: 0.05, cosine: true }
}

/// A backbone with a projection head on top: the online network of MoCo, BYOL and Barlow
/// Twins, and the shape of their EMA teachers.
#[derive(Module, Debug)]
pub struct Encoder {
    pub backbone: Backbone,
    pub projector: Mlp,
}

impl Encoder {
    /// A fresh encoder whose head has `hidden` widths (0 = the backbone's width) then `out`.
    pub fn new(setup: &Setup, hidden: &[usize], out: usize) -> Self {
        let backbone = setup.backbone();
        let widths = head_widths(backbone.out_dim(), hidden, out);
        Encoder { projector: Mlp::new(&widths, &setup.device), backbone }
    }

    /// Projections `[B, out]` of images `[B, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.projector.forward(self.backbone.forward(x))
    }
}

/// Two independent views of `images`, named for the page's preview (SimCLR, BYOL, Barlow Twins).
pub fn two_views(views: &SimclrViews, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
    vec![("view 1".into(), views.view(images.clone(), rng)), ("view 2".into(), views.view(images, rng))]
}

/// The head's widths for the memory estimate: backbone features, hidden layers, output.
pub fn head_widths(feature_dim: usize, hidden: &[usize], out: usize) -> Vec<usize> {
    let mut widths = vec![feature_dim];
    widths.extend(hidden.iter().map(|&h| if h == 0 { feature_dim } else { h }));
    widths.push(out);
    widths
}
