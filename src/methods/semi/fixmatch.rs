//! FixMatch: confident predictions on weak views become pseudo-labels for strong views.
//!
//! [0] Sohn et al. "FixMatch: Simplifying Semi-Supervised Learning with Consistency and
//! Confidence", NeurIPS 2020, arXiv:2001.07685. "For each unlabeled image, we first apply a
//! weak augmentation and compute the model's predicted class. If the probability of that
//! class is above a threshold τ, we train the model to predict it on a strongly augmented
//! version of the same image." Loss: ℓ_s + λ_u ℓ_u (eq. 2 and 4).
use super::{confident_argmax, semi_losses, weak_strong_footprint, weak_strong_pass, weak_strong_views};
use super::super::ema::{ema_update, frozen_copy, EmaSchedule};
use super::super::{accuracy, Batch, BatchPlan, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx, Tag};
use crate::eval::{in_chunks, EMBED_CHUNK};
use crate::bounds::{in_range, in_range_f};
use crate::augment::RandAugment;
use crate::backbone::Backbone;
use crate::heads::Mlp;
use crate::loss::{cross_entropy, masked_cross_entropy};
use crate::rng::Rng;
use crate::optim::OptimConfig;
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct FixMatchConfig {
    /// τ: confidence a weak-view prediction needs to become a pseudo-label (paper: 0.95).
    #[config(default = 0.95)]
    pub threshold: f64,
    /// μ: unlabelled images per labelled image in a batch (paper: 7). Range 1..=16.
    #[config(default = 7)]
    pub mu: usize,
    /// λ_u: weight of the unlabelled loss (paper: 1). Range [0, 100].
    #[config(default = 1.0)]
    pub lambda_u: f64,
    #[config(default = "RandAugment::default()")]
    pub strong: RandAugment,
    /// Momentum of the weight average evaluated beside the model (paper 0.999 over 2^20 steps;
    /// 0.99 here averages over the last ~100 steps of runs of a few hundred to a few thousand).
    #[config(default = "EmaSchedule { base: 0.99, cosine: false }")]
    pub ema: EmaSchedule,
}

impl Default for FixMatchConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Backbone + linear classifier; shared with the supervised baseline.
#[derive(Module, Debug)]
pub struct ClassifierModel {
    pub backbone: Backbone,
    pub classifier: Mlp,
}

impl ClassifierModel {
    pub fn new(setup: &Setup) -> Self {
        let backbone = setup.backbone();
        let classifier = Mlp::new(&[backbone.out_dim(), setup.n_classes], &setup.device);
        Self { backbone, classifier }
    }
    pub fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.classifier.forward(self.backbone.forward(x))
    }
    /// Accuracy `[1]` on `images` with `labels`, in chunks: an EMA copy's test accuracy.
    pub fn accuracy(&self, images: &Tensor<4>, labels: Tensor<1, Int>) -> Tensor<1> {
        accuracy(in_chunks(images, EMBED_CHUNK, |x| self.logits(x)), labels)
    }
}

/// The trained classifier and the exponential moving average of its weights, which the paper
/// evaluates ([0] §4: "we use an exponential moving average of model parameters"); no gradient
/// reaches the average.
#[derive(Module, Debug)]
pub struct FixMatchModel {
    pub model: ClassifierModel,
    pub ema: ClassifierModel,
}

pub struct FixMatch {
    config: FixMatchConfig,
}

/// FixMatch: SGD, Nesterov momentum 0.9, lr 0.03, weight decay 5e-4, cosine decay.
fn paper_optimizer() -> OptimConfig {
    OptimConfig::sgd(0.03, 5e-4)
}

impl Method for FixMatch {
    const META: MethodMeta = MethodMeta {
        id: "fixmatch",
        family: Family::Semi,
        name: "FixMatch",
        paper: "Sohn et al. FixMatch: Simplifying Semi-Supervised Learning with Consistency and Confidence. NeurIPS 2020",
        link: "https://arxiv.org/abs/2001.07685",
        explanation: "A few labelled images train a classifier as usual. For each unlabelled image the model looks at a \
                    weakly augmented view (flip and shift); if it is confident (probability ≥ τ), its guess becomes a pseudo-label, \
                    and the model is trained to predict that label on a strongly augmented view (RandAugment + Cutout). The share \
                    of unlabelled images that pass the threshold (mask_ratio) grows as the model improves. As in the paper, a \
                    running average of the weights is evaluated too (ema_test_acc).",
        curves: &[Curve::loss("total"), Curve::loss("sup"), Curve::loss("unsup"), Curve::ratio("mask_ratio"), Curve::accuracy("pseudo_label_acc")],
        uses_labels: true,
        optimizer: paper_optimizer,
    };


    type Config = FixMatchConfig;
    type Model = FixMatchModel;

    fn check(config: &FixMatchConfig) -> Result<(), String> {
        in_range_f("threshold", config.threshold, 0.0, 1.0)?;
        in_range("mu", config.mu, 1, 16)?;
        in_range_f("lambda_u", config.lambda_u, 0.0, 100.0)?;
        config.ema.check()?;
        config.strong.check()
    }

    fn footprint(config: &FixMatchConfig, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        let mut footprint = weak_strong_footprint(config.mu, batch_size, feature_dim, n_classes);
        footprint.heads.push(vec![feature_dim, n_classes]); // the average's classifier
        footprint
    }

    fn new(mut config: FixMatchConfig, setup: &Setup) -> Result<(Self, FixMatchModel), String> {
        config.strong.flip &= setup.flip_invariant;
        let model = ClassifierModel::new(setup);
        let ema = frozen_copy(ClassifierModel::new(setup), &model);
        Ok((FixMatch { config }, FixMatchModel { model, ema }))
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        BatchPlan { labelled: batch_size, unlabelled: batch_size * self.config.mu }
    }

    fn loss(&mut self, model: &FixMatchModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let (_, y_lb) = batch.labelled.clone().expect("FixMatch draws labelled images");
        let (logits_lb, logits_w, logits_s) = weak_strong_pass(|x| model.model.logits(x), batch, &self.config.strong, ctx);
        let sup = cross_entropy(logits_lb, y_lb.autodiff());
        let (pseudo, mask) = confident_argmax(logits_w, self.config.threshold); // no gradient through the pseudo-label
        let unsup = masked_cross_entropy(logits_s, pseudo.clone(), mask.clone());
        semi_losses(sup, unsup, self.config.lambda_u, batch, pseudo, Some(mask))
    }

    fn after_step(&mut self, model: FixMatchModel, ctx: &StepCtx) -> FixMatchModel {
        let momentum = self.config.ema.momentum(ctx.step, ctx.total_steps);
        let ema = ema_update(model.ema, &model.model, momentum);
        FixMatchModel { ema, ..model }
    }

    fn backbone(model: &FixMatchModel) -> &Backbone {
        &model.model.backbone
    }

    fn classifier(model: &FixMatchModel) -> Option<&Mlp> {
        Some(&model.model.classifier)
    }

    /// The weight average's test accuracy beside the model's (the run's `test_acc`).
    fn eval_metrics(&self, model: &FixMatchModel, images: Tensor<4>, labels: Tensor<1, Int>) -> Vec<(&'static str, Tag, Tensor<1>)> {
        vec![("ema_test_acc", Tag::Accuracy, model.ema.accuracy(&images, labels))]
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        weak_strong_views(images, &self.config.strong, rng)
    }
}
