//! Multi-task: one shared backbone trained by several pretext tasks at once, each with its
//! own head, weight and on/off switch.
//!
//! [0] Doersch, Zisserman. "Multi-task Self-Supervised Visual Learning", ICCV 2017,
//! arXiv:1708.07860. Relative position, colourisation, exemplar and motion segmentation
//! heads on one ResNet trunk; the combination beat every single task. The paper trains each
//! task on its own workers with its own batches and sums their gradients into the shared
//! trunk. Here one step puts the drawn batch through every enabled task and backpropagates
//! the weighted sum of their losses once.
//!
//! The tasks are this crate's single-task methods, sharing their transforms and settings:
//! rotation ([`super::rotnet`], Gidaris et al. 2018, which the paper predates), relative
//! position ([`super::context_prediction`]), jigsaw ([`super::jigsaw`]), exemplar
//! ([`super::exemplar`]), and colourisation on colour data ([`crate::augment::colour`]):
//! from the grey image, predict each cell's colour class on the backbone's last feature map
//! (7×7 at 28 px), as the paper's colourisation head does after Zhang et al. 2016, without
//! their class rebalancing. The paper's motion segmentation needs video and is left out; so
//! is its "lasso", which learns which trunk layer each head reads.
//!
//! Patches and tiles are smaller than the images and go through the backbone in their own
//! passes; the rotations, exemplar members and grey images share one full-size pass, run
//! last so that BatchNorm's running statistics, which evaluation uses, lean towards
//! full-size images (each pass moves them a tenth of the way).
//!
//! The default mix is rotation and position, plus colourisation on colour data. Best-layer
//! kNN after 1,000 steps of 64 on Fashion-MNIST, `small-cnn` width 16, seed 1 (untrained
//! 78.45): rotation + position 84.15, against rotation alone (RotNet) 82.5 and position alone
//! 80.5; all four grey tasks 83.45 (each task learned: 93.7 % of held-out rotations, 75.2 %
//! of positions, 81.6 % of puzzles, 77.0 % of new exemplar members). With exemplar's former
//! linear head the four fell to 79.45 (last layer 76.4, below the untrained one). Jigsaw and
//! exemplar are one switch away, and each adds a backbone pass to the step.
use super::super::{accuracy, Batch, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx, Tag};
use super::context_prediction::{self, ContextPrediction, ContextPredictionConfig};
use super::exemplar::{self, Exemplar, ExemplarConfig};
use super::jigsaw::{self, Jigsaw, JigsawConfig};
use super::rotnet::{self, four_rotations, training_rotations, RotNetConfig};
use crate::augment::colour::{chroma_classes, grey, paint};
use crate::augment::ops::{luma, rot90};
use crate::augment::patches::mosaic;
use crate::backbone::{global_pool, Backbone};
use crate::bounds::{in_range, in_range_f};
use crate::eval::{in_chunks, EMBED_CHUNK};
use crate::heads::{check_hidden, Mlp};
use crate::loss::cross_entropy;
use crate::optim::OptimConfig;
use crate::rng::Rng;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// One task of the mix: whether it runs, how much its loss counts, and its own settings,
/// side by side in one JSON object (`{"enabled": true, "weight": 1, "permutations": 100}`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Task<C> {
    pub enabled: bool,
    /// Factor on the task's loss in the sum, in (0, 100].
    pub weight: f64,
    #[serde(flatten)]
    pub settings: C,
}

impl<C: Default> Default for Task<C> {
    fn default() -> Self {
        Task { enabled: true, weight: 1.0, settings: C::default() }
    }
}

impl<C: Default> Task<C> {
    /// The task with its defaults, switched off.
    pub fn off() -> Self {
        Task { enabled: false, ..Task::default() }
    }
}

/// Colourisation's own settings.
#[derive(Config, Debug)]
pub struct ColourisationConfig {
    /// Steps per colour difference (Cb, Cr): the head picks one of bins² colour classes per
    /// cell. 2..=16.
    #[config(default = 8)]
    pub bins: usize,
    /// Hidden widths of the per-cell head. At most 3 layers of 1..=4096.
    #[config(default = "vec![128]")]
    pub head_hidden: Vec<usize>,
}

