//! VAT: the prediction on an unlabelled image must not change under the small perturbation
//! that changes it most.
//!
//! [0] Miyato et al. "Virtual Adversarial Training: A Regularization Method for Supervised and
//! Semi-Supervised Learning", TPAMI 2018, arXiv:1704.03976. The virtual adversarial
//! perturbation r_adv = ε · g/‖g‖, g = ∇_r KL(p(y | x) ‖ p(y | x + r)) at r = ξd, d a random unit
//! vector (one step of power iteration for the dominant eigenvector of the KL's Hessian, §3.3).
//! The loss adds α · KL(p(y | x) ‖ p(y | x + r_adv)) with p(y | x) held fixed, and, for "VAT +
//! EntMin" (§4.2), the entropy of p(y | x).
//!
//! The gradient with respect to the input comes from Burn's autodiff: r is a leaf that requires
//! a gradient, and the power-iteration pass runs through a copy of the model whose BatchNorm
//! running statistics are its own ([`scratch_copy`]), so only the main pass moves the model's.
//! The adversarial images go through the network in the main pass with the clean ones.
//!
//! Units and scale: ε is the L2 norm of the perturbation over the whole image, in pixel values
//! in [0, 1] (ε = 2 moves 16 pixels by 0.5, or every one of 784 pixels by 0.07). ξ = 10⁻³: the
//! paper's 10⁻⁶, spread over 784 pixels, is below float32's resolution of pixel values near 1,
//! so x + ξd would round back to x and the gradient would vanish. λ = 1 and entropy weight 1 as
//! the paper; λ ramps up over the first 40 % of the run, as this playground's other consistency
//! methods.
use super::super::{Batch, BatchPlan, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use super::fixmatch::ClassifierModel;
use super::{linear_ramp, scratch_copy, semi_losses, usb_optimizer, weak_views};
use crate::augment;
use crate::backbone::Backbone;
use crate::bounds::{in_range, in_range_f};
use crate::heads::Mlp;
use crate::loss::{cross_entropy, entropy, kl_divergence};
use crate::rng::Rng;
use burn::prelude::*;
use burn::tensor::activation::softmax;

#[derive(Config, Debug)]
pub struct VatConfig {
    /// ε: L2 norm of the adversarial perturbation, in [0, 1] pixel units. (0, 20].
    #[config(default = 2.0)]
    pub epsilon: f64,
    /// ξ: length of the probe for the power iteration (see the module note). (0, 1].
    #[config(default = 0.001)]
    pub xi: f64,
    /// Power iterations (paper 1). 1..=5.
    #[config(default = 1)]
    pub power_iterations: usize,
    /// α: weight of the adversarial KL term at full ramp (paper 1). [0, 100].
    #[config(default = 1.0)]
    pub lambda_u: f64,
    /// Weight of the entropy term (VAT + EntMin; paper 1, 0 = plain VAT). [0, 100].
    #[config(default = 1.0)]
    pub entropy_weight: f64,
    /// Share of the run over which λ ramps up linearly from 0. [0, 1].
    #[config(default = 0.4)]
    pub ramp: f64,
    /// μ: unlabelled images per labelled image in a batch (USB's 7). 1..=16.
    #[config(default = 7)]
    pub mu: usize,
}

impl Default for VatConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Each image of `x` `[B, C, H, W]` scaled to unit L2 norm.
fn unit_per_image(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let flat = x.reshape([b, c * h * w]); // [B, CHW]
    let norm = flat.clone().square().sum_dim(1).sqrt().clamp_min(1e-12); // [B, 1]
    (flat / norm).reshape([b, c, h, w])
}

/// The virtual adversarial perturbation `[B, C, H, W]` of `x` (plain device) for the classifier
/// `logits` ([0] §3.3): from a random direction, `iterations` steps of d ← ∇_r KL(p(x) ‖
/// p(x + r)) at r = ξ·d/‖d‖, then ε·d/‖d‖. Clean and probed images share one pass, so they share
/// batch statistics. Returned on the plain device, without gradient.
pub fn adversarial_perturbation(logits: impl Fn(Tensor<4>) -> Tensor<2>, x: Tensor<4>, xi: f64, epsilon: f64, iterations: usize, rng: &mut Rng) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let device = x.device();
    let noise: Vec<f32> = (0..b * c * h * w).map(|_| rng.normal()).collect();
    let mut direction = Tensor::<4>::from_data(TensorData::new(noise, [b, c, h, w]), &device);
    for _ in 0..iterations {
        let probe = (unit_per_image(direction) * xi).autodiff().require_grad();
        let both = logits(Tensor::cat(vec![x.clone().autodiff(), x.clone().autodiff() + probe.clone()], 0)); // [2B, K]
        let clean = softmax(both.clone().narrow(0, 0, b).detach(), 1);
        let kl = kl_divergence(both.narrow(0, b, b), clean);
        let grads = kl.backward();
        direction = probe.grad(&grads).expect("the probe is a leaf that requires a gradient");
    }
    unit_per_image(direction) * epsilon
}

pub struct Vat {
    config: VatConfig,
    flip: bool,
    /// The first unlabelled image of the last step, its perturbation and the perturbed image.
    last: Option<[Tensor<2>; 3]>,
}

