//! MixMatch: guess a label for each unlabelled image from several augmentations, sharpen it,
//! and train on MixUp blends of labelled and unlabelled images with their (guessed) labels.
//!
//! [0] Berthelot et al. "MixMatch: A Holistic Approach to Semi-Supervised Learning", NeurIPS
//! 2019, arXiv:1905.02249, Algorithm 1. Each unlabelled image gets K augmentations; the guess
//! is the mean of the model's predictions on them, sharpened with temperature T (eq. 7). The
//! labelled images (one-hot labels) and all K·U unlabelled views (their guess) are shuffled
//! together, and every image is blended with one from the shuffle by MixUp with λ' = max(λ,
//! 1 − λ), λ ~ Beta(α, α) (eq. 8–11). Loss: cross-entropy on the mixed labelled images plus
//! λ_U times the squared error between the mixed unlabelled images' predictions and their mixed
//! guesses (eq. 3–5). Paper defaults: K = 2, T = 0.5, α = 0.75, λ_U = 100, ramped up linearly
//! over the first 16,000 steps.
//!
//! Scaled: μ = 3 unlabelled images per labelled one (the paper's batches are equal; USB's
//! MixMatch too: μ = 1); λ_U = 10, ramped over the first 40 % of the run, as this playground's
//! other consistency methods. The paper's λ_U = 100 ramps up over 16,000 of 2^20 steps, by when
//! the model is good; in a run of a few hundred steps the squared error to guesses that are
//! still near uniform outweighs the labels and drags every prediction towards them. On MNIST at
//! 10 labels per class, 600 steps of 32 + 96 images on 5,000 images: λ_U = 100 57.5 % test
//! accuracy, 10 90.0 %, 0 (MixUp on the labels alone) 84.9 %, supervised-only 85.1 %. The guessing passes use batch statistics without moving BatchNorm's
//! running ones ([`scratch_copy`], USB's `freeze_bn`), and the mixed batch goes through the
//! network in one pass, which is what the reference's interleaving of several batches restores.
use super::super::{Batch, BatchPlan, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use super::fixmatch::ClassifierModel;
use super::{linear_ramp, scratch_copy, semi_losses, usb_optimizer, weak_view_pair};
use crate::augment::{self, mix};
use crate::backbone::Backbone;
use crate::bounds::{in_range, in_range_f};
use crate::eval::one_hot_rows;
use crate::heads::Mlp;
use crate::loss::{sharpen, soft_cross_entropy, softmax_mse};
use crate::rng::Rng;
use burn::prelude::*;
use burn::tensor::activation::softmax;

#[derive(Config, Debug)]
pub struct MixMatchConfig {
    /// K: augmentations of each unlabelled image averaged for its guess (paper 2). 1..=8.
    #[config(default = 2)]
    pub k_augment: usize,
    /// T: sharpening temperature of the guess (paper 0.5). (0, 1].
    #[config(default = 0.5)]
    pub temperature: f64,
    /// α of the Beta(α, α) MixUp weight (paper 0.75). (0, 10].
    #[config(default = 0.75)]
    pub alpha: f64,
    /// λ_U: weight of the unlabelled squared error at full ramp (paper 100; see the module note). [0, 1000].
    #[config(default = 10.0)]
    pub lambda_u: f64,
    /// Share of the run over which λ_U ramps up linearly from 0. [0, 1].
    #[config(default = 0.4)]
    pub ramp: f64,
    /// μ: unlabelled images per labelled image in a batch. 1..=16.
    #[config(default = 3)]
    pub mu: usize,
}

impl Default for MixMatchConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The sharpened mean prediction `[U, K]` over the `views` of the same unlabelled images,
/// through a copy of the model that keeps BatchNorm's running statistics still; on the plain
/// device, with no gradient.
pub fn guess_labels(model: &ClassifierModel, views: Vec<Tensor<4>>, temperature: f64, ctx: &StepCtx) -> Tensor<2> {
    let scratch = scratch_copy(model);
    let n_views = views.len();
    let n_ulb = views[0].dims()[0];
    let probs = softmax(scratch.logits(ctx.to_model(Tensor::cat(views, 0))).detach(), 1); // [V·U, K]
    let n_classes = probs.dims()[1];
    let mean = probs.reshape([n_views, n_ulb, n_classes]).mean_dim(0).reshape([n_ulb, n_classes]); // [U, K]
    sharpen(mean.inner(), temperature)
}

/// MixUp over the labelled and unlabelled images together ([0] eq. 8–11): `images` `[N, C, H,
/// W]` with `targets` `[N, K]` (one-hot labels first, then guesses), each blended with a row
/// of a shuffle of the same batch.
pub fn mix_all(images: Tensor<4>, targets: Tensor<2>, alpha: f64, rng: &mut Rng) -> (Tensor<4>, Tensor<2>) {
    let n = targets.dims()[0];
    let mut partner: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut partner);
    let weights = mix::mixmatch_weights(n, alpha as f32, rng);
    mix::mixup(images, targets, &partner, &weights)
}

