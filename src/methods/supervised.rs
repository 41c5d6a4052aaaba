//! The supervised-only baseline: the same backbone and classifier, trained with
//! cross-entropy on the labelled subset alone under the weak augmentation. Semi-supervised
//! methods are compared against it at the same labels and steps (FixMatch, Sohn et al. 2020,
//! arXiv:2001.07685, reports the same kind of baseline).
use super::semi::fixmatch::ClassifierModel;
use super::{Curve, Family, MethodMeta, accuracy, Batch, BatchPlan, Footprint, Losses, Method, Setup, StepCtx};
use crate::augment;
use crate::backbone::Backbone;
use crate::heads::Mlp;
use crate::loss::cross_entropy;
use crate::rng::Rng;
use crate::optim::OptimConfig;
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct SupervisedConfig {
    /// Apply FixMatch's weak augmentation (flip + shift) to the labelled images.
    #[config(default = true)]
    pub augment: bool,
}

impl Default for SupervisedConfig {
    fn default() -> Self {
        Self::new()
    }
}

pub struct Supervised {
    config: SupervisedConfig,
    flip: bool,
}

/// The same optimizer as FixMatch, so the two are compared on equal terms.
fn paper_optimizer() -> OptimConfig {
    OptimConfig::sgd(0.03, 5e-4)
}

impl Method for Supervised {
    const META: MethodMeta = MethodMeta {
        id: "supervised",
        family: Family::Baseline,
        name: "Supervised (labelled subset only)",
        paper: "Baseline: cross-entropy on the labelled images alone, as in the FixMatch paper's comparisons",
        link: "https://arxiv.org/abs/2001.07685",
        explanation: "Trains the same backbone and classifier on the labelled images only, with the weak augmentation \
                    (flip and shift), and ignores every unlabelled image. With ten labels per class it overfits quickly. \
                    A semi-supervised method is worth its cost when it beats this at the same number of labels and steps.",
        curves: &[Curve::loss("total"), Curve::loss("sup"), Curve::accuracy("train_acc")],
        uses_labels: true,
        optimizer: paper_optimizer,
    };


    type Config = SupervisedConfig;
    type Model = ClassifierModel;

    fn footprint(_config: &SupervisedConfig, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        Footprint { extra_values: 0, forward_images: batch_size, heads: vec![vec![feature_dim, n_classes]] }
    }

    fn new(config: SupervisedConfig, setup: &Setup) -> Result<(Self, ClassifierModel), String> {
        Ok((Supervised { config, flip: setup.flip_invariant }, ClassifierModel::new(setup)))
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        BatchPlan { labelled: batch_size, unlabelled: 0 }
    }

    fn loss(&mut self, model: &ClassifierModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let (x, y) = batch.labelled.clone().expect("the supervised baseline draws labelled images");
        let x = if self.config.augment { augment::weak(x, self.flip, ctx.rng) } else { x };
        let logits = model.logits(ctx.to_model(x));
        let y = y.autodiff();
        let acc = accuracy(logits.clone().detach(), y.clone());
        let sup = cross_entropy(logits, y);
        Losses::new(sup.clone()).with("sup", sup).with("train_acc", acc)
    }

    fn backbone(model: &ClassifierModel) -> &Backbone {
        &model.backbone
    }

    fn classifier(model: &ClassifierModel) -> Option<&Mlp> {
        Some(&model.classifier)
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        vec![("weak".into(), augment::weak(images, self.flip, rng))]
    }
}