impl Default for ColourisationConfig {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Config, Debug)]
pub struct MultiTaskConfig {
    /// Which of four rotations the image shows (RotNet's task and settings).
    #[config(default = "Task::default()")]
    pub rotation: Task<RotNetConfig>,
    /// Where a patch sits relative to the centre patch (Context Prediction's).
    #[config(default = "Task::default()")]
    pub position: Task<ContextPredictionConfig>,
    /// Which permutation shuffled nine tiles (Jigsaw's). Off by default (see the module's note on the mix).
    #[config(default = "Task::off()")]
    pub jigsaw: Task<JigsawConfig>,
    /// Which seed image a transformed patch came from (Exemplar's). Off by default.
    #[config(default = "Task::off()")]
    pub exemplar: Task<ExemplarConfig>,
    /// The colour of each region of a grey image. Runs on colour data only: greyscale data
    /// has no colour to predict, and the task is left out there.
    #[config(default = "Task::default()")]
    pub colourisation: Task<ColourisationConfig>,
}

impl Default for MultiTaskConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The shared backbone and one head per task; a task that does not run has none.
#[derive(Module, Debug)]
pub struct MultiTaskModel {
    pub backbone: Backbone,
    pub rotation: Option<Mlp>,
    pub position: Option<Mlp>,
    pub jigsaw: Option<Mlp>,
    pub exemplar: Option<Mlp>,
    pub colourisation: Option<Mlp>,
}

/// A task's curves: its loss and its training accuracy.
struct TaskCurves {
    loss: &'static str,
    acc: &'static str,
    held_out: &'static str,
}

const ROTATION: TaskCurves = TaskCurves { loss: "rotation", acc: "rotation_acc", held_out: "held_out_rotation_acc" };
const POSITION: TaskCurves = TaskCurves { loss: "position", acc: "position_acc", held_out: "held_out_position_acc" };
const JIGSAW: TaskCurves = TaskCurves { loss: "jigsaw", acc: "permutation_acc", held_out: "held_out_permutation_acc" };
const EXEMPLAR: TaskCurves = TaskCurves { loss: "exemplar", acc: "exemplar_acc", held_out: "held_out_exemplar_acc" };
const COLOUR: TaskCurves = TaskCurves { loss: "colourisation", acc: "colour_acc", held_out: "held_out_colour_acc" };
/// Every task, in the order their curves are listed.
const TASKS: [&TaskCurves; 5] = [&ROTATION, &POSITION, &JIGSAW, &EXEMPLAR, &COLOUR];

pub struct MultiTask {
    config: MultiTaskConfig,
    /// Whether a mirror image keeps the class, for the rotation task's flips.
    flip: bool,
    /// The tasks that run, with what they hold (Exemplar's seeds).
    rotation: bool,
    position: Option<ContextPrediction>,
    jigsaw: Option<Jigsaw>,
    exemplar: Option<Exemplar>,
    /// Colourisation runs (enabled, on colour data), over a last feature map of this size.
    colour_grid: Option<[usize; 2]>,
}

/// Colour-class logits `[N·h·w, bins²]` of every cell of a feature map `[N, D, h, w]`, image
/// by image, row by row (the order [`chroma_classes`] gives its targets in).
fn cell_logits(head: &Mlp, map: Tensor<4>) -> Tensor<2> {
    let [n, d, h, w] = map.dims();
    head.forward(map.permute([0, 2, 3, 1]).reshape([n * h * w, d])) // [N, h, w, D] → [N·h·w, D]
}

fn colour_head_widths(config: &ColourisationConfig, map_channels: usize) -> Vec<usize> {
    let mut widths = vec![map_channels];
    widths.extend(&config.head_hidden);
    widths.push(config.bins * config.bins);
    widths
}

/// Cells of the largest last feature map (64-px images, downsampled by 4), for the memory bound.
const MAX_CELLS: usize = 16 * 16;

