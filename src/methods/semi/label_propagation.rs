//! Label Propagation: spread the few labels along a nearest-neighbour graph of the network's
//! own features, then train on the spread labels, each weighted by how certain it is.
//!
//! [0] Zhou et al. "Learning with Local and Global Consistency", NeurIPS 2004: with W the
//! symmetric affinity matrix and S = D^{−1/2} W D^{−1/2}, iterate F ← αSF + (1 − α)Y from the
//! one-hot seeds Y; each row's argmax is its label (α = 0.99).
//! [1] Iscen et al. "Label Propagation for Deep Semi-supervised Learning", CVPR 2019,
//! arXiv:1904.04717. The graph is the kNN graph of L2-normalised features with affinities
//! s^γ (γ = 3), made symmetric, W = A + Aᵀ (§3.2, eq. 9); each pseudo-label is weighted by its
//! certainty ω_i = 1 − H(ẑ_i)/log K and by its class's inverse frequency ζ (eq. 11–12); the
//! graph is rebuilt from the current network at every epoch.
//!
//! Scaled: the graph covers the labelled images and `graph_size` unlabelled ones drawn afresh
//! at each rebuild (Iscen et al. use all 50,000 CIFAR images), with k = 10 neighbours (paper
//! 50), rebuilt every `rebuild_every` steps from `start` (10 % of the run; before it only the
//! labels train, as the paper's supervised warm-up). An unlabelled image keeps its label from
//! the last graph that held it. F is iterated `iterations` times on the sparse graph (the paper
//! solves the same system by conjugate gradient); α = 0.99 as both papers. The propagated labels
//! and their weights are state of the model, so a checkpoint resumes with them.
use super::super::memory::{PerSample, PerSampleRows};
use super::super::{Batch, BatchPlan, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx, Tag};
use super::fixmatch::ClassifierModel;
use super::{semi_losses, usb_optimizer, weak_pass, weak_pass_footprint, weak_views};
use crate::backbone::Backbone;
use crate::bounds::{in_range, in_range_f};
use crate::data::classes_or_unknown;
use crate::eval::{embed, one_hot_rows};
use crate::heads::Mlp;
use crate::loss::{l2_normalize, masked_cross_entropy};
use crate::rng::Rng;
use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;

/// Rows per block when searching the graph's neighbours: bounds the `[rows, M]` similarities.
const GRAPH_CHUNK: usize = 1024;

#[derive(Config, Debug)]
pub struct LabelPropagationConfig {
    /// k: neighbours per image in the graph (paper 50). 1..=100.
    #[config(default = 10)]
    pub k: usize,
    /// α of F ← αSF + (1 − α)Y (papers 0.99). [0, 0.999].
    #[config(default = 0.99)]
    pub alpha: f64,
    /// γ: affinities are cosine similarities to this power (paper 3). [1, 10].
    #[config(default = 3.0)]
    pub gamma: f64,
    /// Propagation iterations. 1..=200.
    #[config(default = 30)]
    pub iterations: usize,
    /// Unlabelled images in each graph, drawn afresh at every rebuild. 10..=20,000.
    #[config(default = 4000)]
    pub graph_size: usize,
    /// Steps between rebuilds of the graph. 1..=10,000.
    #[config(default = 100)]
    pub rebuild_every: usize,
    /// Share of the run trained on the labels alone before the first graph. [0, 1).
    #[config(default = 0.1)]
    pub start: f64,
    /// Weight of the propagated-label term. [0, 100].
    #[config(default = 1.0)]
    pub lambda_u: f64,
    /// μ: unlabelled images per labelled image in a batch (USB's 7). 1..=16.
    #[config(default = 7)]
    pub mu: usize,
}

impl Default for LabelPropagationConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The classifier, each training image's propagated class distribution ẑ `[N, K]` (zeros until
/// a graph has held it) and its weight ω·ζ `[N]` (0 = no label yet).
#[derive(Module, Debug)]
pub struct LabelPropagationModel {
    pub net: ClassifierModel,
    pub labels: PerSampleRows,
    pub weights: PerSample,
}

