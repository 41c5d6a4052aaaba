//! Exemplar: N seed patches, each a class of its own made of its strongly transformed copies,
//! and a classifier over the N classes.
//!
//! [0] Dosovitskiy, Springenberg, Riedmiller, Brox. "Discriminative Unsupervised Feature
//! Learning with Exemplar Convolutional Neural Networks", NIPS 2014, arXiv:1406.6909. N
//! patches are sampled from unlabelled images where the gradients are large; each becomes a
//! "surrogate class" of its random transformations (translation, scale, rotation, contrast,
//! colour), and a network is trained to tell the N classes apart (§2). The paper uses
//! N = 8,000–32,000 seeds from STL-10 with 32-px patches.
//!
//! Here the seeds are N training images drawn with the run's seed, and each seed's patch is
//! the window of 0.75 of the image's side (21 of 28 px) with the most gradient energy
//! ([`busiest_windows`]); the transformed patch is shown at the image's size, so the
//! backbone sees 28-px inputs as at evaluation. N = 100 by default (at most the training
//! pool): at 64 images a step each class is seen about 640 times in 1,000 steps, which short
//! runs need (see `classes`).
use super::super::{accuracy, Batch, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use crate::augment::exemplar::{busiest_windows, ExemplarViews};
use crate::backbone::Backbone;
use crate::bounds::{in_range, in_range_f};
use crate::eval::{in_chunks, EMBED_CHUNK};
use crate::heads::{check_hidden, Mlp};
use crate::loss::cross_entropy;
use crate::optim::OptimConfig;
use crate::rng::Rng;
use burn::prelude::*;

/// Transformed samples per seed in the held-out check, and seeds shown in the preview.
const HELD_OUT_PER_CLASS: usize = 2;
const PREVIEW_COPIES: usize = 3;

#[derive(Config, Debug)]
pub struct ExemplarConfig {
    /// N, the number of seed images and so of surrogate classes (paper 8,000–32,000); at
    /// most the training pool. 2..=60000. Short runs favour few classes, each seen often:
    /// best-layer kNN at 1,000 steps of 64 with a linear head (untrained 78.45): N = 100 →
    /// 78.65, 300 → 77.65, 1,000 → 77.5.
    #[config(default = 100)]
    pub classes: usize,
    /// Side of a seed patch as a fraction of the image side. [0.3, 1].
    #[config(default = 0.75)]
    pub patch_fraction: f64,
    /// The transformations that make each class.
    #[config(default = "ExemplarViews::default()")]
    pub views: ExemplarViews,
    /// Hidden widths of the head before the N-way layer. At most 3 layers of 1..=4096. The
    /// paper's network has a fully connected layer before its softmax. Best-layer kNN at
    /// 1,000 steps (untrained 78.45): a linear head 78.65, one hidden layer of 256 80.85,
    /// likely for the reason SimCLR's projection head helps: the head, not the backbone's
    /// last stage, takes on what is specific to the surrogate classes.
    #[config(default = "vec![256]")]
    pub head_hidden: Vec<usize>,
}

impl Default for ExemplarConfig {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Module, Debug)]
pub struct ExemplarModel {
    pub backbone: Backbone,
    pub head: Mlp,
}

pub struct Exemplar {
    config: ExemplarConfig,
    /// The seed images `[N, C, H, W]` (plain device) and their patch centres `[N, 2]`.
    seeds: Tensor<4>,
    centres: Tensor<2>,
    /// Train-split index of each seed.
    pub seed_index: Vec<usize>,
    /// The run's seed, for the held-out samples' fixed stream.
    run_seed: u64,
}

/// The train-split indices of the N seed images: a sample without replacement drawn from the
/// run's seed, so the classes are the same for the same seed.
pub fn seed_indices(n_train: usize, classes: usize, seed: u64) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n_train).collect();
    Rng::new(seed).fork(b"exemplar seeds").shuffle(&mut all);
    all.truncate(classes.min(n_train));
    all
}

/// The class head's widths on backbone features of width `feature_dim`.
pub fn head_widths(config: &ExemplarConfig, feature_dim: usize, classes: usize) -> Vec<usize> {
    let mut widths = vec![feature_dim];
    widths.extend(&config.head_hidden);
    widths.push(classes);
    widths
}

/// SGD with Nesterov momentum, weight decay 5e-4, lr 0.05 and a cosine schedule (the paper:
/// SGD with momentum and dropout; short runs take a higher rate).
fn optimizer() -> OptimConfig {
    OptimConfig::sgd(0.05, 5e-4)
}

impl Exemplar {
    /// The task without a model: draws the seeds and finds their patches (Multi-task shares
    /// one).
    pub fn task(config: ExemplarConfig, setup: &Setup) -> Result<Self, String> {
        if setup.n_train < 2 {
            return Err(format!("Exemplar needs at least 2 training images for 2 classes, got {}", setup.n_train));
        }
        let seed_index = seed_indices(setup.n_train, config.classes, setup.seed);
        let plain = setup.train_images.device();
        let seeds = setup.train_images.clone().select(0, Batch::index_tensor(&seed_index, &plain));
        let window = (config.patch_fraction * setup.height.min(setup.width_px) as f64).round() as usize;
        let centres = busiest_windows(seeds.clone(), window);
        Ok(Exemplar { config, seeds, centres, seed_index, run_seed: setup.seed })
    }