/// SGD with Nesterov momentum, weight decay 5e-4, lr 0.05 and a cosine schedule, as the
/// single tasks use (the paper: RMSProp on 64 GPUs; short runs take SGD's rate here).
fn optimizer() -> OptimConfig {
    OptimConfig::sgd(0.05, 5e-4)
}

impl MultiTask {
    /// The tasks that run, in the order their curves are listed.
    fn running(&self) -> Vec<&'static TaskCurves> {
        let on = [self.rotation, self.position.is_some(), self.jigsaw.is_some(), self.exemplar.is_some(), self.colour_grid.is_some()];
        TASKS.into_iter().zip(on).filter(|(_, on)| *on).map(|(t, _)| t).collect()
    }

    /// Held-out accuracy of every running task on clean `images`, by task.
    fn held_out(&self, model: &MultiTaskModel, images: Tensor<4>) -> Vec<(&'static TaskCurves, Tensor<1>)> {
        let backbone = &model.backbone;
        let mut accs = Vec::new();
        if let Some(head) = &model.rotation {
            let (rotated, labels) = four_rotations(images.clone());
            accs.push((&ROTATION, accuracy(in_chunks(&rotated, EMBED_CHUNK, |x| head.forward(backbone.forward(x))), labels)));
        }
        if let (Some(task), Some(head)) = (&self.position, &model.position) {
            accs.push((&POSITION, task.held_out(backbone, head, images.clone())));
        }
        if let (Some(task), Some(head)) = (&self.jigsaw, &model.jigsaw) {
            accs.push((&JIGSAW, task.held_out(backbone, head, images.clone())));
        }
        if let (Some(task), Some(head)) = (&self.exemplar, &model.exemplar) {
            accs.push((&EXEMPLAR, task.held_out(backbone, head)));
        }
        if let (Some(grid), Some(head)) = (self.colour_grid, &model.colourisation) {
            let logits = in_chunks(&images, EMBED_CHUNK, |x| cell_logits(head, last_map(backbone, grey(x))));
            accs.push((&COLOUR, accuracy(logits, chroma_classes(images, grid, self.config.colourisation.settings.bins))));
        }
        accs
    }
}

/// The backbone's last stage `[N, D, h, w]` of `x`.
fn last_map(backbone: &Backbone, x: Tensor<4>) -> Tensor<4> {
    backbone.stages(x).pop().expect("a backbone has at least one stage")
}

impl Method for MultiTask {
    const META: MethodMeta = MethodMeta {
        id: "multi-task",
        family: Family::Pretext,
        name: "Multi-task self-supervision",
        paper: "Doersch, Zisserman. Multi-task Self-Supervised Visual Learning. ICCV 2017",
        link: "https://arxiv.org/abs/1708.07860",
        explanation: "One network learns several made-up tasks at once: which way the image was turned, where a patch \
            sits next to the centre patch, how nine shuffled tiles go back together, which seed image a distorted \
            patch came from, and, on colour images, what colour each region of the grey image was. Every task has its \
            own small head on the shared network, and the network must serve them all, so it keeps what each task \
            needs. Each task can be switched off or weighted, and has its own loss and accuracy curves. The paper \
            combined relative position, colourisation, exemplar and motion segmentation (which needs video, so it is \
            left out here); rotation and jigsaw are the other pretext methods of this playground. By default rotation \
            and position run (with colourisation on colour images): together they beat either alone here, while adding \
            jigsaw and exemplar made the features worse in short runs. Switch them on to see it.",
        curves: &[
            Curve::loss("total"),
            Curve::loss("rotation"),
            Curve::loss("position"),
            Curve::loss("jigsaw"),
            Curve::loss("exemplar"),
            Curve::loss("colourisation"),
            Curve::accuracy("rotation_acc"),
            Curve::accuracy("position_acc"),
            Curve::accuracy("permutation_acc"),
            Curve::accuracy("exemplar_acc"),
            Curve::accuracy("colour_acc"),
        ],
        uses_labels: false,
        optimizer,
    };

    type Config = MultiTaskConfig;
    type Model = MultiTaskModel;