/// Zhou et al.'s propagation ([0]) on the symmetric kNN graph of `features` `[M, D]` ([1] §3.2)
/// from `seeds` `[M, K]` (one-hot rows for labelled images, zeros elsewhere). Returns F with
/// rows normalised to sum to 1, `[M, K]`; a row no seed reached stays all zero.
pub fn propagate(features: Tensor<2>, seeds: Tensor<2>, k: usize, alpha: f64, gamma: f64, iterations: usize) -> Tensor<2> {
    let [m, n_classes] = seeds.dims();
    let device = seeds.device();
    let f = l2_normalize(features);
    let k = k.min(m.saturating_sub(1)).max(1);
    // Each image's k nearest others: the top k + 1 include the image itself, with similarity 1.
    let f_t = f.clone().transpose(); // [D, M]
    let (mut sims, mut idx) = (Vec::new(), Vec::new());
    for start in (0..m).step_by(GRAPH_CHUNK) {
        let rows = GRAPH_CHUNK.min(m - start);
        let (s, i) = f.clone().narrow(0, start, rows).matmul(f_t.clone()).topk_with_indices(k + 1, 1); // [rows, k + 1]
        sims.push(s.narrow(1, 1, k));
        idx.push(i.narrow(1, 1, k));
    }
    let affinity = Tensor::cat(sims, 0).clamp_min(0.0).powf_scalar(gamma); // [M, k]
    let neighbours = Tensor::cat(idx, 0).reshape([m * k]); // [M·k], row i's neighbours at i·k..
    let affinity_flat = affinity.clone().reshape([m * k, 1]);
    // W = A + Aᵀ: W·X = A·X (gather the neighbours' rows) + Aᵀ·X (scatter each row to them).
    let apply_w = |x: Tensor<2>| -> Tensor<2> {
        let width = x.dims()[1];
        let gathered = x.clone().select(0, neighbours.clone()).reshape([m, k, width]) * affinity.clone().reshape([m, k, 1]);
        let pulled = gathered.sum_dim(1).reshape([m, width]); // A·X
        let sent = x.reshape([m, 1, width]).expand([m, k, width]).reshape([m * k, width]) * affinity_flat.clone();
        let pushed = Tensor::zeros([m, width], &device).select_assign(0, neighbours.clone(), sent, IndexingUpdateOp::Add); // Aᵀ·X
        pulled + pushed
    };
    let degree = apply_w(Tensor::ones([m, 1], &device)); // [M, 1]
    let scale = degree.clamp_min(1e-12).powf_scalar(-0.5); // D^{−1/2}
    let mut f_prop = seeds.clone();
    for _ in 0..iterations {
        let spread = apply_w(f_prop * scale.clone()) * scale.clone(); // S·F
        f_prop = spread * alpha + seeds.clone() * (1.0 - alpha);
    }
    let f_prop = f_prop.clamp_min(0.0);
    debug_assert_eq!(f_prop.dims(), [m, n_classes]);
    f_prop.clone() / f_prop.sum_dim(1).clamp_min(1e-12)
}

/// Iscen et al.'s weights ([1] eq. 11–12) for propagated rows `z` `[M, K]` (each summing to 1,
/// or all zero): certainty ω = 1 − H(z)/log K times ζ, the inverse frequency of the row's class
/// among the rows, scaled so that a balanced set has ζ = 1. `[M]`; zero rows get 0.
pub fn pseudo_label_weights(z: Tensor<2>) -> Tensor<1> {
    let [m, n_classes] = z.dims();
    let reached = z.clone().sum_dim(1).reshape([m]).greater_elem(0.5).float(); // [M]
    let entropy = (z.clone() * z.clone().clamp_min(1e-12).log()).sum_dim(1).reshape([m]).neg();
    let certainty = (entropy / (n_classes as f64).ln()).neg() + 1.0;
    let hard = one_hot_rows(z.argmax(1).reshape([m]), n_classes) * reached.clone().reshape([m, 1]); // [M, K]
    let counts = hard.clone().sum_dim(0); // [1, K]
    let share = reached.clone().sum().reshape([1, 1]) / n_classes as f64; // a balanced class's count
    let zeta = (hard * (share / counts.clamp_min(1.0))).sum_dim(1).reshape([m]);
    certainty.clamp_min(0.0) * zeta * reached
}

