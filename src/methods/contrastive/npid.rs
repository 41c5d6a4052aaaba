//! NPID, instance discrimination: every training image is its own class, and a memory bank
//! holds one feature per image as the "class weight" a non-parametric softmax compares with.
//!
//! [0] Wu, Xiong, Yu, Lin. "Unsupervised Feature Learning via Non-Parametric Instance
//! Discrimination", CVPR 2018, arXiv:1805.01978: "P(i|v) = exp(v_iᵀv/τ) / Σ_j exp(v_jᵀv/τ)"
//! with τ = 0.07 and the memory bank V updated with each image's new feature; NCE with m noise
//! samples approximates the softmax when N is large (§3.2), and a proximal term
//! λ‖v_i^(t) − v_i^(t−1)‖² steadies training (§3.3).
//! [1] Wu, Efros, Yu. "Improving Generalization via Scalable Neighborhood Component Analysis",
//! ECCV 2018, arXiv:1808.04699, keeps the same memory bank with the same proximal term.
//!
//! N is at most 60,000 here, so the full softmax (a `[B, N]` matrix) is the default and NCE
//! an option. NCE's normalising constant Z is estimated from each batch's noise samples
//! (Z ≈ N·mean exp(vᵀf/τ)) instead of being fixed after the first batch, so no host state
//! is needed. The bank starts as the untrained network's features rather than at random (see
//! `new`), since these runs are about one epoch long.
//!
//! The rolling refresh is ours, scaled from the paper's staleness. There an entry is updated
//! when its image is drawn, once an epoch: at most ~200 steps old on CIFAR's 50,000 images
//! in batches of 256. A run here draws each image about once in 1,000 steps, so every
//! positive would still be the untrained network's feature: the loss then teaches the
//! network to reproduce its untrained self, and kNN fell (77.55 against 78.45 untrained).
//! Re-embedding a slice of N/R clean images after each step keeps every entry at most R
//! steps old, as in the paper, for R/N of a forward pass per image. The bank lives in the model ([`super::super::memory::MemoryBank`]), so
//! checkpoints and "Resume on CPU" carry it.
use super::super::memory::MemoryBank;
use super::super::{Curve, Batch, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use crate::augment::SimclrViews;
use crate::backbone::Backbone;
use crate::eval::{in_chunks, EMBED_CHUNK};
use crate::heads::{Mlp, MAX_HEAD_WIDTH};
use crate::bounds::{in_range, in_range_f};
use crate::loss::{cross_entropy, l2_normalize, nce};
use crate::optim::{OptimConfig, OptimKind};
use crate::rng::Rng;
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct NpidConfig {
    /// τ of the non-parametric softmax (paper: 0.07). [0.001, 10]. 0.1 here: with the
    /// proximal term off, 0.1 → 77.55 and 0.2 → 77.5 best-layer kNN at 1,000 steps.
    #[config(default = 0.1)]
    pub temperature: f64,
    /// Feature size D of the bank (paper: 128). 1..=4096.
    #[config(default = 64)]
    pub feature_dim: usize,
    /// Use NCE with `nce_negatives` noise samples instead of the full softmax over N.
    #[config(default = false)]
    pub nce: bool,
    /// m, NCE's noise samples per step (paper: 4,096). 1..=65536.
    #[config(default = 4096)]
    pub nce_negatives: usize,
    /// Momentum of the bank update v_i ← normalise(m·v_i + (1 − m)·f_i) (the authors' code:
    /// 0.5). [0, 1).
    #[config(default = 0.5)]
    pub bank_momentum: f64,
    /// λ of the proximal term λ‖f_i − v_i‖² (0 = off). [0, 100]. Off by default: measured before the refresh, in runs of about one epoch v_i was still the untrained
    /// network's feature, and pulling towards it cost kNN (1,000 steps, τ = 0.1: λ = 0.5 →
    /// 75.3, λ = 0 → 77.55; untrained 78.45).
    #[config(default = 0.0)]
    pub proximal: f64,
    /// Re-embed the whole bank with the current network over this many steps, a slice of
    /// N/`refresh_steps` clean images after every step (0 = off, as the paper: an entry
    /// changes only when its image is drawn). [0, 100000]. Measured at 1,000 steps (seed 1,
    /// untrained 78.45): 0 → 77.55, 200 → 79.35, 100 → 80.8, 50 → 78.15.
    #[config(default = 100)]
    pub refresh_steps: usize,
    /// The paper's augmentation: random resized crop, colour jitter, greyscale, flip.
    #[config(default = "SimclrViews::default()")]
    pub views: SimclrViews,
}

impl Default for NpidConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// Backbone, a linear head to D, and the memory bank `[N, D]`.
#[derive(Module, Debug)]
pub struct NpidModel {
    pub backbone: Backbone,
    pub head: Mlp,
    pub bank: MemoryBank,
}

pub struct Npid {
    config: NpidConfig,
    /// The training images, for the bank's rolling refresh.
    train_images: Tensor<4>,
    /// This step's indices and features, written to the bank after the optimizer step.
    pending: Option<(Tensor<1, Int>, Tensor<2>)>,
}

/// SGD, momentum 0.9, weight decay 5e-4, lr 0.03 ([0] §4).
fn optimizer() -> OptimConfig {
    OptimConfig { kind: OptimKind::Sgd, lr: 0.03, momentum: 0.9, nesterov: false, weight_decay: 5e-4, warmup: 0.0, cosine: true }
}

impl Method for Npid {
    const META: MethodMeta = MethodMeta {
        id: "npid",
        family: Family::Contrastive,
        name: "NPID (instance discrimination)",
        paper: "Wu, Xiong, Yu, Lin. Unsupervised Feature Learning via Non-Parametric Instance Discrimination. CVPR 2018",
        link: "https://arxiv.org/abs/1805.01978",
        explanation: "Every training image is treated as a class of its own. A memory bank keeps one feature per image; \
            the network's feature of an image must be most similar to that image's own entry in the bank, against every \
            other image's entry (a softmax over all N images, with temperature 0.1), and the entry is then moved towards \
            the new feature. Images that look alike end up close even though no label ever said so. Scaled here: \
            64-dimensional features instead of 128, the full softmax by default since N is at most 60,000, temperature \
            0.1 instead of 0.07, and, because a run here is about one epoch long and an entry would otherwise still hold \
            the untrained network's feature, the bank is re-embedded with the current network every 100 steps (a slice \
            after each step) and the proximal term (which pulls each feature towards its entry) is off.",
        curves: &[Curve::loss("total"), Curve::loss("instance"), Curve::loss("proximal")],
        uses_labels: false,
        optimizer,
    };
    type Config = NpidConfig;
    type Model = NpidModel;

    fn check(config: &NpidConfig) -> Result<(), String> {
        in_range_f("temperature", config.temperature, 1e-3, 10.0)?;
        in_range("feature_dim", config.feature_dim, 1, MAX_HEAD_WIDTH)?;
        in_range("nce_negatives", config.nce_negatives, 1, 65_536)?;
        in_range_f("bank_momentum", config.bank_momentum, 0.0, 0.999)?;
        in_range_f("proximal", config.proximal, 0.0, 100.0)?;
        in_range("refresh_steps", config.refresh_steps, 0, 100_000)?;
        config.views.check()
    }

    fn footprint(config: &NpidConfig, batch_size: usize, feature_dim: usize, _n_classes: usize) -> Footprint {
        Footprint { extra_values: 0, forward_images: batch_size, heads: vec![vec![feature_dim, config.feature_dim]] }
    }

    fn extra_values(config: &NpidConfig, batch_size: usize, n_train: usize) -> usize {
        let compared = if config.nce { config.nce_negatives } else { n_train };
        // The bank, and the [B, N or m] logits with their softmax and gradient.
        n_train * config.feature_dim + 3 * batch_size * compared
    }

    fn new(mut config: NpidConfig, setup: &Setup) -> Result<(Self, NpidModel), String> {
        if !setup.flip_invariant {
            config.views.flip_p = 0.0;
        }
        let backbone = setup.backbone();
        let head = Mlp::new(&[backbone.out_dim(), config.feature_dim], &setup.device);
        // The paper starts from a random bank and trains 200 epochs; a run here may not see
        // every image even once, and a random row would be a target no feature can reach. So
        // the bank starts as the untrained network's features of every training image.
        let (b, h) = (backbone.valid(), head.valid());
        let features = in_chunks(&setup.train_images, EMBED_CHUNK, |x| h.forward(b.forward(x)));
        let bank = MemoryBank::from_features(features.autodiff()); // [N, D]
        Ok((Npid { config, train_images: setup.train_images.clone(), pending: None }, NpidModel { backbone, head, bank }))
    }

    fn loss(&mut self, model: &NpidModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let x = batch.unlabelled.clone().expect("NPID draws unlabelled images");
        let view = self.config.views.view(x, ctx.rng);
        let f = l2_normalize(model.head.forward(model.backbone.forward(ctx.to_model(view)))); // [B, D]
        let index = Batch::index_tensor(&batch.unlabelled_index, ctx.device);
        let own = model.bank.rows(index.clone()); // [B, D], v_i from the last visit
        let tau = self.config.temperature;
        let instance = if self.config.nce {
            // NCE with m noise rows drawn uniformly from the bank.
            let n = bank_rows(model);
            let noise_index: Vec<usize> = (0..self.config.nce_negatives).map(|_| ctx.rng.below(n)).collect();
            let noise = model.bank.rows(Batch::index_tensor(&noise_index, ctx.device)); // [m, D]
            let positive = (f.clone() * own.clone()).sum_dim(1); // [B, 1]
            nce(positive, f.clone().matmul(noise.transpose()), tau, n)
        } else {
            // Full softmax over the bank: logits [B, N], the target is the image's own row.
            let logits = f.clone().matmul(model.bank.all().transpose()) / tau; // [B, N]
            cross_entropy(logits, index.clone())
        };
        let proximal = (f.clone() - own).square().sum_dim(1).mean(); // ‖f_i − v_i‖², [1]
        let total = instance.clone() + proximal.clone() * self.config.proximal;
        self.pending = Some((index, f.detach()));
        Losses::new(total).with("instance", instance).with("proximal", proximal)
    }

    fn after_step(&mut self, model: NpidModel, ctx: &StepCtx) -> NpidModel {
        let model = match self.pending.take() {
            Some((index, features)) => {
                let bank = model.bank.update(index, features, self.config.bank_momentum);
                NpidModel { bank, ..model }
            }
            None => model,
        };
        self.refresh(model, ctx.step, ctx.device)
    }

    fn backbone(model: &NpidModel) -> &Backbone {
        &model.backbone
    }

    fn embedding(model: &NpidModel, images: Tensor<4>) -> Option<Tensor<2>> {
        Some(model.head.forward(model.backbone.forward(images)))
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        vec![("view".into(), self.config.views.view(images, rng))]
    }
}

impl Npid {
    /// The rolling refresh: step s re-embeds rows [s mod R · c, + c) of the bank, c = ⌈N/R⌉,
    /// with the current network on clean images, so no entry is more than R steps old. The
    /// slice follows from the step alone, so a resumed run refreshes the same rows.
    fn refresh(&self, model: NpidModel, step: usize, device: &Device) -> NpidModel {
        let (n, r) = (bank_rows(&model), self.config.refresh_steps);
        if r == 0 || n == 0 {
            return model;
        }
        let chunk = n.div_ceil(r);
        let start = (step % r) * chunk;
        if start >= n {
            return model;
        }
        let len = chunk.min(n - start);
        let images = self.train_images.clone().narrow(0, start, len);
        let (b, h) = (model.backbone.valid(), model.head.valid());
        let features = in_chunks(&images, EMBED_CHUNK, |x| h.forward(b.forward(x))); // [len, D]
        let index = Batch::index_tensor(&(start..start + len).collect::<Vec<_>>(), device);
        let bank = model.bank.update(index, features.autodiff(), 0.0);
        NpidModel { bank, ..model }
    }
}

/// N, the bank's rows.
fn bank_rows(model: &NpidModel) -> usize {
    model.bank.features.val().dims()[0]
}