    fn check(config: &MultiTaskConfig) -> Result<(), String> {
        let c = config;
        for (name, enabled, weight) in [
            ("rotation", c.rotation.enabled, c.rotation.weight),
            ("position", c.position.enabled, c.position.weight),
            ("jigsaw", c.jigsaw.enabled, c.jigsaw.weight),
            ("exemplar", c.exemplar.enabled, c.exemplar.weight),
            ("colourisation", c.colourisation.enabled, c.colourisation.weight),
        ] {
            in_range_f(&format!("{name}.weight"), weight, 0.0, 100.0)?;
            if enabled && weight == 0.0 {
                return Err(format!("{name}.weight = 0 trains nothing; to leave the task out, set {name}.enabled to false"));
            }
        }
        if ![c.rotation.enabled, c.position.enabled, c.jigsaw.enabled, c.exemplar.enabled, c.colourisation.enabled].contains(&true) {
            return Err("has every task switched off; enable at least one of rotation, position, jigsaw, exemplar, colourisation".into());
        }
        let prefixed = |task: &str, r: Result<(), String>| r.map_err(|e| format!("{task}.{e}"));
        prefixed("rotation", check_hidden(&c.rotation.settings.head_hidden, 4))?;
        prefixed("position", ContextPrediction::check(&c.position.settings))?;
        prefixed("jigsaw", Jigsaw::check(&c.jigsaw.settings))?;
        prefixed("exemplar", Exemplar::check(&c.exemplar.settings))?;
        prefixed("colourisation", in_range("bins", c.colourisation.settings.bins, 2, 16))?;
        prefixed("colourisation", check_hidden(&c.colourisation.settings.head_hidden, 3))
    }

    fn footprint(config: &MultiTaskConfig, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        let mut total = Footprint { forward_images: 0, heads: Vec::new(), extra_values: 0 };
        let mut add = |enabled: bool, part: Footprint| {
            if enabled {
                total.forward_images += part.forward_images;
                total.heads.extend(part.heads);
            }
        };
        let c = config;
        add(c.rotation.enabled, rotnet::RotNet::footprint(&c.rotation.settings, batch_size, feature_dim, n_classes));
        add(c.position.enabled, ContextPrediction::footprint(&c.position.settings, batch_size, feature_dim, n_classes));
        add(c.jigsaw.enabled, Jigsaw::footprint(&c.jigsaw.settings, batch_size, feature_dim, n_classes));
        add(c.exemplar.enabled, Exemplar::footprint(&c.exemplar.settings, batch_size, feature_dim, n_classes));
        // Colourisation: the grey images, and a head on the last map (as wide as the features).
        let colour = Footprint { forward_images: batch_size, heads: vec![colour_head_widths(&c.colourisation.settings, feature_dim)], extra_values: 0 };
        add(c.colourisation.enabled, colour);
        total
    }

    fn extra_values(config: &MultiTaskConfig, batch_size: usize, n_train: usize) -> usize {
        let exemplar = if config.exemplar.enabled { Exemplar::extra_values(&config.exemplar.settings, batch_size, n_train) } else { 0 };
        // Per-cell colour logits with their softmax and gradient.
        let bins = config.colourisation.settings.bins;
        let colour = if config.colourisation.enabled { 3 * batch_size * MAX_CELLS * bins * bins } else { 0 };
        exemplar + colour
    }

