//! Decoupled RotNet: RotNet whose feature is split into a part that tells the rotation and a
//! part that must not, with rotation-ambiguous images down-weighted.
//!
//! [0] Feng, Xu, Tao. "Self-Supervised Representation Learning by Rotation Feature
//! Decoupling", CVPR 2019. Three changes to RotNet (Gidaris et al. 2018):
//! - Some images look the same, or equally plausible, at several rotations (a round bag, a
//!   symmetric top). Their rotation labels are noise, so each image's rotation loss gets a
//!   weight: low when the image is rotation-ambiguous ([`weighted_cross_entropy`]).
//! - The feature f is split in two, f = [f_rot, f_inv]. Only f_rot feeds the rotation
//!   classifier.
//! - f_inv must be the same at all four rotations (distance of each to their mean), and it
//!   must tell images apart: instance discrimination of the mean over rotations against a
//!   memory bank (NPID, Wu et al. 2018), with the bank in the model ([`MemoryBank`]).
//!
//! The weight estimator (the paper trains a positive-unlabelled classifier: upright images
//! are the positives, rotated ones are unlabelled, and a rotated image the classifier takes
//! for upright marks its image as ambiguous). Here the rotation classifier itself plays that
//! part, with no second network: after each step, a_i = max over the three rotated copies
//! of image i of the probability the classifier gives to "upright", and the image's weight
//! is a running average of 1 − a_i over its visits (momentum 0.5, starting at 1), kept per
//! training image in the model ([`PerSample`]). An image whose turned copies keep passing
//! for upright sinks towards 0; a clearly oriented one stays near 1. The page shows the
//! images with the lowest weights.
//!
//! Scaled to 28-px images and short runs: f_rot and f_inv of 64 values each from one linear
//! layer on the backbone's features; the bank starts as the untrained network's features,
//! as in [`super::super::contrastive::npid`]; the invariance term weighs 1 and the instance
//! term 0.01 (our choice, measured: see `instance_weight`).
use super::super::memory::{MemoryBank, PerSample};
use super::super::{accuracy, Batch, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use super::rotnet::{four_rotations, rotation_views};
use crate::augment;
use crate::backbone::Backbone;
use crate::bounds::{in_range, in_range_f};
use crate::eval::{in_chunks, EMBED_CHUNK};
use crate::heads::{Mlp, MAX_HEAD_WIDTH};
use crate::loss::{cross_entropy, l2_normalize, weighted_cross_entropy};
use crate::optim::OptimConfig;
use crate::rng::Rng;
use burn::prelude::*;
use burn::tensor::activation::softmax;

/// The estimated ambiguity of each image `[B]` from its rotation logits `[4B, 4]`
/// (rotation-major, row k·B + i = image i turned k·90°): the highest probability the
/// classifier gives to "upright" (class 0) among the three turned copies. 0 when every turned
/// copy is surely not upright; near 1 when one passes for upright.
pub fn rotation_ambiguity(logits: Tensor<2>) -> Tensor<1> {
    let b = logits.dims()[0] / 4;
    let upright = softmax(logits, 1).narrow(1, 0, 1).reshape([4, b]); // [4, B]
    upright.narrow(0, 1, 3).max_dim(0).reshape([b])
}

/// Images shown as "judged rotation-ambiguous" in the preview.
const AMBIGUOUS_SHOWN: usize = 8;

#[derive(Config, Debug)]
pub struct DecoupledRotNetConfig {
    /// Width of each half of the decoupled feature, f_rot and f_inv. 1..=2048.
    #[config(default = 64)]
    pub part_dim: usize,
    /// τ of the instance discrimination softmax over the memory bank (NPID: 0.07). [0.001, 10].
    #[config(default = 0.07)]
    pub temperature: f64,
    /// Momentum of the bank update (NPID's code: 0.5). [0, 1).
    #[config(default = 0.5)]
    pub bank_momentum: f64,
    /// Momentum of each image's running weight. [0, 1).
    #[config(default = 0.5)]
    pub weight_momentum: f64,
    /// Down-weight rotation-ambiguous images; off = every image weighs 1 (plain RotNet's
    /// loss on f_rot).
    #[config(default = true)]
    pub reweight: bool,
    /// Weight of the rotation-invariance term on f_inv. [0, 100].
    #[config(default = 1.0)]
    pub invariance_weight: f64,
    /// Weight of the instance discrimination term on f_inv. [0, 100]. Its loss starts at
    /// ln N (about 9 nats) and falls slowly, against a rotation loss under 0.1 after a few
    /// hundred steps; at 0.01 the two are of the same order. At 1,000 steps (best-layer kNN,
    /// untrained 78.45): 1 → 77.05, 0.1 → 79.6, 0.01 → 80.75, 0 → 81.65. Instance
    /// discrimination over a stale bank pulls the features from the classes in short runs, as
    /// NPID's does; 0.01 keeps the paper's term at a weight where it costs least.
    #[config(default = 0.01)]
    pub instance_weight: f64,
    /// Flip and shift each image before rotating it, as RotNet does here.
    #[config(default = true)]
    pub augment: bool,
}

impl Default for DecoupledRotNetConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Backbone, the decoupling layer to [f_rot, f_inv], the rotation classifier on f_rot, the
/// memory bank of f_inv `[N, part_dim]` and each training image's weight `[N]`.
#[derive(Module, Debug)]
pub struct DecoupledRotNetModel {
    pub backbone: Backbone,
    pub decouple: Mlp,
    pub rotation_head: Mlp,
    pub bank: MemoryBank,
    pub weights: PerSample,
}

impl DecoupledRotNetModel {
    /// f_rot and f_inv `[N, part_dim]` each, of images `[N, C, H, W]`.
    fn parts(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let f = self.decouple.forward(self.backbone.forward(x)); // [N, 2P]
        let p = f.dims()[1] / 2;
        (f.clone().narrow(1, 0, p), f.narrow(1, p, p))
    }
}

pub struct DecoupledRotNet {
    config: DecoupledRotNetConfig,
    flip: bool,
    /// The training pool on the plain device, for the preview of ambiguous images.
    train_images: Tensor<4>,
    /// This step's indices, normalised mean f_inv and estimated ambiguity, applied to the
    /// bank and the weights after the optimizer step.
    pending: Option<(Tensor<1, Int>, Tensor<2>, Tensor<1>)>,
    /// The weights after the last step (plain device), for the preview.
    last_weights: Option<Tensor<1>>,
}

/// RotNet's optimizer: SGD, Nesterov momentum 0.9, weight decay 5e-4, lr 0.1.
fn optimizer() -> OptimConfig {
    OptimConfig::sgd(0.1, 5e-4)
}

impl Method for DecoupledRotNet {
    const META: MethodMeta = MethodMeta {
        id: "decoupled-rotnet",
        family: Family::Pretext,
        name: "Decoupled RotNet",
        paper: "Feng, Xu, Tao. Self-Supervised Representation Learning by Rotation Feature Decoupling. CVPR 2019",
        link: "https://openaccess.thecvf.com/content_CVPR_2019/html/Feng_Self-Supervised_Representation_Learning_by_Rotation_Feature_Decoupling_CVPR_2019_paper.html",
        explanation: "RotNet asks which way an image was turned, but some images look right at several rotations (a bag, a \
            symmetric top), and their labels only teach noise. Here each image carries a weight: when the network keeps \
            taking its turned copies for upright, the image is judged rotation-ambiguous and its rotation loss counts \
            less. The feature is also split in two: one half predicts the rotation, the other half must stay the same \
            at all four rotations and still tell images apart (instance discrimination against a memory bank, as in \
            NPID). The preview shows the images with the lowest weights. Scaled here: two halves of 64 values, and the \
            ambiguity estimated by the rotation classifier itself instead of a separate positive-unlabelled one.",
        curves: &[
            Curve::loss("total"),
            Curve::loss("rotation"),
            Curve::loss("invariance"),
            Curve::loss("instance"),
            Curve::accuracy("rotation_acc"),
            Curve::ratio("mean_weight"),
        ],
        uses_labels: false,
        optimizer,
    };

    type Config = DecoupledRotNetConfig;
    type Model = DecoupledRotNetModel;

    fn check(config: &DecoupledRotNetConfig) -> Result<(), String> {
        in_range("part_dim", config.part_dim, 1, MAX_HEAD_WIDTH / 2)?;
        in_range_f("temperature", config.temperature, 1e-3, 10.0)?;
        in_range_f("bank_momentum", config.bank_momentum, 0.0, 0.999)?;
        in_range_f("weight_momentum", config.weight_momentum, 0.0, 0.999)?;
        in_range_f("invariance_weight", config.invariance_weight, 0.0, 100.0)?;
        in_range_f("instance_weight", config.instance_weight, 0.0, 100.0)
    }

    fn footprint(config: &DecoupledRotNetConfig, batch_size: usize, feature_dim: usize, _n_classes: usize) -> Footprint {
        Footprint { extra_values: 0, forward_images: 4 * batch_size, heads: vec![vec![feature_dim, 2 * config.part_dim], vec![config.part_dim, 4]] }
    }

    fn extra_values(config: &DecoupledRotNetConfig, batch_size: usize, n_train: usize) -> usize {
        // The bank and the weights, and the [B, N] logits with their softmax and gradient.
        n_train * (config.part_dim + 1) + 3 * batch_size * n_train
    }

    fn new(config: DecoupledRotNetConfig, setup: &Setup) -> Result<(Self, DecoupledRotNetModel), String> {
        if setup.height != setup.width_px {
            return Err(format!("Decoupled RotNet needs square images, got {}×{}", setup.height, setup.width_px));
        }
        let backbone = setup.backbone();
        let decouple = Mlp::new(&[backbone.out_dim(), 2 * config.part_dim], &setup.device);
        let rotation_head = Mlp::new(&[config.part_dim, 4], &setup.device);
        // The bank starts as the untrained network's f_inv of every training image (see NPID).
        let (b, d) = (backbone.valid(), decouple.valid());
        let features = in_chunks(&setup.train_images, EMBED_CHUNK, |x| {
            let f = d.forward(b.forward(x));
            let p = f.dims()[1] / 2;
            f.narrow(1, p, p)
        });
        let bank = MemoryBank::from_features(features.autodiff()); // [N, P]
        let weights = PerSample::new(setup.n_train, 1.0, &setup.device);
        let method = DecoupledRotNet { config, flip: setup.flip_invariant, train_images: setup.train_images.clone(), pending: None, last_weights: None };
        Ok((method, DecoupledRotNetModel { backbone, decouple, rotation_head, bank, weights }))
    }

    fn loss(&mut self, model: &DecoupledRotNetModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let x = batch.unlabelled.clone().expect("Decoupled RotNet draws unlabelled images");
        let b = x.dims()[0];
        let x = if self.config.augment { augment::weak(x, self.flip, ctx.rng) } else { x };
        let (rotated, labels) = four_rotations(x); // [4B, …], rotation-major: row k·B + i
        let (f_rot, f_inv) = model.parts(ctx.to_model(rotated));
        let logits = model.rotation_head.forward(f_rot); // [4B, 4]
        let labels = labels.autodiff();
        let index = Batch::index_tensor(&batch.unlabelled_index, ctx.device);

        // Rotation, each image's four copies weighted by its running weight.
        let weight = if self.config.reweight { model.weights.rows(index.clone()) } else { Tensor::ones([b], ctx.device) }; // [B]
        let rotation = weighted_cross_entropy(logits.clone(), labels.clone(), weight.clone().repeat_dim(0, 4));
        let acc = accuracy(logits.clone().detach(), labels);
        let ambiguity = rotation_ambiguity(logits.detach());

        // f_inv: the same at all four rotations, and its mean discriminates the instance.
        let [_, p] = f_inv.dims();
        let per_rotation = l2_normalize(f_inv).reshape([4, b, p]); // [4, B, P]
        let mean = per_rotation.clone().mean_dim(0); // [1, B, P]
        let invariance = (per_rotation - mean.clone()).square().sum_dim(2).mean();
        let mean = l2_normalize(mean.reshape([b, p])); // [B, P]
        let logits = mean.clone().matmul(model.bank.all().transpose()) / self.config.temperature; // [B, N]
        let instance = cross_entropy(logits, index.clone());

        let total = rotation.clone() + invariance.clone() * self.config.invariance_weight + instance.clone() * self.config.instance_weight;
        let mean_weight = weight.mean();
        self.pending = Some((index, mean.detach(), ambiguity));
        Losses::new(total)
            .with("rotation", rotation)
            .with("invariance", invariance)
            .with("instance", instance)
            .with("rotation_acc", acc)
            .with("mean_weight", mean_weight)
    }

    fn after_step(&mut self, model: DecoupledRotNetModel, _ctx: &StepCtx) -> DecoupledRotNetModel {
        let Some((index, features, ambiguity)) = self.pending.take() else { return model };
        let bank = model.bank.update(index.clone(), features, self.config.bank_momentum);
        let weights = model.weights.update(index, ambiguity.neg() + 1.0, self.config.weight_momentum);
        self.last_weights = Some(weights.all().inner());
        DecoupledRotNetModel { bank, weights, ..model }
    }

    fn backbone(model: &DecoupledRotNetModel) -> &Backbone {
        &model.backbone
    }

    /// Held-out rotation accuracy, all four rotations of every image, unweighted.
    fn pretext_accuracy(&self, model: &DecoupledRotNetModel, images: Tensor<4>) -> Option<Tensor<1>> {
        let (rotated, labels) = four_rotations(images);
        let logits = in_chunks(&rotated, EMBED_CHUNK, |x| model.rotation_head.forward(model.parts(x).0));
        Some(accuracy(logits, labels))
    }

    fn views(&self, images: Tensor<4>, _rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        let mut views = rotation_views(images);
        if let Some(weights) = &self.last_weights {
            // The lowest running weights so far; images not yet seen keep weight 1.
            let n = weights.dims()[0];
            let (_, lowest) = weights.clone().neg().topk_with_indices(AMBIGUOUS_SHOWN.min(n), 0);
            views.push(("judged rotation-ambiguous (lowest weight first)".into(), self.train_images.clone().select(0, lowest)));
        }
        views
    }
}
