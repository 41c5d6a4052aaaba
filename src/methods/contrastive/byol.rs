//! BYOL: an online network with a predictor learns to predict the projection a slowly moving
//! target network gives of another view; no negatives at all.
//!
//! [0] Grill et al. "Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning",
//! NeurIPS 2020, arXiv:2006.07733: "we train an online network to predict the target network
//! representation of the same image under a different augmented view", with the target "an
//! exponential moving average of the online parameters", τ raised from τ_base to 1 (§3.2).
//!
//! Two switches show what keeps BYOL from collapsing (its paper's ablations, Table 5): without
//! the predictor, or with τ = 0 (the target is the online network itself), the embedding
//! collapses to a constant and the loss drops to 0 while kNN falls.
use super::super::ema::{ema_update, frozen_copy, EmaSchedule};
use super::super::{Curve, Batch, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use super::{head_widths, Encoder};
use crate::augment::SimclrViews;
use crate::backbone::Backbone;
use crate::heads::{Mlp, MAX_HEAD_WIDTH};
use crate::bounds::in_range;
use crate::loss::neg_cosine;
use crate::optim::OptimConfig;
use crate::rng::Rng;
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct ByolConfig {
    /// Target momentum τ, cosine-raised to 1 over the run. The paper starts at 0.996 for
    /// ~10⁵ steps, a target averaging the last ~250 steps; 0.95 (~20 steps) lets the target
    /// move within runs of 10²–10³ steps.
    #[config(default = "EmaSchedule { base: 0.95, cosine: true }")]
    pub ema: EmaSchedule,
    /// The slow-moving target; off = τ = 0 throughout (the target is a copy of the online
    /// network after every step): one of the two collapse switches.
    #[config(default = true)]
    pub ema_target: bool,
    /// Hidden width of the projector and the predictor (paper: 4096; 0 = twice the
    /// backbone's width). 0..=4096.
    #[config(default = 512)]
    pub hidden: usize,
    /// Projection size (paper: 256). 1..=4096.
    #[config(default = 64)]
    pub projector_out: usize,
    /// The predictor q_θ on the online branch; off = the other collapse switch.
    #[config(default = true)]
    pub predictor: bool,
    /// BYOL's augmentations are SimCLR's, with blur (p 1.0 / 0.1 in the two views in the
    /// paper; 0.5 in both here) and solarisation left out.
    #[config(default = "SimclrViews { blur_p: 0.5, ..SimclrViews::default() }")]
    pub views: SimclrViews,
}

impl Default for ByolConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The online network and predictor (trained), and the target network (their EMA).
#[derive(Module, Debug)]
pub struct ByolModel {
    pub online: Encoder,
    pub predictor: Mlp,
    pub target: Encoder,
}

pub struct Byol {
    config: ByolConfig,
}

fn hidden_width(config: &ByolConfig, feature_dim: usize) -> usize {
    if config.hidden == 0 {
        2 * feature_dim
    } else {
        config.hidden
    }
}

/// Adam at lr 3e-3 ([`super::small_batch_adam`]) in place of LARS, which needs
/// batches of thousands. Measured at 1,000 steps (Fashion-MNIST, width 16, batch 64, seed 1;
/// untrained 78.45 %): with hidden 512 and τ from 0.95, Adam 3e-3 81.4 % against SGD (lr 0.1)
/// 79.25 %; with hidden 128 and τ from 0.99, Adam 1e-3 78.3 %, 3e-3 79.45 %, 5e-3 79.45 %, SGD
/// (lr 0.05) 78.05 %.
fn optimizer() -> OptimConfig {
    super::small_batch_adam(3e-3)
}

impl Method for Byol {
    const META: MethodMeta = MethodMeta {
        id: "byol",
        family: Family::Contrastive,
        name: "BYOL",
        paper: "Grill et al. Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning. NeurIPS 2020",
        link: "https://arxiv.org/abs/2006.07733",
        explanation: "No negatives: the online network sees one view and, through an extra predictor, must output what a \
            second network (the target, a slow moving average of the online one) gives for the other view. Nothing in the \
            loss forbids mapping every image to the same point; the predictor and the slow target are what keep that from \
            happening. Turn off the predictor, or set the target momentum to 0, and watch the embedding collapse. Scaled \
            here: target momentum from 0.95 (paper 0.996) to 1, hidden width 512 (paper 4,096), and Adam instead of LARS, \
            which needs batches of thousands.",
        curves: &[Curve::loss("total")],
        uses_labels: false,
        // BYOL trains with LARS at lr 0.2·B/256 on batches of 4,096; see `optimizer`.
        optimizer,
    };
    type Config = ByolConfig;
    type Model = ByolModel;

    fn check(config: &ByolConfig) -> Result<(), String> {
        config.ema.check()?;
        in_range("hidden", config.hidden, 0, MAX_HEAD_WIDTH)?;
        in_range("projector_out", config.projector_out, 1, MAX_HEAD_WIDTH)?;
        config.views.check()
    }

    fn footprint(config: &ByolConfig, batch_size: usize, feature_dim: usize, _n_classes: usize) -> Footprint {
        let h = hidden_width(config, feature_dim);
        let projector = head_widths(feature_dim, &[h], config.projector_out);
        // Both views through the online and the target network.
        Footprint { extra_values: 0, forward_images: 4 * batch_size, heads: vec![projector.clone(), projector, vec![config.projector_out, h, config.projector_out]] }
    }

    fn new(mut config: ByolConfig, setup: &Setup) -> Result<(Self, ByolModel), String> {
        if !setup.flip_invariant {
            config.views.flip_p = 0.0;
        }
        let h = hidden_width(&config, setup.backbone.out_dim(setup.width));
        let online = Encoder::new(setup, &[h], config.projector_out);
        let target = frozen_copy(Encoder::new(setup, &[h], config.projector_out), &online);
        let predictor = Mlp::new(&[config.projector_out, h, config.projector_out], &setup.device);
        Ok((Byol { config }, ByolModel { online, predictor, target }))
    }

    fn loss(&mut self, model: &ByolModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let x = batch.unlabelled.clone().expect("BYOL draws unlabelled images");
        let n = x.dims()[0];
        let v1 = self.config.views.view(x.clone(), ctx.rng);
        let v2 = self.config.views.view(x, ctx.rng);
        let views = ctx.to_model(Tensor::cat(vec![v1, v2], 0)); // [2N, C, H, W]
        let z = model.online.forward(views.clone()); // [2N, P]
        let p = if self.config.predictor { model.predictor.forward(z) } else { z };
        let t = model.target.forward(views).detach(); // [2N, P], no gradient into the target
        // Symmetric: view 1's prediction regresses view 2's target and the other way round.
        let (p1, p2) = (p.clone().narrow(0, 0, n), p.narrow(0, n, n));
        let (t1, t2) = (t.clone().narrow(0, 0, n), t.narrow(0, n, n));
        let loss = (neg_cosine(p1, t2) + neg_cosine(p2, t1)) / 2.0;
        Losses::new(loss)
    }

    fn after_step(&mut self, model: ByolModel, ctx: &StepCtx) -> ByolModel {
        let tau = if self.config.ema_target { self.config.ema.momentum(ctx.step, ctx.total_steps) } else { 0.0 };
        let target = ema_update(model.target, &model.online, tau);
        ByolModel { target, ..model }
    }

    fn backbone(model: &ByolModel) -> &Backbone {
        &model.online.backbone
    }

    fn embedding(model: &ByolModel, images: Tensor<4>) -> Option<Tensor<2>> {
        Some(model.online.forward(images))
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        super::two_views(&self.config.views, images, rng)
    }
}