pub struct LabelPropagation {
    config: LabelPropagationConfig,
    flip: bool,
    n_classes: usize,
    train_images: Tensor<4>,
    /// (train index, class) of the labelled images.
    labelled: Vec<(usize, usize)>,
    train_truth: Vec<u8>,
    /// Each rebuild draws its images from this seed and its step, so a resumed run draws the
    /// same graphs as one that never stopped.
    seed: u64,
    /// Accuracy `[1]` of the last graph's labels on its unlabelled images, against the hidden truth.
    last_accuracy: Option<Tensor<1>>,
}

impl LabelPropagation {
    fn is_rebuild_step(&self, step: usize, total_steps: usize) -> bool {
        let first = (self.config.start * total_steps as f64).round() as usize;
        step >= first && (step - first) % self.config.rebuild_every == 0
    }

    /// A new graph over the labelled images and a fresh draw of unlabelled ones, from the
    /// model's current features: the graph's unlabelled images get their propagated labels.
    fn rebuild(&mut self, model: LabelPropagationModel, step: usize, device: &Device) -> LabelPropagationModel {
        let n = self.train_images.dims()[0];
        let labelled: std::collections::HashSet<usize> = self.labelled.iter().map(|&(i, _)| i).collect();
        let mut pool: Vec<usize> = (0..n).filter(|i| !labelled.contains(i)).collect();
        let mut rng = Rng::new(self.seed).fork(format!("label-propagation {step}").as_bytes());
        rng.shuffle(&mut pool);
        pool.truncate(self.config.graph_size);
        if pool.is_empty() {
            return model;
        }
        let n_lb = self.labelled.len();
        let nodes: Vec<usize> = self.labelled.iter().map(|&(i, _)| i).chain(pool.iter().copied()).collect();
        let plain = self.train_images.device();
        let images = self.train_images.clone().select(0, Batch::index_tensor(&nodes, &plain));
        let eval = model.net.valid();
        let features = embed(&eval.backbone, &images); // [M, D]
        let classes: Vec<usize> = self.labelled.iter().map(|&(_, c)| c).collect();
        let seeds = Tensor::cat(
            vec![one_hot_rows(Batch::index_tensor(&classes, &plain), self.n_classes), Tensor::zeros([pool.len(), self.n_classes], &plain)],
            0,
        ); // [M, K]
        let c = &self.config;
        let z = propagate(features, seeds, c.k, c.alpha, c.gamma, c.iterations).narrow(0, n_lb, pool.len()); // [P, K]
        let weights = pseudo_label_weights(z.clone());
        // The accuracy of the propagated labels, over the reached images with a known class
        // (the pack's unlabelled images have none: -1).
        let truth = classes_or_unknown(&self.train_truth, &pool, &plain);
        let reached = weights.clone().greater_elem(0.0).float() * truth.clone().greater_equal_elem(0).float();
        let correct = z.clone().argmax(1).reshape([pool.len()]).equal(truth).float() * reached.clone();
        self.last_accuracy = Some(correct.sum() / reached.sum().clamp_min(1.0));
        let index = Batch::index_tensor(&pool, device);
        LabelPropagationModel {
            labels: model.labels.update(index.clone(), z.autodiff(), 0.0),
            weights: model.weights.update(index, weights.autodiff(), 0.0),
            ..model
        }
    }
}

impl Method for LabelPropagation {
    const META: MethodMeta = MethodMeta {
        id: "label-propagation",
        family: Family::Semi,
        name: "Label Propagation",
        paper: "Iscen et al. Label Propagation for Deep Semi-supervised Learning. CVPR 2019 (after Zhou et al. 2004)",
        link: "https://arxiv.org/abs/1904.04717",
        explanation: "Every so often, the network's features of the labelled images and a few thousand unlabelled ones are \
            joined in a graph: each image is linked to its 10 most similar ones. The labels then flow along the links, \
            like dye through water, until every image has a mix of classes; its strongest class becomes its label. The \
            network is trained on these labels, each weighted by how clear-cut its mix is, and rarer classes weigh more. \
            Better features give a better graph, and a better graph gives better labels. The first 10 % of the run trains \
            on the labelled images only, so that the first graph is not built on random features. The metric \
            propagated_label_acc says how many propagated labels are right.",
        curves: &[Curve::loss("total"), Curve::loss("sup"), Curve::loss("unsup"), Curve::ratio("mask_ratio"), Curve::accuracy("pseudo_label_acc")],
        uses_labels: true,
        optimizer: usb_optimizer,
    };

