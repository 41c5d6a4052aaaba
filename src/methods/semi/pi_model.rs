//! Π-model: two noisy passes of the same image must agree.
//!
//! [0] Laine, Aila. "Temporal Ensembling for Semi-Supervised Learning", ICLR 2017,
//! arXiv:1610.02242, §2.1. Every training image goes through the network twice, each time
//! with its own augmentation and dropout; the loss adds to the labelled cross-entropy a
//! squared difference between the two passes' class probabilities, weighted by w(t), which
//! ramps up from 0 along a Gaussian curve, exp(−5(1 − t)²), over the first 80 epochs.
//!
//! Here the two passes see two independent weak views (flip and shift) of each unlabelled
//! image, with dropout 0.5 on the pooled features before the classifier (the paper drops
//! out inside its network). The second pass is the target and gets no gradient, as USB
//! does; the paper lets the gradient flow through both. Weight 10 (USB's, for the mean
//! squared difference over classes) ramped over the first 40 % of the run.
use super::super::{Batch, BatchPlan, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use super::{sigmoid_ramp, usb_optimizer, weak_pass, weak_pass_footprint, weak_view_pair, semi_losses};
use crate::augment;
use crate::backbone::Backbone;
use crate::bounds::{in_range, in_range_f};
use crate::heads::Mlp;
use crate::loss::softmax_mse;
use crate::rng::Rng;
use burn::nn::{Dropout, DropoutConfig};
use burn::prelude::*;
use burn::tensor::activation::softmax;

#[derive(Config, Debug)]
pub struct PiModelConfig {
    /// Weight of the consistency term at full ramp (USB: 10). [0, 1000].
    #[config(default = 10.0)]
    pub lambda_u: f64,
    /// Share of the run over which the weight ramps up (paper: 80 of 300 epochs). [0, 1].
    #[config(default = 0.4)]
    pub ramp: f64,
    /// Dropout on the features before the classifier, the passes' second source of noise. [0, 0.9].
    #[config(default = 0.5)]
    pub dropout: f64,
    /// μ: unlabelled images per labelled image in a batch (USB's 7). 1..=16.
    #[config(default = 7)]
    pub mu: usize,
}

impl Default for PiModelConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Backbone, dropout (active in training passes only) and a linear classifier.
#[derive(Module, Debug)]
pub struct PiModelNet {
    pub backbone: Backbone,
    pub dropout: Dropout,
    pub classifier: Mlp,
}

impl PiModelNet {
    pub fn new(setup: &Setup, dropout: f64) -> Self {
        let backbone = setup.backbone();
        let classifier = Mlp::new(&[backbone.out_dim(), setup.n_classes], &setup.device);
        PiModelNet { backbone, dropout: DropoutConfig::new(dropout).init(), classifier }
    }

    /// Logits `[N, K]` of a training pass, with dropout drawn from `rng`.
    pub fn logits(&self, x: Tensor<4>, rng: &mut Rng) -> Tensor<2> {
        self.classifier.forward(dropout(self.backbone.forward(x), self.dropout.prob, rng))
    }
}

/// Inverted dropout of features `[N, D]` on an autodiff device (a training pass), its mask drawn
/// on the host from the run's own generator. Burn's `Dropout` draws from the backend's one
/// generator per process, so two runs in one process (parallel tests, benchmarks) changed each
/// other's masks and a run was not reproducible from its seed.
fn dropout(features: Tensor<2>, prob: f64, rng: &mut Rng) -> Tensor<2> {
    if prob == 0.0 || !features.device().is_autodiff() {
        return features;
    }
    let [n, d] = features.dims();
    let keep = (1.0 - prob) as f32;
    let mask: Vec<f32> = (0..n * d).map(|_| if rng.bernoulli(keep) { 1.0 / keep } else { 0.0 }).collect();
    let mask = Tensor::<2>::from_data(TensorData::new(mask, [n, d]), &features.device());
    features * mask
}

pub struct PiModel {
    config: PiModelConfig,
    flip: bool,
}

impl Method for PiModel {
    const META: MethodMeta = MethodMeta {
        id: "pi-model",
        family: Family::Semi,
        name: "Π-model",
        paper: "Laine, Aila. Temporal Ensembling for Semi-Supervised Learning. ICLR 2017",
        link: "https://arxiv.org/abs/1610.02242",
        explanation: "Each unlabelled image goes through the network twice, each time shifted and flipped differently and \
            with a different half of the features dropped. Nothing says what the image is, but the two answers should be \
            the same, so the network is trained to make them agree. That pushes it to give the same class to an image and \
            its small variations, which spreads the few labels along the shapes the data takes. The agreement term's \
            weight starts near zero and rises over the first 40 % of the run, while the answers are still noise.",
        curves: &[Curve::loss("total"), Curve::loss("sup"), Curve::loss("unsup"), Curve::accuracy("pseudo_label_acc")],
        uses_labels: true,
        optimizer: usb_optimizer,
    };

    type Config = PiModelConfig;
    type Model = PiModelNet;

    fn check(config: &PiModelConfig) -> Result<(), String> {
        in_range_f("lambda_u", config.lambda_u, 0.0, 1000.0)?;
        in_range_f("ramp", config.ramp, 0.0, 1.0)?;
        in_range_f("dropout", config.dropout, 0.0, 0.9)?;
        in_range("mu", config.mu, 1, 16)
    }

    fn footprint(config: &PiModelConfig, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        // The first pass over labelled and unlabelled views, the second over the unlabelled.
        let mut footprint = weak_pass_footprint(config.mu, batch_size, feature_dim, n_classes);
        footprint.forward_images += batch_size * config.mu;
        footprint
    }

    fn new(config: PiModelConfig, setup: &Setup) -> Result<(Self, PiModelNet), String> {
        let net = PiModelNet::new(setup, config.dropout);
        Ok((PiModel { config, flip: setup.flip_invariant }, net))
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        BatchPlan { labelled: batch_size, unlabelled: batch_size * self.config.mu }
    }

    fn loss(&mut self, model: &PiModelNet, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        // Dropout masks from a generator of their own, forked from the step's: the passes'
        // views draw from the step's while the first pass runs.
        let mut noise = ctx.rng.fork(b"dropout");
        let (sup, first) = weak_pass(|x| model.logits(x, &mut noise), batch, self.flip, ctx);
        let n_ulb = first.dims()[0];
        // The second pass: another view, other dropout; its probabilities are the target.
        let x_ulb = batch.unlabelled.clone().expect("the Π-model draws unlabelled images");
        let view = augment::weak(x_ulb, self.flip, ctx.rng);
        let second = model.logits(ctx.to_model(view), &mut noise);
        let target = softmax(second.detach(), 1); // [U, K]
        let pseudo = target.clone().argmax(1).reshape([n_ulb]);
        let unsup = softmax_mse(first, target);
        let weight = self.config.lambda_u * sigmoid_ramp(ctx.step, ctx.total_steps, self.config.ramp);
        semi_losses(sup, unsup, weight, batch, pseudo, None)
    }

    fn backbone(model: &PiModelNet) -> &Backbone {
        &model.backbone
    }

    fn classifier(model: &PiModelNet) -> Option<&Mlp> {
        Some(&model.classifier)
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        weak_view_pair(images, self.flip, rng, ["first pass", "second pass"])
    }
}