    fn new(config: MultiTaskConfig, setup: &Setup) -> Result<(Self, MultiTaskModel), String> {
        let colour_data = setup.channels == 3;
        if !colour_data && config.colourisation.enabled && ![config.rotation.enabled, config.position.enabled, config.jigsaw.enabled, config.exemplar.enabled].contains(&true) {
            return Err("Multi-task has only colourisation enabled, and this dataset is greyscale: there is no colour to predict. Choose a colour dataset or enable another task".into());
        }
        let rotation = config.rotation.enabled;
        if rotation && setup.height != setup.width_px {
            return Err(format!("Multi-task's rotation task needs square images, got {}×{}; switch it off (rotation.enabled = false)", setup.height, setup.width_px));
        }
        let backbone = setup.backbone();
        let d = backbone.out_dim();
        let device = &setup.device;
        let head = |enabled: bool, widths: Vec<usize>| enabled.then(|| Mlp::new(&widths, device));
        let position = config.position.enabled.then(|| ContextPrediction::task(config.position.settings.clone(), setup.channels));
        let jigsaw = config.jigsaw.enabled.then(|| Jigsaw::task(config.jigsaw.settings.clone()));
        let exemplar = if config.exemplar.enabled { Some(Exemplar::task(config.exemplar.settings.clone(), setup)?) } else { None };
        let colour_grid = (colour_data && config.colourisation.enabled).then(|| {
            // The last map's size, from one blank image through an evaluation copy (which
            // leaves BatchNorm's running statistics alone).
            let blank = Tensor::<4>::zeros([1, setup.channels, setup.height, setup.width_px], &setup.train_images.device());
            let dims = last_map(&backbone.valid(), blank).dims();
            [dims[2], dims[3]]
        });
        let model = MultiTaskModel {
            rotation: head(rotation, rotnet::head_widths(&config.rotation.settings, d)),
            position: head(position.is_some(), context_prediction::head_widths(&config.position.settings, d)),
            jigsaw: head(jigsaw.is_some(), jigsaw::head_widths(&config.jigsaw.settings, d)),
            exemplar: exemplar.as_ref().and_then(|task| head(true, exemplar::head_widths(&config.exemplar.settings, d, task.n_classes()))),
            colourisation: head(colour_grid.is_some(), colour_head_widths(&config.colourisation.settings, d)),
            backbone,
        };
        Ok((MultiTask { config, flip: setup.flip_invariant, rotation, position, jigsaw, exemplar, colour_grid }, model))
    }