impl Method for Vat {
    const META: MethodMeta = MethodMeta {
        id: "vat",
        family: Family::Semi,
        name: "VAT",
        paper: "Miyato et al. Virtual Adversarial Training: A Regularization Method for Supervised and Semi-Supervised Learning. TPAMI 2018",
        link: "https://arxiv.org/abs/1704.03976",
        explanation: "For each unlabelled image, find the small change to its pixels (of a fixed total size ε) that changes the \
            model's prediction the most, using the gradient with respect to the image itself. Then train the model to give \
            the changed image the same prediction as the original. No label is needed: the model's own answer is the \
            target. The model becomes smooth exactly where it is most fragile. An entropy term also pushes it to be \
            decisive on unlabelled images. The heat maps show one image, its adversarial change (blue darkens, red \
            brightens) and the changed image.",
        curves: &[Curve::loss("total"), Curve::loss("sup"), Curve::loss("unsup"), Curve::loss("adversarial_kl"), Curve::loss("entropy"), Curve::accuracy("pseudo_label_acc")],
        uses_labels: true,
        optimizer: usb_optimizer,
    };

    type Config = VatConfig;
    type Model = ClassifierModel;

    fn check(config: &VatConfig) -> Result<(), String> {
        in_range_f("epsilon", config.epsilon, 1e-6, 20.0)?;
        in_range_f("xi", config.xi, 1e-9, 1.0)?;
        in_range("power_iterations", config.power_iterations, 1, 5)?;
        in_range_f("lambda_u", config.lambda_u, 0.0, 100.0)?;
        in_range_f("entropy_weight", config.entropy_weight, 0.0, 100.0)?;
        in_range_f("ramp", config.ramp, 0.0, 1.0)?;
        in_range("mu", config.mu, 1, 16)
    }

    fn footprint(config: &VatConfig, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        // The power-iteration pass over 2U images (its graph freed before the main pass), then
        // L + 2U in the main pass.
        let u = batch_size * config.mu;
        Footprint { extra_values: 0, forward_images: batch_size + 4 * u, heads: vec![vec![feature_dim, n_classes]] }
    }

    fn new(config: VatConfig, setup: &Setup) -> Result<(Self, ClassifierModel), String> {
        Ok((Vat { config, flip: setup.flip_invariant, last: None }, ClassifierModel::new(setup)))
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        BatchPlan { labelled: batch_size, unlabelled: batch_size * self.config.mu }
    }

    fn loss(&mut self, model: &ClassifierModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let c = &self.config;
        let (x_lb, y_lb) = batch.labelled.clone().expect("VAT draws labelled images");
        let x_ulb = batch.unlabelled.clone().expect("VAT draws unlabelled images");
        let (n_lb, n_ulb) = (x_lb.dims()[0], x_ulb.dims()[0]);
        let x_lb = augment::weak(x_lb, self.flip, ctx.rng);
        let x_ulb = augment::weak(x_ulb, self.flip, ctx.rng);

        let scratch = scratch_copy(model);
        let r_adv = adversarial_perturbation(|x| scratch.logits(x), x_ulb.clone(), c.xi, c.epsilon, c.power_iterations, ctx.rng);
        let perturbed = x_ulb.clone() + r_adv.clone();
        self.last = Some([first_image(x_ulb.clone()), first_image(r_adv.clone()), first_image(perturbed.clone())]);

        let logits = model.logits(ctx.to_model(Tensor::cat(vec![x_lb, x_ulb, perturbed], 0))); // [L + 2U, K]
        let sup = cross_entropy(logits.clone().narrow(0, 0, n_lb), y_lb.autodiff());
        let clean = logits.clone().narrow(0, n_lb, n_ulb);
        let adversarial_kl = kl_divergence(logits.narrow(0, n_lb + n_ulb, n_ulb), softmax(clean.clone().detach(), 1));
        let ent = entropy(clean.clone());
        let pseudo = clean.detach().argmax(1).reshape([n_ulb]);
        let ramp = linear_ramp(ctx.step, ctx.total_steps, 0.0, c.ramp, 1.0);
        // unsup = the whole unlabelled objective (ramped KL + entropy), so total = sup + unsup.
        let unsup = adversarial_kl.clone() * (c.lambda_u * ramp) + ent.clone() * c.entropy_weight;
        semi_losses(sup, unsup, 1.0, batch, pseudo, None).with("adversarial_kl", adversarial_kl).with("entropy", ent)
    }

    fn backbone(model: &ClassifierModel) -> &Backbone {
        &model.backbone
    }

    fn classifier(model: &ClassifierModel) -> Option<&Mlp> {
        Some(&model.classifier)
    }

    /// The last step's first unlabelled image, its perturbation scaled to ±1 and the
    /// perturbed image (first channel), for the page's heat maps.
    fn matrices(&self) -> Vec<(&'static str, Tensor<2>)> {
        let Some([image, perturbation, perturbed]) = &self.last else { return Vec::new() };
        let peak = perturbation.clone().abs().max().clamp_min(1e-12);
        let [h, w] = perturbation.dims();
        let scaled = perturbation.clone() / peak.reshape([1, 1]).expand([h, w]);
        vec![("image", image.clone()), ("adversarial perturbation (scaled to ±1)", scaled), ("image + perturbation", perturbed.clone())]
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        weak_views(images, self.flip, rng)
    }
}

/// The first channel of the first image of `x` `[B, C, H, W]` → `[H, W]`.
fn first_image(x: Tensor<4>) -> Tensor<2> {
    let [_, _, h, w] = x.dims();
    x.narrow(0, 0, 1).narrow(1, 0, 1).reshape([h, w])
}
