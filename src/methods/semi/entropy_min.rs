//! Entropy Minimisation: make the classifier confident on the unlabelled images.
//!
//! [0] Grandvalet, Bengio. "Semi-supervised Learning by Entropy Minimization", NIPS 2004
//! (NeurIPS proceedings 2005). The criterion is the labelled log-likelihood plus λ times the
//! conditional entropy H(y | x) on the unlabelled data: a decision boundary that
//! cuts through dense regions leaves uncertain predictions there, so minimising their
//! entropy pushes the boundary into the gaps between clusters. Loss: CE(x_lb) + λ·w(t)·H(p(y | x_ulb_w)).
//!
//! Scaled: λ = 0.3 and a ramp-up w(t) over the first 40 % of the run (Laine & Aila's
//! exp(−5(1 − t)²)); the paper tunes λ by cross-validation and trains a logistic model to
//! convergence, where early confidence does no harm. A deep network starts from noise, and
//! entropy minimisation from the first step makes its first, mostly wrong guesses confident.
use super::super::{Batch, BatchPlan, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use super::fixmatch::ClassifierModel;
use super::{sigmoid_ramp, usb_optimizer, weak_pass, weak_pass_footprint, weak_views, semi_losses};
use crate::backbone::Backbone;
use crate::bounds::{in_range, in_range_f};
use crate::heads::Mlp;
use crate::loss::entropy;
use crate::rng::Rng;
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct EntropyMinConfig {
    /// λ: weight of the unlabelled entropy term at full ramp. [0, 100].
    #[config(default = 0.3)]
    pub lambda_u: f64,
    /// Share of the run over which λ ramps up from exp(−5)·λ to λ. [0, 1].
    #[config(default = 0.4)]
    pub ramp: f64,
    /// μ: unlabelled images per labelled image in a batch (USB's 7). 1..=16.
    #[config(default = 7)]
    pub mu: usize,
}

impl Default for EntropyMinConfig {
    fn default() -> Self {
        Self::new()
    }
}

pub struct EntropyMin {
    config: EntropyMinConfig,
    flip: bool,
}

impl Method for EntropyMin {
    const META: MethodMeta = MethodMeta {
        id: "entropy-min",
        family: Family::Semi,
        name: "Entropy Minimisation",
        paper: "Grandvalet, Bengio. Semi-supervised Learning by Entropy Minimization. NIPS 2004",
        link: "https://papers.nips.cc/paper/2004/hash/96f2b50b5d3613adf9c27049b2a888c7-Abstract.html",
        explanation: "The labelled images train the classifier as usual. On the unlabelled images there is no answer to \
            check, but there is a hint: classes form clusters, and a good boundary runs between them, not through them. \
            Where the boundary cuts through a cluster, the classifier is unsure, so the method adds the entropy of its \
            predictions on unlabelled images to the loss, and the classifier grows confident by moving the boundary into \
            the gaps. The weight of that term ramps up over the first 40 % of the run: early guesses are mostly wrong, \
            and making them confident would fix the mistakes in place.",
        curves: &[Curve::loss("total"), Curve::loss("sup"), Curve::loss("unsup"), Curve::accuracy("pseudo_label_acc")],
        uses_labels: true,
        optimizer: usb_optimizer,
    };

    type Config = EntropyMinConfig;
    type Model = ClassifierModel;

    fn check(config: &EntropyMinConfig) -> Result<(), String> {
        in_range_f("lambda_u", config.lambda_u, 0.0, 100.0)?;
        in_range_f("ramp", config.ramp, 0.0, 1.0)?;
        in_range("mu", config.mu, 1, 16)
    }

    fn footprint(config: &EntropyMinConfig, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        weak_pass_footprint(config.mu, batch_size, feature_dim, n_classes)
    }

    fn new(config: EntropyMinConfig, setup: &Setup) -> Result<(Self, ClassifierModel), String> {
        Ok((EntropyMin { config, flip: setup.flip_invariant }, ClassifierModel::new(setup)))
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        BatchPlan { labelled: batch_size, unlabelled: batch_size * self.config.mu }
    }

    fn loss(&mut self, model: &ClassifierModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let (sup, logits_ulb) = weak_pass(|x| model.logits(x), batch, self.flip, ctx);
        let n_ulb = logits_ulb.dims()[0];
        let pseudo = logits_ulb.clone().detach().argmax(1).reshape([n_ulb]);
        let unsup = entropy(logits_ulb);
        let weight = self.config.lambda_u * sigmoid_ramp(ctx.step, ctx.total_steps, self.config.ramp);
        semi_losses(sup, unsup, weight, batch, pseudo, None)
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