    fn loss(&mut self, model: &MultiTaskModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let x = batch.unlabelled.clone().expect("Multi-task draws unlabelled images");
        let b = x.dims()[0];
        let c = &self.config;
        let mut done: Vec<(&TaskCurves, f64, Tensor<1>, Tensor<1>)> = Vec::new(); // (task, weight, loss, accuracy)
        // Patch tasks first, in passes of their own (see the module's note on BatchNorm).
        if let (Some(task), Some(head)) = (&self.position, &model.position) {
            let (loss, acc) = task.step(&model.backbone, head, x.clone(), ctx);
            done.push((&POSITION, c.position.weight, loss, acc));
        }
        if let (Some(task), Some(head)) = (&self.jigsaw, &model.jigsaw) {
            let (loss, acc) = task.step(&model.backbone, head, x.clone(), ctx);
            done.push((&JIGSAW, c.jigsaw.weight, loss, acc));
        }
        // Then one pass over every full-size input: rotations [4B], exemplar members [B],
        // grey images [B], in that order.
        let mut inputs = Vec::new();
        let rotation_labels = model.rotation.as_ref().map(|_| {
            let (rotated, labels) = training_rotations(&c.rotation.settings, x.clone(), self.flip, ctx.rng);
            inputs.push(rotated);
            labels.autodiff()
        });
        let exemplar_classes = self.exemplar.as_ref().map(|task| {
            let (classes, members) = task.draw(b, ctx.rng);
            inputs.push(members);
            Batch::index_tensor(&classes, ctx.device)
        });
        let colour_targets = self.colour_grid.map(|grid| {
            inputs.push(grey(x.clone()));
            chroma_classes(x.clone(), grid, c.colourisation.settings.bins).autodiff()
        });
        if !inputs.is_empty() {
            let map = last_map(&model.backbone, ctx.to_model(Tensor::cat(inputs, 0))); // [n, D, h, w]
            let features = global_pool(map.clone());
            let mut start = 0; // the first row of the next task's inputs in the pass
            let mut classify = |task: &'static TaskCurves, weight: f64, logits: Tensor<2>, targets: Tensor<1, Int>| {
                let acc = accuracy(logits.clone().detach(), targets.clone());
                done.push((task, weight, cross_entropy(logits, targets), acc));
            };
            if let (Some(head), Some(labels)) = (&model.rotation, rotation_labels) {
                let logits = head.forward(features.clone().narrow(0, start, 4 * b));
                start += 4 * b;
                classify(&ROTATION, c.rotation.weight, logits, labels);
            }
            if let (Some(head), Some(classes)) = (&model.exemplar, exemplar_classes) {
                let logits = head.forward(features.narrow(0, start, b));
                start += b;
                classify(&EXEMPLAR, c.exemplar.weight, logits, classes);
            }
            if let (Some(head), Some(targets)) = (&model.colourisation, colour_targets) {
                classify(&COLOUR, c.colourisation.weight, cell_logits(head, map.narrow(0, start, b)), targets);
            }
        }
        // Curves in the order of [`Method::curves`]: losses, then accuracies.
        done.sort_by_key(|(task, ..)| TASKS.iter().position(|t| t.loss == task.loss));
        let total = done.iter().map(|(_, weight, loss, _)| loss.clone() * *weight).reduce(|a, b| a + b).expect("at least one task runs");
        let mut losses = Losses::new(total);
        for (task, _, loss, _) in &done {
            losses = losses.with(task.loss, loss.clone());
        }
        for (task, _, _, acc) in done {
            losses = losses.with(task.acc, acc);
        }
        losses
    }

    fn backbone(model: &MultiTaskModel) -> &Backbone {
        &model.backbone
    }

    /// The mean of the running tasks' held-out accuracies; each is in the evaluation's
    /// metrics ([`Method::eval_metrics`]).
    fn pretext_accuracy(&self, model: &MultiTaskModel, images: Tensor<4>) -> Option<Tensor<1>> {
        let accs: Vec<Tensor<1>> = self.held_out(model, images).into_iter().map(|(_, acc)| acc).collect();
        Some(Tensor::cat(accs, 0).mean())
    }

    fn eval_metrics(&self, model: &MultiTaskModel, images: Tensor<4>, _labels: Tensor<1, Int>) -> Vec<(&'static str, Tag, Tensor<1>)> {
        let n = images.dims()[0].min(1000);
        self.held_out(model, images.narrow(0, 0, n)).into_iter().map(|(task, acc)| (task.held_out, Tag::Accuracy, acc)).collect()
    }

    fn curves(&self) -> Vec<Curve> {
        let running = self.running();
        let mut curves = vec![Curve::loss("total")];
        curves.extend(running.iter().map(|t| Curve::loss(t.loss)));
        curves.extend(running.iter().map(|t| Curve::accuracy(t.acc)));
        curves
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        let mut views = Vec::new();
        let prefixed = |task: &'static str, blocks: Vec<(String, Tensor<4>)>| blocks.into_iter().map(move |(name, t)| (format!("{task}: {name}"), t));
        if self.rotation {
            // Each image's four rotations side by side: [B, 4, C, H, W] → [4B, C, H, W] image-major.
            let [b, c, h, w] = images.dims();
            let turned = Tensor::stack::<5>((0..4).map(|k| rot90(images.clone(), k)).collect(), 1).reshape([4 * b, c, h, w]);
            views.push(("rotation: 0°, 90°, 180°, 270°".to_string(), mosaic(turned, 1, 4)));
        }
        if let Some(task) = &self.position {
            views.extend(prefixed("position", task.preview(images.clone(), rng)));
        }
        if let Some(task) = &self.jigsaw {
            views.extend(prefixed("jigsaw", task.preview(images.clone(), rng)));
        }
        if let Some(task) = &self.exemplar {
            views.extend(prefixed("exemplar", task.preview(images.clone(), rng).into_iter().take(2).collect()));
        }
        if let Some(grid) = self.colour_grid {
            let bins = self.config.colourisation.settings.bins;
            let classes = chroma_classes(images.clone(), grid, bins);
            views.push(("colourisation: the grey input".to_string(), grey(images.clone())));
            views.push(("colourisation: the colour classes to predict".to_string(), paint(luma(images), classes, grid, bins)));
        }
        views
    }
}