    type Config = LabelPropagationConfig;
    type Model = LabelPropagationModel;

    fn check(config: &LabelPropagationConfig) -> Result<(), String> {
        in_range("k", config.k, 1, 100)?;
        in_range_f("alpha", config.alpha, 0.0, 0.999)?;
        in_range_f("gamma", config.gamma, 1.0, 10.0)?;
        in_range("iterations", config.iterations, 1, 200)?;
        in_range("graph_size", config.graph_size, 10, 20_000)?;
        in_range("rebuild_every", config.rebuild_every, 1, 10_000)?;
        in_range_f("start", config.start, 0.0, 0.999)?;
        in_range_f("lambda_u", config.lambda_u, 0.0, 100.0)?;
        in_range("mu", config.mu, 1, 16)
    }

    fn footprint(config: &LabelPropagationConfig, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        weak_pass_footprint(config.mu, batch_size, feature_dim, n_classes)
    }

    fn extra_values(config: &LabelPropagationConfig, _batch_size: usize, n_train: usize) -> usize {
        // Labels and weights per training image (100 classes at most), and the graph's
        // similarity block, neighbours and propagated rows.
        let m = config.graph_size + 1000;
        n_train * (100 + 1) + GRAPH_CHUNK * m + m * config.k * 100
    }

    fn new(config: LabelPropagationConfig, setup: &Setup) -> Result<(Self, LabelPropagationModel), String> {
        let model = LabelPropagationModel {
            net: ClassifierModel::new(setup),
            labels: PerSampleRows::zeros(setup.n_train, setup.n_classes, &setup.device),
            weights: PerSample::new(setup.n_train, 0.0, &setup.device),
        };
        let method = LabelPropagation {
            config,
            flip: setup.flip_invariant,
            n_classes: setup.n_classes,
            train_images: setup.train_images.clone(),
            labelled: setup.labelled.clone(),
            train_truth: setup.train_truth.clone(),
            seed: setup.seed,
            last_accuracy: None,
        };
        Ok((method, model))
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        BatchPlan { labelled: batch_size, unlabelled: batch_size * self.config.mu }
    }

    fn loss(&mut self, model: &LabelPropagationModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let (sup, logits_ulb) = weak_pass(|x| model.net.logits(x), batch, self.flip, ctx);
        let n_ulb = logits_ulb.dims()[0];
        let index = Batch::index_tensor(&batch.unlabelled_index, ctx.device);
        let target = model.labels.rows(index.clone()).argmax(1).reshape([n_ulb]);
        let weight = model.weights.rows(index);
        let has_label = weight.clone().greater_elem(0.0).float();
        let unsup = masked_cross_entropy(logits_ulb, target.clone(), weight);
        semi_losses(sup, unsup, self.config.lambda_u, batch, target, Some(has_label))
    }

    /// Rebuild the graph at the first step after `start`, then every `rebuild_every` steps.
    fn after_step(&mut self, model: LabelPropagationModel, ctx: &StepCtx) -> LabelPropagationModel {
        if self.is_rebuild_step(ctx.step, ctx.total_steps) {
            self.rebuild(model, ctx.step, ctx.device)
        } else {
            model
        }
    }

    fn backbone(model: &LabelPropagationModel) -> &Backbone {
        &model.net.backbone
    }

    fn classifier(model: &LabelPropagationModel) -> Option<&Mlp> {
        Some(&model.net.classifier)
    }

    /// How many of the last graph's propagated labels are right, on its unlabelled images.
    fn eval_metrics(&self, _model: &LabelPropagationModel, _images: Tensor<4>, _labels: Tensor<1, Int>) -> Vec<(&'static str, Tag, Tensor<1>)> {
        self.last_accuracy.iter().map(|acc| ("propagated_label_acc", Tag::Accuracy, acc.clone())).collect()
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        weak_views(images, self.flip, rng)
    }
}
