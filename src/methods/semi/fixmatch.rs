//! FixMatch: confident predictions on weak views become pseudo-labels for strong views.
//!
//! [0] Sohn et al. "FixMatch: Simplifying Semi-Supervised Learning with Consistency and
//! Confidence", NeurIPS 2020, arXiv:2001.07685. "For each unlabeled image, we first apply a
//! weak augmentation and compute the model's predicted class. If the probability of that
//! class is above a threshold τ, we train the model to predict it on a strongly augmented
//! version of the same image." Loss: ℓ_s + λ_u ℓ_u (eq. 2 and 4).
use super::{confident_argmax, semi_losses};
use super::super::{Curve, Family, MethodMeta, Batch, BatchPlan, Footprint, Losses, Method, Setup, StepCtx};
use crate::bounds::{in_range, in_range_f};
use crate::augment::{self, RandAugment};
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
                    of unlabelled images that pass the threshold (mask_ratio) grows as the model improves.",
        curves: &[Curve::loss("total"), Curve::loss("sup"), Curve::loss("unsup"), Curve::ratio("mask_ratio"), Curve::accuracy("pseudo_label_acc")],
        uses_labels: true,
        optimizer: paper_optimizer,
    };


    type Config = FixMatchConfig;
    type Model = ClassifierModel;

    fn check(config: &FixMatchConfig) -> Result<(), String> {
        in_range_f("threshold", config.threshold, 0.0, 1.0)?;
        in_range("mu", config.mu, 1, 16)?;
        in_range_f("lambda_u", config.lambda_u, 0.0, 100.0)?;
        config.strong.check()
    }

    fn footprint(config: &FixMatchConfig, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        // One forward over [labelled weak; unlabelled weak; unlabelled strong].
        Footprint { extra_values: 0, forward_images: batch_size * (1 + 2 * config.mu), heads: vec![vec![feature_dim, n_classes]] }
    }

    fn new(mut config: FixMatchConfig, setup: &Setup) -> Result<(Self, ClassifierModel), String> {
        config.strong.flip &= setup.flip_invariant;
        Ok((FixMatch { config }, ClassifierModel::new(setup)))
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        BatchPlan { labelled: batch_size, unlabelled: batch_size * self.config.mu }
    }

    fn loss(&mut self, model: &ClassifierModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let (x_lb, y_lb) = batch.labelled.clone().expect("FixMatch draws labelled images");
        let x_ulb = batch.unlabelled.clone().expect("FixMatch draws unlabelled images");
        let (n_lb, n_ulb) = (x_lb.dims()[0], x_ulb.dims()[0]);
        let flip = self.config.strong.flip;
        let x_lb_w = augment::weak(x_lb, flip, ctx.rng);
        let x_ulb_w = augment::weak(x_ulb.clone(), flip, ctx.rng);
        let x_ulb_s = self.config.strong.view(x_ulb, ctx.rng);
        // One forward over [labelled; weak; strong], as the reference implementation does,
        // so BatchNorm statistics cover all three.
        let all = ctx.to_model(Tensor::cat(vec![x_lb_w, x_ulb_w, x_ulb_s], 0));
        let logits = model.logits(all); // [L + 2U, K]
        let logits_lb = logits.clone().narrow(0, 0, n_lb);
        let logits_w = logits.clone().narrow(0, n_lb, n_ulb).detach();
        let logits_s = logits.narrow(0, n_lb + n_ulb, n_ulb);

        let sup = cross_entropy(logits_lb, y_lb.autodiff());
        let (pseudo, mask) = confident_argmax(logits_w, self.config.threshold); // no gradient through the pseudo-label
        let unsup = masked_cross_entropy(logits_s, pseudo.clone(), mask.clone());
        semi_losses(sup, unsup, self.config.lambda_u, batch, pseudo, Some(mask))
    }

    fn backbone(model: &ClassifierModel) -> &Backbone {
        &model.backbone
    }

    fn classifier(model: &ClassifierModel) -> Option<&Mlp> {
        Some(&model.classifier)
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        vec![
            ("weak".into(), augment::weak(images.clone(), self.config.strong.flip, rng)),
            ("strong".into(), self.config.strong.view(images, rng)),
        ]
    }
}
