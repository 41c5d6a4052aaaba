//! Pseudo-Label: the classifier's own best guess on an unlabelled image becomes its label.
//!
//! [0] Lee. "Pseudo-Label: The Simple and Efficient Semi-Supervised Learning Method for Deep
//! Neural Networks", ICML 2013 Workshop on Challenges in Representation Learning. Each
//! unlabelled image's pseudo-label is the class of highest predicted probability, recomputed
//! at every update, and it is trained on as if it were the true label. The unlabelled term's
//! weight α(t) is 0 until T1, rises linearly to α_f at T2, then stays (the paper: α_f = 3,
//! T1 = 100, T2 = 600 epochs). Lee relates this to entropy regularisation (Grandvalet &
//! Bengio, [`super::entropy_min`]).
//!
//! Scaled: T1 and T2 are 10 % and 60 % of the run, α_f = 3 as in the paper. The paper keeps
//! every pseudo-label; a confidence threshold (USB's 0.95) is a setting, off by default.
use super::super::{Batch, BatchPlan, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use super::fixmatch::ClassifierModel;
use super::{confident_argmax, linear_ramp, usb_optimizer, weak_pass, weak_pass_footprint, weak_views, semi_losses};
use crate::backbone::Backbone;
use crate::bounds::{in_range, in_range_f};
use crate::heads::Mlp;
use crate::loss::masked_cross_entropy;
use crate::rng::Rng;
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct PseudoLabelConfig {
    /// α_f: the unlabelled term's weight after the ramp (paper 3). [0, 100].
    #[config(default = 3.0)]
    pub alpha_f: f64,
    /// T1 and T2 as shares of the run: α is 0 before T1 and α_f from T2 (paper 100 and 600
    /// of its epochs). 0 ≤ T1 ≤ T2 ≤ 1.
    #[config(default = 0.1)]
    pub ramp_start: f64,
    #[config(default = 0.6)]
    pub ramp_end: f64,
    /// Keep only pseudo-labels whose probability reaches this (0 = keep all, the paper). [0, 1].
    #[config(default = 0.0)]
    pub threshold: f64,
    /// μ: unlabelled images per labelled image in a batch (USB's 7). 1..=16.
    #[config(default = 7)]
    pub mu: usize,
}

impl Default for PseudoLabelConfig {
    fn default() -> Self {
        Self::new()
    }
}

pub struct PseudoLabel {
    config: PseudoLabelConfig,
    flip: bool,
}

impl Method for PseudoLabel {
    const META: MethodMeta = MethodMeta {
        id: "pseudo-label",
        family: Family::Semi,
        name: "Pseudo-Label",
        paper: "Lee. Pseudo-Label: The Simple and Efficient Semi-Supervised Learning Method for Deep Neural Networks. ICML 2013 Workshop",
        link: "https://www.researchgate.net/publication/280581078",
        explanation: "The labelled images train the classifier as usual. Every unlabelled image is given the class the \
            classifier currently finds most likely, and is then trained on as if that were its true label. Wrong \
            guesses teach wrong things, so the weight of the unlabelled images starts at zero, while the classifier \
            knows only the labelled ones, and rises between 10 % and 60 % of the run. The pseudo-label accuracy curve \
            shows how many guesses are right, which a learner never sees in a real task.",
        curves: &[Curve::loss("total"), Curve::loss("sup"), Curve::loss("unsup"), Curve::ratio("mask_ratio"), Curve::accuracy("pseudo_label_acc")],
        uses_labels: true,
        optimizer: usb_optimizer,
    };

    type Config = PseudoLabelConfig;
    type Model = ClassifierModel;

    fn check(config: &PseudoLabelConfig) -> Result<(), String> {
        in_range_f("alpha_f", config.alpha_f, 0.0, 100.0)?;
        in_range_f("ramp_start", config.ramp_start, 0.0, 1.0)?;
        in_range_f("ramp_end", config.ramp_end, config.ramp_start, 1.0).map_err(|e| format!("{e} (ramp_end must not come before ramp_start)"))?;
        in_range_f("threshold", config.threshold, 0.0, 1.0)?;
        in_range("mu", config.mu, 1, 16)
    }

    fn footprint(config: &PseudoLabelConfig, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        weak_pass_footprint(config.mu, batch_size, feature_dim, n_classes)
    }

    fn new(config: PseudoLabelConfig, setup: &Setup) -> Result<(Self, ClassifierModel), String> {
        Ok((PseudoLabel { config, flip: setup.flip_invariant }, ClassifierModel::new(setup)))
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        BatchPlan { labelled: batch_size, unlabelled: batch_size * self.config.mu }
    }

    fn loss(&mut self, model: &ClassifierModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let c = &self.config;
        let (sup, logits_ulb) = weak_pass(|x| model.logits(x), batch, self.flip, ctx);
        // The guess and its confidence, with no gradient: the label is a target, not a prediction.
        let (pseudo, mask) = confident_argmax(logits_ulb.clone(), c.threshold);
        let unsup = masked_cross_entropy(logits_ulb, pseudo.clone(), mask.clone());
        let alpha = linear_ramp(ctx.step, ctx.total_steps, c.ramp_start, c.ramp_end, c.alpha_f);
        semi_losses(sup, unsup, alpha, batch, pseudo, Some(mask))
    }

    fn backbone(model: &ClassifierModel) -> &Backbone {
        &model.backbone
    }

    fn classifier(model: &ClassifierModel) -> Option<&Mlp> {
        Some(&model.classifier)
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        weak_views(images, self.flip, rng)
    }
}