pub struct MixMatch {
    config: MixMatchConfig,
    flip: bool,
    n_classes: usize,
}

impl Method for MixMatch {
    const META: MethodMeta = MethodMeta {
        id: "mixmatch",
        family: Family::Semi,
        name: "MixMatch",
        paper: "Berthelot et al. MixMatch: A Holistic Approach to Semi-Supervised Learning. NeurIPS 2019",
        link: "https://arxiv.org/abs/1905.02249",
        explanation: "Each unlabelled image is flipped and shifted twice; the average of the model's two predictions, made \
            more decisive (sharpened), is its guessed label. Then every image, labelled or not, is blended with another one \
            picked at random (MixUp), and so are their labels: the model learns to give a blend of two images a blend of \
            their labels. Labelled blends are scored by cross-entropy, unlabelled ones by the squared distance to the blended \
            guess, whose weight rises over the first 40 % of the run.",
        curves: &[Curve::loss("total"), Curve::loss("sup"), Curve::loss("unsup"), Curve::accuracy("pseudo_label_acc")],
        uses_labels: true,
        optimizer: usb_optimizer,
    };

    type Config = MixMatchConfig;
    type Model = ClassifierModel;

    fn check(config: &MixMatchConfig) -> Result<(), String> {
        in_range("k_augment", config.k_augment, 1, 8)?;
        in_range_f("temperature", config.temperature, 0.01, 1.0)?;
        in_range_f("alpha", config.alpha, 0.01, 10.0)?;
        in_range_f("lambda_u", config.lambda_u, 0.0, 1000.0)?;
        in_range_f("ramp", config.ramp, 0.0, 1.0)?;
        in_range("mu", config.mu, 1, 16)
    }

    fn footprint(config: &MixMatchConfig, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        // The guessing pass over K·U views, then the mixed pass over L + K·U images.
        let forward_images = batch_size * (1 + 2 * config.k_augment * config.mu);
        Footprint { extra_values: 0, forward_images, heads: vec![vec![feature_dim, n_classes]] }
    }

    fn new(config: MixMatchConfig, setup: &Setup) -> Result<(Self, ClassifierModel), String> {
        Ok((MixMatch { config, flip: setup.flip_invariant, n_classes: setup.n_classes }, ClassifierModel::new(setup)))
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        BatchPlan { labelled: batch_size, unlabelled: batch_size * self.config.mu }
    }

    fn loss(&mut self, model: &ClassifierModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let c = &self.config;
        let (x_lb, y_lb) = batch.labelled.clone().expect("MixMatch draws labelled images");
        let x_ulb = batch.unlabelled.clone().expect("MixMatch draws unlabelled images");
        let n_lb = x_lb.dims()[0];
        let n_classes = self.n_classes;
        let views: Vec<Tensor<4>> = (0..c.k_augment).map(|_| augment::weak(x_ulb.clone(), self.flip, ctx.rng)).collect();
        let guess = guess_labels(model, views.clone(), c.temperature, ctx); // [U, K]
        let pseudo = guess.clone().argmax(1).reshape([guess.dims()[0]]).autodiff();

        let x_lb = augment::weak(x_lb, self.flip, ctx.rng);
        let mut all_views = vec![x_lb];
        all_views.extend(views);
        let targets = Tensor::cat(
            std::iter::once(one_hot_rows(y_lb, n_classes)).chain(std::iter::repeat_n(guess, c.k_augment)).collect(),
            0,
        ); // [L + K·U, classes]
        let (mixed, mixed_targets) = mix_all(Tensor::cat(all_views, 0), targets, c.alpha, ctx.rng);
        let logits = model.logits(ctx.to_model(mixed)); // [L + K·U, classes]
        let n = logits.dims()[0];
        let mixed_targets = mixed_targets.autodiff();
        let sup = soft_cross_entropy(logits.clone().narrow(0, 0, n_lb), mixed_targets.clone().narrow(0, 0, n_lb));
        let unsup = softmax_mse(logits.narrow(0, n_lb, n - n_lb), mixed_targets.narrow(0, n_lb, n - n_lb));
        let weight = linear_ramp(ctx.step, ctx.total_steps, 0.0, c.ramp, c.lambda_u);
        semi_losses(sup, unsup, weight, batch, pseudo, None)
    }

    fn backbone(model: &ClassifierModel) -> &Backbone {
        &model.backbone
    }

    fn classifier(model: &ClassifierModel) -> Option<&Mlp> {
        Some(&model.classifier)
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        let mut views = weak_view_pair(images.clone(), self.flip, rng, ["guess view 1", "guess view 2"]);
        let n = images.dims()[0];
        let mut partner: Vec<usize> = (0..n).collect();
        partner.rotate_left(1);
        let weights = mix::mixmatch_weights(n, self.config.alpha as f32, rng);
        let dummy = Tensor::zeros([n, 1], &images.device());
        views.push(("MixUp with the next image".into(), mix::mixup(images, dummy, &partner, &weights).0));
        views
    }
}
