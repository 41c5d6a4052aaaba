//! Semi-supervised methods: a few labelled images plus many unlabelled ones. They share
//! USB's batch shape (x_lb, y_lb, x_ulb_w, x_ulb_s) and the curves `sup`, `unsup`, `total`,
//! `mask_ratio` where a threshold applies, and `pseudo_label_acc` against the hidden labels.
pub mod entropy_min;
pub mod fixmatch;
pub mod label_propagation;
pub mod mean_teacher;
pub mod mixmatch;
pub mod pi_model;
pub mod pseudo_label;
pub mod remixmatch;
pub mod temporal_ensembling;
pub mod uda;
pub mod vat;

use super::{Batch, Footprint, Losses, StepCtx};
use crate::augment;
use crate::loss::cross_entropy;
use burn::prelude::*;
use burn::tensor::activation::softmax;

/// A step's weak views through the classifier `logits` in one pass (so BatchNorm sees both):
/// the supervised loss on the labelled images and the logits `[U, K]` of the unlabelled ones.
pub fn weak_pass(mut logits: impl FnMut(Tensor<4>) -> Tensor<2>, batch: &Batch, flip: bool, ctx: &mut StepCtx) -> (Tensor<1>, Tensor<2>) {
    let (x_lb, y_lb) = batch.labelled.clone().expect("a semi-supervised method draws labelled images");
    let x_ulb = batch.unlabelled.clone().expect("a semi-supervised method draws unlabelled images");
    let n_lb = x_lb.dims()[0];
    let x_lb_w = augment::weak(x_lb, flip, ctx.rng);
    let x_ulb_w = augment::weak(x_ulb, flip, ctx.rng);
    let logits = logits(ctx.to_model(Tensor::cat(vec![x_lb_w, x_ulb_w], 0))); // [L + U, K]
    let [n, _] = logits.dims();
    let sup = cross_entropy(logits.clone().narrow(0, 0, n_lb), y_lb.autodiff());
    (sup, logits.narrow(0, n_lb, n - n_lb))
}

/// FixMatch's pass: one forward over [labelled weak; unlabelled weak; unlabelled strong] (as the
/// reference implementation does, so BatchNorm statistics cover all three). Returns the
/// labelled logits `[L, K]`, the weak-view logits `[U, K]` (detached: they make targets) and the
/// strong-view logits `[U, K]`.
pub fn weak_strong_pass(logits: impl Fn(Tensor<4>) -> Tensor<2>, batch: &Batch, strong: &augment::RandAugment, ctx: &mut StepCtx) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
    let (x_lb, _) = batch.labelled.clone().expect("a semi-supervised method draws labelled images");
    let x_ulb = batch.unlabelled.clone().expect("a semi-supervised method draws unlabelled images");
    let (n_lb, n_ulb) = (x_lb.dims()[0], x_ulb.dims()[0]);
    let x_lb_w = augment::weak(x_lb, strong.flip, ctx.rng);
    let x_ulb_w = augment::weak(x_ulb.clone(), strong.flip, ctx.rng);
    let x_ulb_s = strong.view(x_ulb, ctx.rng);
    let all = logits(ctx.to_model(Tensor::cat(vec![x_lb_w, x_ulb_w, x_ulb_s], 0))); // [L + 2U, K]
    let logits_lb = all.clone().narrow(0, 0, n_lb);
    let logits_w = all.clone().narrow(0, n_lb, n_ulb).detach();
    (logits_lb, logits_w, all.narrow(0, n_lb + n_ulb, n_ulb))
}

/// What a step of a method using [`weak_strong_pass`] holds.
pub fn weak_strong_footprint(mu: usize, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
    Footprint { extra_values: 0, forward_images: batch_size * (1 + 2 * mu), heads: vec![vec![feature_dim, n_classes]] }
}

/// The preview of such a method: a weak and a strong view.
pub fn weak_strong_views(images: Tensor<4>, strong: &augment::RandAugment, rng: &mut crate::rng::Rng) -> Vec<(String, Tensor<4>)> {
    vec![("weak".into(), augment::weak(images.clone(), strong.flip, rng)), ("strong".into(), strong.view(images, rng))]
}

/// A copy of `model` for passes that need batch statistics, as in training, but must not move
/// the model's BatchNorm running statistics (USB's `freeze_bn`): `valid()` copies the running
/// statistics into fresh state and `train()` makes the copy differentiable again. Its
/// parameters are new leaves, so gradients through it reach the input, never the model.
pub fn scratch_copy<M: burn::module::Module>(model: &M) -> M {
    model.valid().train()
}

/// SGD with Nesterov momentum, lr 0.03, weight decay 5e-4 and a cosine schedule: USB's
/// setting for every method (FixMatch's paper's), so that the methods differ only in their loss.
pub fn usb_optimizer() -> crate::optim::OptimConfig {
    crate::optim::OptimConfig::sgd(0.03, 5e-4)
}

