//! UDA: the prediction on a strongly augmented view is trained towards the sharpened prediction
//! on a weak view of the same image.
//!
//! [0] Xie et al. "Unsupervised Data Augmentation for Consistency Training", NeurIPS 2020,
//! arXiv:1904.12848. The consistency term is KL(p̃(y | x) ‖ p(y | x̂)) (eq. 1), where x̂ is a
//! RandAugment view and the target p̃ is the weak view's prediction with no gradient, sharpened
//! by a softmax temperature T = 0.4 and kept only where its top probability reaches β = 0.8
//! (§3.2, "confidence-based masking", "sharpening predictions"). Training Signal Annealing
//! (§3.2) drops labelled images the model already gets right with probability above η_t =
//! α_t(1 − 1/K) + 1/K, α_t rising over the run along a linear, log or exp schedule, so a few
//! labels are not memorised before the unlabelled signal grows.
//!
//! The paper's text augmentations (back-translation, TF-IDF word replacement) are out of scope:
//! there is no text model here. RandAugment is FixMatch's variant ([`RandAugment`]), as in USB.
//! Scaled: μ = 7 and λ = 1 as USB; TSA is off by default, as in USB's UDA.
use super::super::{Batch, BatchPlan, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use super::fixmatch::ClassifierModel;
use super::{semi_losses, usb_optimizer, weak_strong_footprint, weak_strong_pass, weak_strong_views};
use crate::augment::RandAugment;
use crate::backbone::Backbone;
use crate::bounds::{in_range, in_range_f};
use crate::heads::Mlp;
use crate::loss::masked_kl_divergence;
use crate::rng::Rng;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use serde::{Deserialize, Serialize};

/// Training Signal Annealing's schedule for α_t, t the share of the run done ([0] §3.2):
/// linear t, log 1 − exp(−5t), exp exp(5(t − 1)); `none` keeps every labelled image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tsa {
    None,
    Linear,
    Log,
    Exp,
}

impl Tsa {
    /// η_t: labelled images whose true class has a probability above it are left out of the
    /// supervised term; 1 (keep all) without TSA.
    pub fn threshold(self, step: usize, total_steps: usize, n_classes: usize) -> f64 {
        let t = step as f64 / total_steps.max(1) as f64;
        let alpha = match self {
            Tsa::None => return 1.0,
            Tsa::Linear => t,
            Tsa::Log => 1.0 - (-5.0 * t).exp(),
            Tsa::Exp => (5.0 * (t - 1.0)).exp(),
        };
        let k = n_classes as f64;
        alpha * (1.0 - 1.0 / k) + 1.0 / k
    }
}

#[derive(Config, Debug)]
pub struct UdaConfig {
    /// β: the weak-view prediction's top probability needed to count (paper 0.8). [0, 1].
    #[config(default = 0.8)]
    pub threshold: f64,
    /// T: the softmax temperature that sharpens the target (paper 0.4). (0, 1].
    #[config(default = 0.4)]
    pub temperature: f64,
    /// λ: weight of the consistency term (paper 1). [0, 100].
    #[config(default = 1.0)]
    pub lambda_u: f64,
    /// μ: unlabelled images per labelled image in a batch (USB's 7). 1..=16.
    #[config(default = 7)]
    pub mu: usize,
    /// Training Signal Annealing: none, linear, log or exp.
    #[config(default = "Tsa::None")]
    pub tsa: Tsa,
    #[config(default = "RandAugment::default()")]
    pub strong: RandAugment,
}

impl Default for UdaConfig {
    fn default() -> Self {
        Self::new()
    }
}

pub struct Uda {
    config: UdaConfig,
}

impl Method for Uda {
    const META: MethodMeta = MethodMeta {
        id: "uda",
        family: Family::Semi,
        name: "UDA",
        paper: "Xie et al. Unsupervised Data Augmentation for Consistency Training. NeurIPS 2020",
        link: "https://arxiv.org/abs/1904.12848",
        explanation: "The labelled images train the classifier as usual. Each unlabelled image is seen twice: lightly changed \
            (flip and shift) and heavily changed (RandAugment + Cutout). The light view's prediction, made more decisive \
            by a temperature of 0.4, is the target for the heavy view, but only where it is confident (top probability ≥ 0.8; \
            the share is mask_ratio). Unlike FixMatch the target stays a distribution, not a hard label. Training Signal \
            Annealing (a setting, off by default) hides labelled images the model already gets right early in the run, so \
            the few labels are not learnt by heart. The paper also augments text; there is no text model here.",
        curves: &[Curve::loss("total"), Curve::loss("sup"), Curve::loss("unsup"), Curve::ratio("mask_ratio"), Curve::accuracy("pseudo_label_acc")],
        uses_labels: true,
        optimizer: usb_optimizer,
    };