    /// `b` classes drawn at random and one member of each `[b, C, H, W]` (plain device): the
    /// inputs of a step, whatever images the batch drew.
    pub fn draw(&self, b: usize, rng: &mut Rng) -> (Vec<usize>, Tensor<4>) {
        let classes: Vec<usize> = (0..b).map(|_| rng.below(self.n_classes())).collect();
        let members = self.members(&classes, Some(rng));
        (classes, members)
    }

    /// Held-out accuracy: new random members of every class (two each, up to 2,000), from a
    /// fixed stream, so every evaluation asks the same questions. Test images are not used:
    /// Exemplar's classes are its seeds.
    pub fn held_out(&self, backbone: &Backbone, head: &Mlp) -> Tensor<1> {
        let n = (HELD_OUT_PER_CLASS * self.n_classes()).min(2000);
        let classes: Vec<usize> = (0..n).map(|i| i % self.n_classes()).collect();
        let mut rng = Rng::new(self.run_seed).fork(b"exemplar held-out");
        let members = self.members(&classes, Some(&mut rng));
        let logits = in_chunks(&members, EMBED_CHUNK, |x| head.forward(backbone.forward(x)));
        accuracy(logits, Batch::index_tensor(&classes, &members.device()))
    }

    /// The preview: seed patches, then members of their classes.
    pub fn preview(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        let shown: Vec<usize> = (0..images.dims()[0].min(self.n_classes())).collect();
        let mut views = vec![("seed patches (classes 0, 1, …)".to_string(), self.members(&shown, None))];
        for copy in 1..=PREVIEW_COPIES {
            views.push((format!("class members, draw {copy}"), self.members(&shown, Some(rng))));
        }
        views
    }

    /// One random member of the class of each seed in `classes` `[B]`.
    fn members(&self, classes: &[usize], rng: Option<&mut Rng>) -> Tensor<4> {
        let device = self.seeds.device();
        let index = Batch::index_tensor(classes, &device);
        let seeds = self.seeds.clone().select(0, index.clone());
        let centres = self.centres.clone().select(0, index);
        self.config.views.sample(seeds, centres, self.config.patch_fraction as f32, rng)
    }

    pub fn n_classes(&self) -> usize {
        self.seed_index.len()
    }
}

impl Method for Exemplar {
    const META: MethodMeta = MethodMeta {
        id: "exemplar",
        family: Family::Pretext,
        name: "Exemplar CNN",
        paper: "Dosovitskiy, Springenberg, Riedmiller, Brox. Discriminative Unsupervised Feature Learning with Exemplar Convolutional Neural Networks. NIPS 2014",
        link: "https://arxiv.org/abs/1406.6909",
        explanation: "N images are picked as seeds, and from each a patch where the image is busiest (the most edges). \
            Every seed becomes a class of its own, made of copies of its patch that are shifted, scaled, rotated and \
            changed in contrast and colour. The network must say which seed a copy came from, so it has to ignore what \
            the transformations change and keep what they do not: the shapes that make the seed itself. Scaled here: \
            100 seeds (the paper 8,000–32,000; fewer classes, each seen more often, suit short runs) with patches of \
            three quarters of the image, shown at the image's size.",
        curves: &[Curve::loss("total"), Curve::accuracy("exemplar_acc")],
        uses_labels: false,
        optimizer,
    };

    type Config = ExemplarConfig;
    type Model = ExemplarModel;

    fn check(config: &ExemplarConfig) -> Result<(), String> {
        in_range("classes", config.classes, 2, 60_000)?;
        in_range_f("patch_fraction", config.patch_fraction, 0.3, 1.0)?;
        config.views.check()?;
        check_hidden(&config.head_hidden, 3)
    }

    fn footprint(config: &ExemplarConfig, batch_size: usize, feature_dim: usize, _n_classes: usize) -> Footprint {
        Footprint { extra_values: 0, forward_images: batch_size, heads: vec![head_widths(config, feature_dim, config.classes)] }
    }

    fn extra_values(config: &ExemplarConfig, batch_size: usize, n_train: usize) -> usize {
        // The N-way logits with their softmax and gradient.
        3 * batch_size * config.classes.min(n_train)
    }

    fn new(config: ExemplarConfig, setup: &Setup) -> Result<(Self, ExemplarModel), String> {
        let task = Exemplar::task(config, setup)?;
        let backbone = setup.backbone();
        let head = Mlp::new(&head_widths(&task.config, backbone.out_dim(), task.n_classes()), &setup.device);
        Ok((task, ExemplarModel { backbone, head }))
    }

    fn loss(&mut self, model: &ExemplarModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        // The batch's images are not used: each step draws B classes and one member of each.
        let b = batch.unlabelled.as_ref().map_or(0, |x| x.dims()[0]).max(1);
        let (classes, x) = self.draw(b, ctx.rng);
        let logits = model.head.forward(model.backbone.forward(ctx.to_model(x)));
        let targets = Batch::index_tensor(&classes, ctx.device);
        let acc = accuracy(logits.clone().detach(), targets.clone());
        Losses::new(cross_entropy(logits, targets)).with("exemplar_acc", acc)
    }

    fn backbone(model: &ExemplarModel) -> &Backbone {
        &model.backbone
    }

    fn pretext_accuracy(&self, model: &ExemplarModel, _images: Tensor<4>) -> Option<Tensor<1>> {
        Some(self.held_out(&model.backbone, &model.head))
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        self.preview(images, rng)
    }
}