/// What a step of a method that passes the labelled batch and μ times as many unlabelled
/// weak views through the classifier holds.
pub fn weak_pass_footprint(mu: usize, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
    Footprint { extra_values: 0, forward_images: batch_size * (1 + mu), heads: vec![vec![feature_dim, n_classes]] }
}

/// The preview of such a method: the weak view it trains on.
pub fn weak_views(images: Tensor<4>, flip: bool, rng: &mut crate::rng::Rng) -> Vec<(String, Tensor<4>)> {
    vec![("weak (flip and shift)".into(), augment::weak(images, flip, rng))]
}

/// The preview of a method that compares two passes: two independent weak views, named.
pub fn weak_view_pair(images: Tensor<4>, flip: bool, rng: &mut crate::rng::Rng, names: [&str; 2]) -> Vec<(String, Tensor<4>)> {
    names.iter().map(|name| (format!("{name} (flip and shift)"), augment::weak(images.clone(), flip, rng))).collect()
}

/// The curves every semi-supervised method reports: `total` = sup + weight·unsup, `sup`,
/// `unsup`, then `mask_ratio` when a `mask` `[U]` of 0/1 says which unlabelled images count,
/// and `pseudo_label_acc`: the accuracy of the kept pseudo-labels `pseudo` `[U]` against the
/// hidden true labels, when the batch has them (0 when none was kept; without a mask, all
/// count; images without a class, truth -1, never count).
pub fn semi_losses(sup: Tensor<1>, unsup: Tensor<1>, weight: f64, batch: &Batch, pseudo: Tensor<1, Int>, mask: Option<Tensor<1>>) -> Losses {
    let total = sup.clone() + unsup.clone() * weight;
    let mut losses = Losses::new(total).with("sup", sup).with("unsup", unsup);
    if let Some(mask) = &mask {
        losses = losses.with("mask_ratio", mask.clone().mean());
    }
    let Some(truth) = &batch.unlabelled_truth else { return losses };
    let known = truth.clone().greater_equal_elem(0).float().autodiff();
    let mask = mask.map_or(known.clone(), |m| m * known);
    let correct = pseudo.equal(truth.clone().autodiff()).float() * mask.clone();
    losses.with("pseudo_label_acc", correct.sum() / mask.sum().clamp_min(1.0))
}

/// Hard pseudo-labels from unlabelled `logits` `[U, K]`, with no gradient: each row's argmax
/// `[U]`, and the mask `[U]` of rows whose top probability reaches `threshold`.
pub fn confident_argmax(logits: Tensor<2>, threshold: f64) -> (Tensor<1, Int>, Tensor<1>) {
    let [n, _] = logits.dims();
    let probs = softmax(logits.detach(), 1);
    let pseudo = probs.clone().argmax(1).reshape([n]);
    let mask = probs.max_dim(1).reshape([n]).greater_equal_elem(threshold).float();
    (pseudo, mask)
}

/// Lee's weight schedule (Pseudo-Label, 2013): 0 before `start`, rising linearly to
/// `full` at `end`, then constant; `start` and `end` are fractions of the run.
pub fn linear_ramp(step: usize, total_steps: usize, start: f64, end: f64, full: f64) -> f64 {
    let t = step as f64 / total_steps.max(1) as f64;
    if t < start {
        0.0
    } else if t >= end {
        full
    } else {
        full * (t - start) / (end - start)
    }
}

/// Laine & Aila's ramp-up (Temporal Ensembling, 2017, §3.2 and App. A): exp(−5 (1 − t)²)
/// for t = step / ramp_steps, and 1 after the ramp; `ramp` is the ramp's share of the run.
pub fn sigmoid_ramp(step: usize, total_steps: usize, ramp: f64) -> f64 {
    let ramp_steps = ramp * total_steps as f64;
    if ramp_steps <= 0.0 || step as f64 >= ramp_steps {
        return 1.0;
    }
    let t = step as f64 / ramp_steps;
    (-5.0 * (1.0 - t) * (1.0 - t)).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_by_hand() {
        // Lee: 0 before 10 % of the run, 3 from 60 %, linear between (at 35 %: half way).
        assert_eq!(linear_ramp(5, 100, 0.1, 0.6, 3.0), 0.0);
        assert!((linear_ramp(35, 100, 0.1, 0.6, 3.0) - 1.5).abs() < 1e-12);
        assert_eq!(linear_ramp(80, 100, 0.1, 0.6, 3.0), 3.0);
        // Laine & Aila: exp(−5) at the start, exp(−5/4) half way, 1 at the end of the ramp.
        assert!((sigmoid_ramp(0, 100, 0.4) - (-5.0f64).exp()).abs() < 1e-12);
        assert!((sigmoid_ramp(20, 100, 0.4) - (-1.25f64).exp()).abs() < 1e-12);
        assert_eq!(sigmoid_ramp(40, 100, 0.4), 1.0);
        assert_eq!(sigmoid_ramp(3, 100, 0.0), 1.0);
    }
}