    type Config = UdaConfig;
    type Model = ClassifierModel;

    fn check(config: &UdaConfig) -> Result<(), String> {
        in_range_f("threshold", config.threshold, 0.0, 1.0)?;
        in_range_f("temperature", config.temperature, 0.01, 1.0)?;
        in_range_f("lambda_u", config.lambda_u, 0.0, 100.0)?;
        in_range("mu", config.mu, 1, 16)?;
        config.strong.check()
    }

    fn footprint(config: &UdaConfig, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        weak_strong_footprint(config.mu, batch_size, feature_dim, n_classes)
    }

    fn new(mut config: UdaConfig, setup: &Setup) -> Result<(Self, ClassifierModel), String> {
        config.strong.flip &= setup.flip_invariant;
        Ok((Uda { config }, ClassifierModel::new(setup)))
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        BatchPlan { labelled: batch_size, unlabelled: batch_size * self.config.mu }
    }

    fn loss(&mut self, model: &ClassifierModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let c = &self.config;
        let (_, y_lb) = batch.labelled.clone().expect("UDA draws labelled images");
        let (logits_lb, logits_w, logits_s) = weak_strong_pass(|x| model.logits(x), batch, &c.strong, ctx);
        let [n_lb, n_classes] = logits_lb.dims();
        let n_ulb = logits_w.dims()[0];

        // Supervised term with TSA: a labelled image counts while its true class's probability
        // is at most η_t; the mean runs over the images kept.
        let eta = c.tsa.threshold(ctx.step, ctx.total_steps, n_classes);
        let log_p = log_softmax(logits_lb, 1).gather(1, y_lb.autodiff().reshape([n_lb, 1])).reshape([n_lb]); // [L]
        let keep = log_p.clone().detach().exp().lower_equal_elem(eta).float(); // [L]
        let sup = (log_p.neg() * keep.clone()).sum() / keep.sum().clamp_min(1.0);

        let probs_w = softmax(logits_w.clone(), 1); // [U, K], detached
        let mask = probs_w.clone().max_dim(1).reshape([n_ulb]).greater_equal_elem(c.threshold).float();
        let pseudo = probs_w.argmax(1).reshape([n_ulb]);
        let target = softmax(logits_w / c.temperature, 1);
        let unsup = masked_kl_divergence(logits_s, target, mask.clone());
        semi_losses(sup, unsup, c.lambda_u, batch, pseudo, Some(mask))
    }

    fn backbone(model: &ClassifierModel) -> &Backbone {
        &model.backbone
    }

    fn classifier(model: &ClassifierModel) -> Option<&Mlp> {
        Some(&model.classifier)
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        weak_strong_views(images, &self.config.strong, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::Tsa;

    #[test]
    fn tsa_thresholds_by_hand() {
        // K = 10: η runs from 1/K = 0.1 to 1. Half way: linear α = 0.5 → 0.55; log α = 1 − e^−2.5;
        // exp α = e^−2.5.
        let eta = |tsa: Tsa, step| tsa.threshold(step, 100, 10);
        assert_eq!(eta(Tsa::None, 50), 1.0);
        assert!((eta(Tsa::Linear, 0) - 0.1).abs() < 1e-12);
        assert!((eta(Tsa::Linear, 50) - 0.55).abs() < 1e-12);
        assert!((eta(Tsa::Log, 50) - ((1.0 - (-2.5f64).exp()) * 0.9 + 0.1)).abs() < 1e-12);
        assert!((eta(Tsa::Exp, 50) - ((-2.5f64).exp() * 0.9 + 0.1)).abs() < 1e-12);
        assert!((eta(Tsa::Exp, 100) - 1.0).abs() < 1e-12);
    }
}
