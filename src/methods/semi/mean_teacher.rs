//! Mean Teacher: the student learns to agree with a teacher whose weights are the running
//! average of the student's own.
//!
//! [0] Tarvainen, Valpola. "Mean teachers are better role models: Weight-averaged consistency
//! targets improve semi-supervised deep learning results", NeurIPS 2017, arXiv:1703.01780.
//! The teacher's weights are an exponential moving average of the student's, θ' ← α θ' +
//! (1 − α) θ (eq. 1); the student is trained on the labels plus a consistency cost: the
//! squared difference between its class probabilities and the teacher's for the same image
//! under different noise. A weight-averaged teacher is a better target than the Π-model's
//! own last prediction, and it improves at every step, not once an epoch as in Temporal
//! Ensembling.
//!
//! Here the noise is two independent weak views (flip and shift) of each unlabelled image. The
//! consistency cost (mean squared difference of the probabilities) carries USB's weight 50 and
//! ramps up over the first 40 % of the run with exp(−5(1 − t)²), as the paper's does. α =
//! 0.95: the paper's 0.99 (during ramp-up; 0.999 after) left the teacher too far behind a
//! student trained for a few hundred steps. On MNIST at 10 labels per class, 600 steps of
//! 32 labelled + 96 unlabelled images: α = 0.99 67.6 % test accuracy (λ = 10: 76.1, λ = 1:
//! 82.4), α = 0.95 88.2 %, supervised-only 85.1 %. The teacher runs as an evaluation copy:
//! its passes use its running statistics and never move them, and it gets no gradient (with
//! the teacher in training mode instead, α = 0.99 reached 80.8 %).
use super::super::ema::{ema_update, frozen_copy, EmaSchedule};
use super::super::{Batch, BatchPlan, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx, Tag};
use super::fixmatch::ClassifierModel;
use super::{sigmoid_ramp, usb_optimizer, weak_pass, weak_pass_footprint, weak_view_pair, semi_losses};
use crate::augment;
use crate::backbone::Backbone;
use crate::bounds::{in_range, in_range_f};
use crate::heads::Mlp;
use crate::loss::softmax_mse;
use crate::rng::Rng;
use burn::prelude::*;
use burn::tensor::activation::softmax;

#[derive(Config, Debug)]
pub struct MeanTeacherConfig {
    /// Weight of the consistency cost at full ramp (USB: 50). [0, 1000].
    #[config(default = 50.0)]
    pub lambda_u: f64,
    /// Share of the run over which the weight ramps up. [0, 1].
    #[config(default = 0.4)]
    pub ramp: f64,
    /// The teacher's EMA momentum α (paper 0.99 during ramp-up, 0.999 after; see the module
    /// note for why 0.95 here).
    #[config(default = "EmaSchedule { base: 0.95, cosine: false }")]
    pub ema: EmaSchedule,
    /// μ: unlabelled images per labelled image in a batch (USB's 7). 1..=16.
    #[config(default = 7)]
    pub mu: usize,
}

impl Default for MeanTeacherConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The student (trained) and the teacher (its EMA, no gradient).
#[derive(Module, Debug)]
pub struct MeanTeacherModel {
    pub student: ClassifierModel,
    pub teacher: ClassifierModel,
}

pub struct MeanTeacher {
    config: MeanTeacherConfig,
    flip: bool,
}

impl Method for MeanTeacher {
    const META: MethodMeta = MethodMeta {
        id: "mean-teacher",
        family: Family::Semi,
        name: "Mean Teacher",
        paper: "Tarvainen, Valpola. Mean teachers are better role models: Weight-averaged consistency targets improve semi-supervised deep learning results. NeurIPS 2017",
        link: "https://arxiv.org/abs/1703.01780",
        explanation: "Two copies of the network: the student, trained as usual, and the teacher, whose weights are a slow \
            running average of the student's. On an unlabelled image, seen by each with a different flip and shift, the \
            student is trained to give the same class probabilities as the teacher. Averaging weights smooths out the \
            student's step-to-step noise, so the teacher is usually a little better, and a better target, than the \
            student itself; both accuracies are reported. The agreement term's weight rises over the first 40 % of the \
            run, while the teacher is still poor.",
        curves: &[Curve::loss("total"), Curve::loss("sup"), Curve::loss("unsup"), Curve::accuracy("pseudo_label_acc")],
        uses_labels: true,
        optimizer: usb_optimizer,
    };

    type Config = MeanTeacherConfig;
    type Model = MeanTeacherModel;

    fn check(config: &MeanTeacherConfig) -> Result<(), String> {
        in_range_f("lambda_u", config.lambda_u, 0.0, 1000.0)?;
        in_range_f("ramp", config.ramp, 0.0, 1.0)?;
        config.ema.check()?;
        in_range("mu", config.mu, 1, 16)
    }

    fn footprint(config: &MeanTeacherConfig, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        // The student's pass, plus the teacher's over the unlabelled images (no activations
        // kept for a backward pass, counted in full to be safe) and the teacher's classifier.
        let mut footprint = weak_pass_footprint(config.mu, batch_size, feature_dim, n_classes);
        footprint.forward_images += batch_size * config.mu;
        footprint.heads.push(vec![feature_dim, n_classes]);
        footprint
    }

    fn new(config: MeanTeacherConfig, setup: &Setup) -> Result<(Self, MeanTeacherModel), String> {
        let student = ClassifierModel::new(setup);
        let teacher = frozen_copy(ClassifierModel::new(setup), &student);
        Ok((MeanTeacher { config, flip: setup.flip_invariant }, MeanTeacherModel { student, teacher }))
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        BatchPlan { labelled: batch_size, unlabelled: batch_size * self.config.mu }
    }

    fn loss(&mut self, model: &MeanTeacherModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let (sup, student_ulb) = weak_pass(|x| model.student.logits(x), batch, self.flip, ctx);
        let n_ulb = student_ulb.dims()[0];
        // The teacher's view: another flip and shift of the same images, through an evaluation
        // copy (its running statistics, no graph).
        let x_ulb = batch.unlabelled.clone().expect("Mean Teacher draws unlabelled images");
        let teacher_probs = softmax(model.teacher.valid().logits(augment::weak(x_ulb, self.flip, ctx.rng)), 1); // [U, K]
        let pseudo = teacher_probs.clone().argmax(1).reshape([n_ulb]).autodiff();
        let unsup = softmax_mse(student_ulb, teacher_probs.autodiff());
        let weight = self.config.lambda_u * sigmoid_ramp(ctx.step, ctx.total_steps, self.config.ramp);
        semi_losses(sup, unsup, weight, batch, pseudo, None)
    }

    fn after_step(&mut self, model: MeanTeacherModel, ctx: &StepCtx) -> MeanTeacherModel {
        let alpha = self.config.ema.momentum(ctx.step, ctx.total_steps);
        let teacher = ema_update(model.teacher, &model.student, alpha);
        MeanTeacherModel { teacher, ..model }
    }

    fn backbone(model: &MeanTeacherModel) -> &Backbone {
        &model.student.backbone
    }

    fn classifier(model: &MeanTeacherModel) -> Option<&Mlp> {
        Some(&model.student.classifier)
    }

    /// The teacher's test accuracy beside the student's (the run's `test_acc`).
    fn eval_metrics(&self, model: &MeanTeacherModel, images: Tensor<4>, labels: Tensor<1, Int>) -> Vec<(&'static str, Tag, Tensor<1>)> {
        vec![("teacher_test_acc", Tag::Accuracy, model.teacher.accuracy(&images, labels))]
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        weak_view_pair(images, self.flip, rng, ["student's view", "teacher's view"])
    }
}
