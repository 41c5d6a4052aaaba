//! ReMixMatch: MixMatch with distribution alignment, augmentation anchoring on strong views,
//! and a self-supervised rotation loss.
//!
//! [0] Berthelot et al. "ReMixMatch: Semi-Supervised Learning with Distribution Alignment and
//! Augmentation Anchoring", ICLR 2020, arXiv:1911.09785, Algorithm 1 and §3.
//! - Distribution alignment (§3.1): the guess q on a weak view is multiplied by the ratio of
//!   the labelled class distribution p(y) to a running average p̃(y) of the model's unlabelled
//!   predictions, then renormalised, so the guesses keep the class balance of the labels.
//! - Augmentation anchoring (§3.2): the guess, sharpened (T = 0.5), is the target of K strong
//!   views of the same image (the paper's CTAugment; RandAugment here, as in USB's ReMixMatch).
//! - MixUp over the weak labelled images and all strong views, as MixMatch ([`super::mixmatch`]),
//!   with cross-entropy for the unlabelled blends too (λ_U = 1.5), plus the cross-entropy of the
//!   first strong view before mixing (λ_Û = 0.5) and a 4-way rotation loss on that view
//!   rotated by a random multiple of 90° (λ_r = 0.5), from RotNet (Gidaris et al. 2018).
//!
//! Scaled: K = 2 strong views (paper 8; USB 2); p̃ averages with momentum 0.99, about the last
//! 100 batches (paper: the last 128); λ_U and λ_Û ramp up over the first 40 % of the run. The
//! labelled class distribution p(y) is uniform, since labels are drawn class-balanced. p̃ is
//! state of the model, so checkpoints and "Resume on CPU" carry it.
use super::super::memory::PerSampleRows;
use super::super::{Batch, BatchPlan, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use super::fixmatch::ClassifierModel;
use super::mixmatch::mix_all;
use super::{linear_ramp, scratch_copy, semi_losses, usb_optimizer};
use crate::augment::{self, ops::rot90_each, RandAugment};
use crate::backbone::Backbone;
use crate::bounds::{in_range, in_range_f};
use crate::eval::one_hot_rows;
use crate::heads::Mlp;
use crate::loss::{cross_entropy, sharpen, soft_cross_entropy};
use crate::rng::Rng;
use burn::prelude::*;
use burn::tensor::activation::softmax;

#[derive(Config, Debug)]
pub struct ReMixMatchConfig {
    /// K: strong views of each unlabelled image (paper 8, USB 2). 1..=8.
    #[config(default = 2)]
    pub k_strong: usize,
    /// T: sharpening temperature of the guess (paper 0.5). (0, 1].
    #[config(default = 0.5)]
    pub temperature: f64,
    /// α of the Beta(α, α) MixUp weight (paper 0.75). (0, 10].
    #[config(default = 0.75)]
    pub alpha: f64,
    /// λ_U: weight of the mixed unlabelled cross-entropy (paper 1.5). [0, 100].
    #[config(default = 1.5)]
    pub lambda_u: f64,
    /// λ_Û: weight of the first strong view's cross-entropy before mixing (paper 0.5). [0, 100].
    #[config(default = 0.5)]
    pub lambda_pre_mix: f64,
    /// λ_r: weight of the rotation loss (paper 0.5; 0 turns it off). [0, 100].
    #[config(default = 0.5)]
    pub lambda_rotation: f64,
    /// Momentum of the running average p̃ of unlabelled predictions. [0, 0.9999].
    #[config(default = 0.99)]
    pub alignment_momentum: f64,
    /// Share of the run over which λ_U and λ_Û ramp up linearly from 0. [0, 1].
    #[config(default = 0.4)]
    pub ramp: f64,
    /// μ: unlabelled images per labelled image in a batch. 1..=16.
    #[config(default = 3)]
    pub mu: usize,
    #[config(default = "RandAugment::default()")]
    pub strong: RandAugment,
}

impl Default for ReMixMatchConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The classifier, the rotation head on the same backbone, and p̃ as a single row `[1, K]`.
#[derive(Module, Debug)]
pub struct ReMixMatchModel {
    pub net: ClassifierModel,
    pub rotation: Mlp,
    pub prediction_mean: PerSampleRows,
}

pub struct ReMixMatch {
    config: ReMixMatchConfig,
    n_classes: usize,
    /// The batch's mean unlabelled prediction `[1, K]`, folded into p̃ after the step.
    pending: Option<Tensor<2>>,
}

/// Distribution alignment ([0] §3.1): q̃ = Normalize(q · p(y) / p̃(y)) for guesses `probs`
/// `[U, K]`, the labelled class distribution `target` `[1, K]` and the running average of
/// predictions `running` `[1, K]`.
pub fn align_distribution(probs: Tensor<2>, target: Tensor<2>, running: Tensor<2>) -> Tensor<2> {
    let scaled = probs * (target / running.clamp_min(1e-6)); // [U, K]
    let sum = scaled.clone().sum_dim(1); // [U, 1]
    scaled / sum.clamp_min(1e-12)
}

impl Method for ReMixMatch {
    const META: MethodMeta = MethodMeta {
        id: "remixmatch",
        family: Family::Semi,
        name: "ReMixMatch",
        paper: "Berthelot et al. ReMixMatch: Semi-Supervised Learning with Distribution Alignment and Augmentation Anchoring. ICLR 2020",
        link: "https://arxiv.org/abs/1911.09785",
        explanation: "MixMatch, with three changes. The guessed label comes from one light view (flip and shift), and is the \
            target for heavily changed views (RandAugment + Cutout; the paper learns its augmentation policy, CTAugment, which \
            is not implemented here). The guesses are rebalanced so that, on average, they have the class balance of the \
            labelled images (distribution alignment): a model that favours one class cannot pull every guess towards it. And \
            the network also learns to tell how far an image was rotated (RotNet), a self-supervised signal that needs no \
            labels at all.",
        curves: &[
            Curve::loss("total"),
            Curve::loss("sup"),
            Curve::loss("unsup"),
            Curve::loss("unsup_mixed"),
            Curve::loss("unsup_pre_mix"),
            Curve::loss("rotation"),
            Curve::accuracy("pseudo_label_acc"),
        ],
        uses_labels: true,
        optimizer: usb_optimizer,
    };

    type Config = ReMixMatchConfig;
    type Model = ReMixMatchModel;

    fn check(config: &ReMixMatchConfig) -> Result<(), String> {
        in_range("k_strong", config.k_strong, 1, 8)?;
        in_range_f("temperature", config.temperature, 0.01, 1.0)?;
        in_range_f("alpha", config.alpha, 0.01, 10.0)?;
        in_range_f("lambda_u", config.lambda_u, 0.0, 100.0)?;
        in_range_f("lambda_pre_mix", config.lambda_pre_mix, 0.0, 100.0)?;
        in_range_f("lambda_rotation", config.lambda_rotation, 0.0, 100.0)?;
        in_range_f("alignment_momentum", config.alignment_momentum, 0.0, 0.9999)?;
        in_range_f("ramp", config.ramp, 0.0, 1.0)?;
        in_range("mu", config.mu, 1, 16)?;
        config.strong.check()
    }

    fn footprint(config: &ReMixMatchConfig, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        // The guessing pass over U weak views, then one pass over the L + K·U mixed images,
        // the first strong view and its rotation.
        let u = batch_size * config.mu;
        let forward_images = u + batch_size + config.k_strong * u + 2 * u;
        Footprint { extra_values: n_classes, forward_images, heads: vec![vec![feature_dim, n_classes], vec![feature_dim, 4]] }
    }

    fn new(config: ReMixMatchConfig, setup: &Setup) -> Result<(Self, ReMixMatchModel), String> {
        let mut config = config;
        config.strong.flip &= setup.flip_invariant;
        let k = setup.n_classes;
        let net = ClassifierModel::new(setup);
        let rotation = Mlp::new(&[net.backbone.out_dim(), 4], &setup.device);
        // p̃ starts uniform, as the labelled distribution.
        let mut prediction_mean = PerSampleRows::zeros(1, k, &setup.device);
        prediction_mean = prediction_mean.update(Batch::index_tensor(&[0], &setup.device), Tensor::full([1, k], 1.0 / k as f32, &setup.device), 0.0);
        Ok((ReMixMatch { config, n_classes: k, pending: None }, ReMixMatchModel { net, rotation, prediction_mean }))
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        BatchPlan { labelled: batch_size, unlabelled: batch_size * self.config.mu }
    }

    fn loss(&mut self, model: &ReMixMatchModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let c = &self.config;
        let k = self.n_classes;
        let (x_lb, y_lb) = batch.labelled.clone().expect("ReMixMatch draws labelled images");
        let x_ulb = batch.unlabelled.clone().expect("ReMixMatch draws unlabelled images");
        let (n_lb, n_ulb) = (x_lb.dims()[0], x_ulb.dims()[0]);
        let flip = c.strong.flip;

        // Guess on a weak view with batch statistics that do not move the running ones.
        let weak = augment::weak(x_ulb.clone(), flip, ctx.rng);
        let probs = softmax(scratch_copy(&model.net).logits(ctx.to_model(weak)).detach(), 1).inner(); // [U, K]
        let batch_mean = probs.clone().mean_dim(0); // [1, K]
        let uniform = Tensor::full([1, k], 1.0 / k as f32, &probs.device());
        let running = model.prediction_mean.rows(Batch::index_tensor(&[0], ctx.device)).inner();
        let guess = sharpen(align_distribution(probs, uniform, running), c.temperature); // [U, K]
        self.pending = Some(batch_mean);
        let pseudo = guess.clone().argmax(1).reshape([n_ulb]).autodiff();

        // MixUp over [weak labelled; K strong views], then the first strong view and its rotation.
        let strong: Vec<Tensor<4>> = (0..c.k_strong).map(|_| c.strong.view(x_ulb.clone(), ctx.rng)).collect();
        let first_strong = strong[0].clone();
        let mut pool = vec![augment::weak(x_lb, flip, ctx.rng)];
        pool.extend(strong);
        let targets = Tensor::cat(std::iter::once(one_hot_rows(y_lb, k)).chain(std::iter::repeat_n(guess.clone(), c.k_strong)).collect(), 0);
        let (mixed, mixed_targets) = mix_all(Tensor::cat(pool, 0), targets, c.alpha, ctx.rng); // [L + K·U, …]
        let n_mixed = n_lb + c.k_strong * n_ulb;
        let turns: Vec<usize> = (0..n_ulb).map(|_| ctx.rng.below(4)).collect();
        let rotated = rot90_each(first_strong.clone(), &turns);
        let features = model.net.backbone.forward(ctx.to_model(Tensor::cat(vec![mixed, first_strong, rotated], 0))); // [L + K·U + 2U, D]
        let logits = model.net.classifier.forward(features.clone().narrow(0, 0, n_mixed + n_ulb)); // [L + K·U + U, K]
        let mixed_targets = mixed_targets.autodiff();

        let sup = soft_cross_entropy(logits.clone().narrow(0, 0, n_lb), mixed_targets.clone().narrow(0, 0, n_lb));
        let unsup_mixed = soft_cross_entropy(logits.clone().narrow(0, n_lb, n_mixed - n_lb), mixed_targets.narrow(0, n_lb, n_mixed - n_lb));
        let unsup_pre_mix = soft_cross_entropy(logits.narrow(0, n_mixed, n_ulb), guess.autodiff());
        let turn_labels = Batch::index_tensor(&turns, ctx.device);
        let rotation = cross_entropy(model.rotation.forward(features.narrow(0, n_mixed + n_ulb, n_ulb)), turn_labels);

        let ramp = linear_ramp(ctx.step, ctx.total_steps, 0.0, c.ramp, 1.0);
        // unsup is the whole unlabelled objective, so total = sup + unsup as for the others.
        let unsup = unsup_mixed.clone() * (c.lambda_u * ramp) + unsup_pre_mix.clone() * (c.lambda_pre_mix * ramp) + rotation.clone() * c.lambda_rotation;
        semi_losses(sup, unsup, 1.0, batch, pseudo, None)
            .with("unsup_mixed", unsup_mixed)
            .with("unsup_pre_mix", unsup_pre_mix)
            .with("rotation", rotation)
    }

    fn after_step(&mut self, model: ReMixMatchModel, ctx: &StepCtx) -> ReMixMatchModel {
        let Some(batch_mean) = self.pending.take() else { return model };
        let index = Batch::index_tensor(&[0], ctx.device);
        let prediction_mean = model.prediction_mean.update(index, batch_mean.autodiff(), self.config.alignment_momentum);
        ReMixMatchModel { prediction_mean, ..model }
    }

    fn backbone(model: &ReMixMatchModel) -> &Backbone {
        &model.net.backbone
    }

    fn classifier(model: &ReMixMatchModel) -> Option<&Mlp> {
        Some(&model.net.classifier)
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        let n = images.dims()[0];
        let turns: Vec<usize> = (0..n).map(|_| rng.below(4)).collect();
        let strong = self.config.strong.view(images.clone(), rng);
        vec![
            ("weak (guess)".into(), augment::weak(images, self.config.strong.flip, rng)),
            ("strong (anchored to the guess)".into(), strong.clone()),
            ("strong, rotated (rotation task)".into(), rot90_each(strong, &turns)),
        ]
    }
}
