//! Temporal Ensembling: each unlabelled image's target is the running average of the
//! network's past predictions for it.
//!
//! [0] Laine, Aila. "Temporal Ensembling for Semi-Supervised Learning", ICLR 2017,
//! arXiv:1610.02242, §2.2. Where the Π-model compares two passes of one step, Temporal
//! Ensembling keeps, per training image, an exponential moving average Z of the class
//! probabilities the network gave it in earlier epochs, Z ← αZ + (1 − α)z (α = 0.6), and
//! trains the current prediction towards Z corrected for its start at zero, z̃ = Z/(1 − α^t)
//! after t updates. The ensemble is a better target than one noisy pass, at the cost of one
//! vector per training image and targets that change only when an image comes round again.
//!
//! Z and the per-image update counts t are state of the model ([`PerSampleRows`],
//! [`PerSample`]), so checkpoints, page snapshots and "Resume on CPU" carry them. An image's
//! Z is updated each time a batch draws it (once an epoch, as in the paper), with the
//! prediction of its training pass; an image not drawn yet has no target and adds nothing.
//! Noise, weight and ramp are the Π-model's ([`super::pi_model`]): weak views, dropout 0.5,
//! weight 10 ramped over the first 40 % of the run (the paper ramps over 80 of 300 epochs).
use super::super::memory::{PerSample, PerSampleRows};
use super::super::{Batch, BatchPlan, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use super::pi_model::PiModelNet;
use super::{sigmoid_ramp, usb_optimizer, weak_pass, weak_pass_footprint, weak_views, semi_losses};
use crate::backbone::Backbone;
use crate::bounds::{in_range, in_range_f};
use crate::heads::Mlp;
use crate::loss::masked_softmax_mse;
use crate::rng::Rng;
use burn::prelude::*;
use burn::tensor::activation::softmax;

#[derive(Config, Debug)]
pub struct TemporalEnsemblingConfig {
    /// α: the ensemble's momentum (paper 0.6). [0, 0.999].
    #[config(default = 0.6)]
    pub alpha: f64,
    /// Weight of the consistency term at full ramp. [0, 1000].
    #[config(default = 10.0)]
    pub lambda_u: f64,
    /// Share of the run over which the weight ramps up. [0, 1].
    #[config(default = 0.4)]
    pub ramp: f64,
    /// Dropout on the features before the classifier. [0, 0.9].
    #[config(default = 0.5)]
    pub dropout: f64,
    /// μ: unlabelled images per labelled image in a batch (USB's 7). 1..=16.
    #[config(default = 7)]
    pub mu: usize,
}

impl Default for TemporalEnsemblingConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The network, and per training image the ensemble Z `[N, K]` and its update count t `[N]`.
#[derive(Module, Debug)]
pub struct TemporalEnsemblingModel {
    pub net: PiModelNet,
    pub ensemble: PerSampleRows,
    pub updates: PerSample,
}

pub struct TemporalEnsembling {
    config: TemporalEnsemblingConfig,
    flip: bool,
    /// The batch's unlabelled indices and their detached probabilities, for the update after
    /// the optimizer step.
    pending: Option<(Tensor<1, Int>, Tensor<2>)>,
}

/// The bias-corrected targets z̃ = Z/(1 − α^t) of ensembles `ensemble` `[B, K]` after
/// `updates` `[B]` updates each, with the mask `[B]` of rows that have one (t ≥ 1).
pub fn bias_corrected(ensemble: Tensor<2>, updates: Tensor<1>, alpha: f64) -> (Tensor<2>, Tensor<1>) {
    let [b, _] = ensemble.dims();
    let seen = updates.clone().greater_equal_elem(1.0).float(); // [B]
    // 1 − α^t, with t = 0 mapped to 1 so that unseen rows (Z = 0) stay 0 instead of 0/0.
    let correction = (updates * alpha.max(f64::MIN_POSITIVE).ln()).exp().neg() + 1.0; // [B]
    let correction = correction * seen.clone() + (seen.clone().neg() + 1.0);
    (ensemble / correction.reshape([b, 1]), seen)
}

impl Method for TemporalEnsembling {
    const META: MethodMeta = MethodMeta {
        id: "temporal-ensembling",
        family: Family::Semi,
        name: "Temporal Ensembling",
        paper: "Laine, Aila. Temporal Ensembling for Semi-Supervised Learning. ICLR 2017",
        link: "https://arxiv.org/abs/1610.02242",
        explanation: "Like the Π-model, the network is trained to give an unlabelled image the same answer every time it \
            sees it, shifted, flipped and with features dropped. But the target is not one other pass: it is the average \
            of all the answers the network gave that image before, each older one counting less. An average of many \
            noisy answers is steadier than one, so the targets are better; the price is one stored answer per training \
            image, updated only when the image comes round again. The average starts at zero, and early on it is divided \
            by the weight it has gathered so far, so that it is not biased towards zero.",
        curves: &[Curve::loss("total"), Curve::loss("sup"), Curve::loss("unsup"), Curve::ratio("mask_ratio"), Curve::accuracy("pseudo_label_acc")],
        uses_labels: true,
        optimizer: usb_optimizer,
    };

    type Config = TemporalEnsemblingConfig;
    type Model = TemporalEnsemblingModel;

    fn check(config: &TemporalEnsemblingConfig) -> Result<(), String> {
        in_range_f("alpha", config.alpha, 0.0, 0.999)?;
        in_range_f("lambda_u", config.lambda_u, 0.0, 1000.0)?;
        in_range_f("ramp", config.ramp, 0.0, 1.0)?;
        in_range_f("dropout", config.dropout, 0.0, 0.9)?;
        in_range("mu", config.mu, 1, 16)
    }

    fn footprint(config: &TemporalEnsemblingConfig, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        weak_pass_footprint(config.mu, batch_size, feature_dim, n_classes)
    }

    fn extra_values(_config: &TemporalEnsemblingConfig, _batch_size: usize, n_train: usize) -> usize {
        // Z and t for every training image; the class count is not known here, so 100 classes.
        n_train * (100 + 1)
    }

    fn new(config: TemporalEnsemblingConfig, setup: &Setup) -> Result<(Self, TemporalEnsemblingModel), String> {
        let model = TemporalEnsemblingModel {
            net: PiModelNet::new(setup, config.dropout),
            ensemble: PerSampleRows::zeros(setup.n_train, setup.n_classes, &setup.device),
            updates: PerSample::new(setup.n_train, 0.0, &setup.device),
        };
        Ok((TemporalEnsembling { config, flip: setup.flip_invariant, pending: None }, model))
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        BatchPlan { labelled: batch_size, unlabelled: batch_size * self.config.mu }
    }

    fn loss(&mut self, model: &TemporalEnsemblingModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let mut noise = ctx.rng.fork(b"dropout"); // the dropout masks' generator, as the Π-model's
        let (sup, logits_ulb) = weak_pass(|x| model.net.logits(x, &mut noise), batch, self.flip, ctx);
        let n_ulb = logits_ulb.dims()[0];
        let index = Batch::index_tensor(&batch.unlabelled_index, ctx.device);
        let (target, seen) = bias_corrected(model.ensemble.rows(index.clone()), model.updates.rows(index.clone()), self.config.alpha);
        let pseudo = target.clone().argmax(1).reshape([n_ulb]);
        let unsup = masked_softmax_mse(logits_ulb.clone(), target, seen.clone());
        let weight = self.config.lambda_u * sigmoid_ramp(ctx.step, ctx.total_steps, self.config.ramp);
        self.pending = Some((index, softmax(logits_ulb.detach(), 1)));
        semi_losses(sup, unsup, weight, batch, pseudo, Some(seen))
    }

    fn after_step(&mut self, model: TemporalEnsemblingModel, _ctx: &StepCtx) -> TemporalEnsemblingModel {
        let Some((index, probs)) = self.pending.take() else { return model };
        let counts = model.updates.rows(index.clone()) + 1.0;
        let ensemble = model.ensemble.update(index.clone(), probs, self.config.alpha);
        // Momentum 0: t ← t + 1.
        let updates = model.updates.update(index, counts, 0.0);
        TemporalEnsemblingModel { ensemble, updates, ..model }
    }

    fn backbone(model: &TemporalEnsemblingModel) -> &Backbone {
        &model.net.backbone
    }

    fn classifier(model: &TemporalEnsemblingModel) -> Option<&Mlp> {
        Some(&model.net.classifier)
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        weak_views(images, self.flip, rng)
    }
}
