//! Barlow Twins: make the cross-correlation matrix of two views' embeddings the identity.
//!
//! [0] Zbontar, Jing, Misra, LeCun, Deny. "Barlow Twins: Self-Supervised Learning via
//! Redundancy Reduction", ICML 2021, arXiv:2103.03230: "the invariance term … tries to equate
//! the diagonal elements of the cross-correlation matrix to 1 … the redundancy reduction term
//! tries to equate the off-diagonal elements … to 0, decorrelating the different vector
//! components of the embedding."
//!
//! λ is scaled to the embedding size D: the paper's λ = 5·10⁻³ was tuned for D = 8,192; here
//! λ = `lambda_scale`/D, the 1/D weighting that Tsai et al. (arXiv:2104.13712) derive, which
//! keeps the off-diagonal sum (D² − D terms) in proportion to the diagonal (D terms). Turning
//! the off-diagonal term off is the collapse switch: every dimension then carries the same
//! feature.
use super::super::{Curve, Batch, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use super::{head_widths, Encoder};
use crate::augment::SimclrViews;
use crate::backbone::Backbone;
use crate::heads::MAX_HEAD_WIDTH;
use crate::bounds::{in_range, in_range_f};
use crate::loss::barlow_twins;
use crate::optim::OptimConfig;
use crate::rng::Rng;
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct BarlowTwinsConfig {
    /// Width of the projector's two hidden layers and its output, D (paper: 8,192; 0 = twice
    /// the backbone's width). 0..=4096.
    #[config(default = 0)]
    pub projector_width: usize,
    /// λ·D: the off-diagonal weight times the embedding size (λ = lambda_scale / D). [0, 100].
    #[config(default = 1.0)]
    pub lambda_scale: f64,
    /// The redundancy-reduction term; off = the collapse switch.
    #[config(default = true)]
    pub off_diagonal: bool,
    /// SimCLR's augmentations with blur, as the paper (which adds solarisation) uses.
    #[config(default = "SimclrViews { blur_p: 0.5, ..SimclrViews::default() }")]
    pub views: SimclrViews,
}

impl Default for BarlowTwinsConfig {
    fn default() -> Self {
        Self::new()
    }
}

fn projector_width(config: &BarlowTwinsConfig, feature_dim: usize) -> usize {
    if config.projector_width == 0 {
        2 * feature_dim
    } else {
        config.projector_width
    }
}

pub struct BarlowTwins {
    config: BarlowTwinsConfig,
    /// The last step's cross-correlation `[D, D]`, for the page's heat map.
    correlation: Option<Tensor<2>>,
}

/// Adam at lr 2e-3 ([`super::small_batch_adam`]) in place of the paper's LARS (lr 0.2,
/// batch 2,048). Measured at 1,000 steps (Fashion-MNIST, width 16, batch 64, seed 1; untrained 78.45 %): Adam 2e-3
/// 81.35 %, 1e-3 80.0 %; SGD lr 0.02 78.65 %, 0.05 77.7 %.
fn optimizer() -> OptimConfig {
    super::small_batch_adam(2e-3)
}

impl Method for BarlowTwins {
    const META: MethodMeta = MethodMeta {
        id: "barlow-twins",
        family: Family::Contrastive,
        name: "Barlow Twins",
        paper: "Zbontar, Jing, Misra, LeCun, Deny. Barlow Twins: Self-Supervised Learning via Redundancy Reduction. ICML 2021",
        link: "https://arxiv.org/abs/2103.03230",
        explanation: "Both views of a batch are embedded and every embedding dimension is standardised over the batch. \
            Their cross-correlation matrix should be the identity: each dimension must agree between the two views \
            (diagonal → 1, invariance) and differ from every other dimension (off-diagonal → 0, redundancy reduction). \
            No negatives and no momentum network. Scaled here: an embedding of twice the backbone's width instead of \
            8,192, with the off-diagonal weight λ = 1/D, and Adam instead of LARS, which needs batches of thousands.",
        curves: &[Curve::loss("total"), Curve::loss("on_diagonal"), Curve::loss("off_diagonal")],
        uses_labels: false,
        // The paper trains with LARS (lr 0.2 for weights, batch 2,048); see `optimizer`.
        optimizer,
    };
    type Config = BarlowTwinsConfig;
    type Model = Encoder;

    fn check(config: &BarlowTwinsConfig) -> Result<(), String> {
        in_range("projector_width", config.projector_width, 0, MAX_HEAD_WIDTH)?;
        in_range_f("lambda_scale", config.lambda_scale, 0.0, 100.0)?;
        config.views.check()
    }

    fn footprint(config: &BarlowTwinsConfig, batch_size: usize, feature_dim: usize, _n_classes: usize) -> Footprint {
        let d = projector_width(config, feature_dim);
        Footprint { extra_values: 0, forward_images: 2 * batch_size, heads: vec![head_widths(feature_dim, &[d, d], d)] }
    }

    fn new(mut config: BarlowTwinsConfig, setup: &Setup) -> Result<(Self, Encoder), String> {
        if !setup.flip_invariant {
            config.views.flip_p = 0.0;
        }
        let d = projector_width(&config, setup.backbone.out_dim(setup.width));
        Ok((BarlowTwins { config, correlation: None }, Encoder::new(setup, &[d, d], d)))
    }

    fn loss(&mut self, model: &Encoder, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let x = batch.unlabelled.clone().expect("Barlow Twins draws unlabelled images");
        let v1 = self.config.views.view(x.clone(), ctx.rng);
        let v2 = self.config.views.view(x, ctx.rng);
        // Separate passes, so each view's BatchNorm statistics are its own, as in the paper.
        let z1 = model.forward(ctx.to_model(v1)); // [N, D]
        let z2 = model.forward(ctx.to_model(v2));
        let d = z1.dims()[1];
        let lambda = if self.config.off_diagonal { self.config.lambda_scale / d as f64 } else { 0.0 };
        let (loss, on, off, c) = barlow_twins(z1, z2, lambda);
        self.correlation = Some(c.detach().inner());
        // The redundancy curve is Σᵢ≠ⱼ Cᵢⱼ² / D whatever the switch, so a learner sees it grow
        // when the term is off.
        Losses::new(loss).with("on_diagonal", on).with("off_diagonal", off / d as f64)
    }

    fn backbone(model: &Encoder) -> &Backbone {
        &model.backbone
    }

    fn matrices(&self) -> Vec<(&'static str, Tensor<2>)> {
        self.correlation.iter().map(|c| ("cross-correlation", c.clone())).collect()
    }

    fn embedding(model: &Encoder, images: Tensor<4>) -> Option<Tensor<2>> {
        Some(model.forward(images))
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        super::two_views(&self.config.views, images, rng)
    }
}
