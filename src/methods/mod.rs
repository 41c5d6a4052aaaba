//! The method seam and the registry.
//!
//! A method is a Burn `Module` and a plain struct beside it (its config). Everything a method
//! keeps lives in the module: trainable parts as ordinary parameters, and EMA teachers,
//! queues and memory banks as parameters without gradient ([`ema`], [`memory`]), which the
//! optimizer skips and checkpoints, page snapshots and "Resume on CPU" carry like any other.
//! [`Trainer`](crate::trainer::Trainer) drives any [`Method`]; [`crate::registry`] maps an id
//! to a constructor and to the metadata the page and `sslp methods` show.
//!
//! Adding a method = one file in its family folder (its `Method` impl with `META`, config and
//! model) and one line in [`crate::registry::ALL_METHODS`].
pub mod contrastive;
pub mod ema;
pub mod memory;
pub mod pretext;
pub mod semi;
pub mod supervised;

use crate::backbone::{Backbone, BackboneKind};
use crate::heads::Mlp;
use crate::optim::OptimConfig;
pub use crate::report::Tag;
use crate::rng::Rng;
use burn::prelude::*;
use serde::{de::DeserializeOwned, Serialize};

/// How one step of a method uses the network, from its config alone.
#[derive(Clone, Debug, PartialEq)]
pub struct Footprint {
    /// Images through the backbone per step (SimCLR: both views; RotNet: four rotations).
    pub forward_images: usize,
    /// Each head's widths, input first, as given to [`crate::heads::Mlp::new`].
    pub heads: Vec<Vec<usize>>,
    /// Values a step holds besides feature maps: a memory bank or queue in the model, and
    /// similarity matrices against it (NPID's `[B, N]` logits and their gradient).
    pub extra_values: usize,
}

/// What the trainer needs to build a method's model.
#[derive(Clone, Debug)]
pub struct Setup {
    pub backbone: BackboneKind,
    pub width: usize,
    pub channels: usize,
    pub height: usize,
    pub width_px: usize,
    pub n_classes: usize,
    /// Whether a mirror image keeps the class (false for digits).
    pub flip_invariant: bool,
    /// Images in the training pool, for per-sample state (NPID's memory bank) and queue sizes.
    pub n_train: usize,
    /// The training pool itself `[N, C, H, W]` on the plain device, for state initialised
    /// from data (NPID fills its memory bank with the untrained network's features).
    pub train_images: Tensor<4>,
    /// The labelled training images as (train index, class), class-balanced from the seed;
    /// empty for methods that use no labels. Label Propagation seeds its graph with them.
    pub labelled: Vec<(usize, usize)>,
    /// The true class of the pool's first `train_truth.len()` images (the labelled train split;
    /// the pack's unlabelled images after them have none), for diagnostics only (the accuracy
    /// of propagated labels, as `Batch::unlabelled_truth`); never a training signal.
    pub train_truth: Vec<u8>,
    /// The run's seed, for what a method draws once at the start (Exemplar's seed images).
    pub seed: u64,
    /// The autodiff device the model trains on.
    pub device: Device,
}

impl Setup {
    pub fn backbone(&self) -> Backbone {
        Backbone::new(self.backbone, self.channels, self.width, &self.device)
    }
}

/// How many labelled and unlabelled images one step draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchPlan {
    pub labelled: usize,
    pub unlabelled: usize,
}

/// One step's data, on the plain (non-autodiff) device; methods make their views from it.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Unlabelled images `[U, C, H, W]` (empty plan → `None`).
    pub unlabelled: Option<Tensor<4>>,
    /// True labels of the unlabelled images, for diagnostics only (pseudo-label accuracy).
    pub unlabelled_truth: Option<Tensor<1, Int>>,
    /// Labelled images `[L, C, H, W]` and their labels `[L]`.
    pub labelled: Option<(Tensor<4>, Tensor<1, Int>)>,
    /// Train-split index of every unlabelled and labelled image, in batch order, so a method
    /// can address per-sample state (a memory bank row, a running target), as USB's `idx_ulb`.
    pub unlabelled_index: Vec<usize>,
    pub labelled_index: Vec<usize>,
}

impl Batch {
    /// `indices` as an Int tensor on `device`, for `select` / `select_assign`.
    pub fn index_tensor(indices: &[usize], device: &Device) -> Tensor<1, Int> {
        let idx: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        Tensor::from_data(TensorData::new(idx, [indices.len()]), device)
    }
}

/// Per-step context: the step number, the run length, the seeded stream for views.
pub struct StepCtx<'a> {
    pub step: usize,
    pub total_steps: usize,
    pub rng: &'a mut Rng,
    pub device: &'a Device,
}

impl StepCtx<'_> {
    /// Move a view onto the autodiff device, so BatchNorm runs in training mode.
    pub fn to_model(&self, x: Tensor<4>) -> Tensor<4> {
        x.autodiff()
    }
}

/// Loss terms of one step: `total` is what backward() sees; `terms` are detached scalars
/// for the curves, `total` first.
pub struct Losses {
    pub total: Tensor<1>,
    pub terms: Vec<(&'static str, Tensor<1>)>,
}

impl Losses {
    pub fn new(total: Tensor<1>) -> Self {
        let terms = vec![("total", total.clone().detach())];
        Self { total, terms }
    }
    pub fn with(mut self, name: &'static str, value: Tensor<1>) -> Self {
        self.terms.push((name, value.detach()));
        self
    }
}

/// One self- or semi-supervised method.
pub trait Method: Sized + 'static {
    /// Id, family, paper, explanation, curves and default optimizer: what the registry shows.
    const META: MethodMeta;
    /// Hyper-parameters, with the paper's defaults (scaled to small images) as `Default`.
    type Config: Serialize + DeserializeOwned + Default + Clone;
    /// The trainable parts.
    type Model: Module + Clone + std::fmt::Debug;

    /// Check the hyper-parameters' documented ranges. Runs before anything is built or
    /// allocated ([`crate::limits::check_run`]), so it must not allocate by itself.
    fn check(_config: &Self::Config) -> Result<(), String> {
        Ok(())
    }
    /// What a step puts through the network, from the config alone, for the memory estimate.
    fn footprint(config: &Self::Config, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint;
    /// Values held besides feature maps for a training pool of `n_train` images (a memory
    /// bank, a queue, similarities against them); see [`Footprint::extra_values`].
    fn extra_values(_config: &Self::Config, _batch_size: usize, _n_train: usize) -> usize {
        0
    }
    /// Build the method and its model from a config that passed [`Method::check`].
    fn new(config: Self::Config, setup: &Setup) -> Result<(Self, Self::Model), String>;
    /// The stages of a run, in order; one stage over the whole run unless the method says.
    fn stages(&self) -> Vec<Stage> {
        vec![Stage::whole_run()]
    }
    /// Called when stage `index` of [`Method::stages`] begins, and again on resume into it.
    /// It changes only the method's working state (which loss to build, which batch to draw),
    /// never the model, so that resuming into a stage is the same as reaching it.
    fn enter_stage(&mut self, _index: usize) {}
    /// How many labelled and unlabelled images one step draws (it may depend on the stage);
    /// self-supervised methods take `batch_size` unlabelled images, the default.
    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        BatchPlan { labelled: 0, unlabelled: batch_size }
    }
    fn loss(&mut self, model: &Self::Model, batch: &Batch, ctx: &mut StepCtx) -> Losses;
    /// After the optimizer step, on the updated model: move the EMA teacher, enqueue keys,
    /// update the memory bank or the centre. The state lives in the model, so it returns it.
    fn after_step(&mut self, model: Self::Model, _ctx: &StepCtx) -> Self::Model {
        model
    }
    /// The backbone used for kNN, retrieval and the map.
    fn backbone(model: &Self::Model) -> &Backbone;
    /// A class head on backbone features, for methods that train one (test accuracy).
    fn classifier(_model: &Self::Model) -> Option<&Mlp> {
        None
    }
    /// Class logits of test `images` for the classifier test accuracy (`model` is the
    /// evaluation copy); by default the [`Method::classifier`] on the backbone's features.
    fn test_logits(&self, model: &Self::Model, images: Tensor<4>) -> Option<Tensor<2>> {
        Self::classifier(model).map(|head| head.forward(Self::backbone(model).forward(images)))
    }
    /// More numbers for an evaluation, each tagged, from the evaluation copy and the test
    /// split (SimCLR v2's fine-tuned teacher beside its distilled student).
    fn eval_metrics(&self, _model: &Self::Model, _images: Tensor<4>, _labels: Tensor<1, Int>) -> Vec<(&'static str, Tag, Tensor<1>)> {
        Vec::new()
    }
    /// Held-out pretext accuracy for pretext methods: `images` are clean test images on the
    /// plain device and `model` is the evaluation copy. Returns the accuracy as `[1]`.
    fn pretext_accuracy(&self, _model: &Self::Model, _images: Tensor<4>) -> Option<Tensor<1>> {
        None
    }
    /// The embedding the method's loss acts on (the projection head's output), for the
    /// collapse diagnostics; `None` = the backbone's features. `model` is the evaluation copy.
    fn embedding(_model: &Self::Model, _images: Tensor<4>) -> Option<Tensor<2>> {
        None
    }
    /// Matrices the method wants a learner to see, from its last step (detached): Barlow
    /// Twins' cross-correlation, drawn by the page as a heat map.
    fn matrices(&self) -> Vec<(&'static str, Tensor<2>)> {
        Vec::new()
    }
    /// The curves this run's steps report, `total` first: [`MethodMeta::curves`] unless the
    /// config leaves some out (Multi-task reports only the tasks it runs).
    fn curves(&self) -> Vec<Curve> {
        Self::META.curves.to_vec()
    }
    /// The views the method feeds the network, named, for the page's preview.
    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)>;
    /// The preview with the current model at hand (in eval mode), for methods that show what
    /// it predicts (MaskFeat's predicted HOG); [`Method::views`] unless overridden.
    fn model_views(&self, _model: &Self::Model, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        self.views(images, rng)
    }
}

/// Parse a method's config: its defaults, overridden by the keys in `params` (a JSON object).
/// Nested objects merge key by key (`{"views": {"flip_p": 0}}` keeps the other view
/// settings). An unknown key, at any depth, is an error that lists the known ones.
pub fn parse_config<C: Serialize + DeserializeOwned + Default>(method: &str, params: &serde_json::Value) -> Result<C, String> {
    let mut merged = serde_json::to_value(C::default()).map_err(|e| e.to_string())?;
    match params {
        serde_json::Value::Null => {}
        serde_json::Value::Object(_) => merge_params(method, &mut merged, params, "")?,
        other => return Err(format!("{method} parameters must be a JSON object, got {other}")),
    }
    serde_json::from_value(merged).map_err(|e| format!("{method} parameters are invalid: {e}"))
}

/// Merge `overrides` into the defaults `known`, recursing into objects; `path` is the dotted
/// prefix for messages.
fn merge_params(method: &str, known: &mut serde_json::Value, overrides: &serde_json::Value, path: &str) -> Result<(), String> {
    let (Some(known), Some(overrides)) = (known.as_object_mut(), overrides.as_object()) else {
        return Err(format!("{method} parameter '{path}' is a group of settings; give it as a JSON object"));
    };
    for (key, value) in overrides {
        let name = format!("{path}{key}");
        let Some(slot) = known.get_mut(key) else {
            let names: Vec<String> = known.keys().map(|k| format!("{path}{k}")).collect();
            return Err(format!("{method} has no parameter '{name}'; its parameters here are {}", names.join(", ")));
        };
        if slot.is_object() {
            merge_params(method, slot, value, &format!("{name}."))?;
        } else {
            *slot = value.clone();
        }
    }
    Ok(())
}

/// A named, tagged number a method reports every step (a curve on the page).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Curve {
    pub name: &'static str,
    pub tag: Tag,
}

impl Curve {
    pub const fn loss(name: &'static str) -> Self {
        Curve { name, tag: Tag::Loss }
    }
    pub const fn ratio(name: &'static str) -> Self {
        Curve { name, tag: Tag::Ratio }
    }
    pub const fn accuracy(name: &'static str) -> Self {
        Curve { name, tag: Tag::Accuracy }
    }
}

/// One stage of a method that trains in stages (SimCLR v2: pretrain → fine-tune → distil).
/// A stage takes a share of the run's steps, has its own optimizer (fresh state) and its own
/// learning-rate schedule over its own steps. What it trains is what its loss reaches: parts
/// a stage leaves out of the loss, or detaches, get no gradient and the optimizer skips them.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub name: &'static str,
    /// Share of the run's steps, in (0, 1]; a method's stages sum to 1.
    pub fraction: f64,
    /// The stage's optimizer; `None` = the run's (the method's default, or the user's choice).
    pub optimizer: Option<OptimConfig>,
}

impl Stage {
    /// The single stage of a method that does not declare any.
    pub fn whole_run() -> Self {
        Stage { name: "train", fraction: 1.0, optimizer: None }
    }
}

/// The step ranges of `stages` in a run of `total` steps: consecutive, covering the run, each
/// at least one step long where the run has enough steps.
pub fn stage_spans(stages: &[Stage], total: usize) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::with_capacity(stages.len());
    let (mut start, mut cumulative) = (0, 0.0);
    for (i, stage) in stages.iter().enumerate() {
        cumulative += stage.fraction;
        let remaining = stages.len() - i - 1;
        let end = if remaining == 0 {
            total
        } else {
            // At least one step, and leave one for each stage after it, as far as the run allows.
            let end = ((cumulative * total as f64).round() as usize).max(start + 1);
            end.min(total.saturating_sub(remaining)).max(start)
        };
        spans.push(start..end);
        start = end;
    }
    spans
}

/// The families the page groups methods by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Pretext,
    Contrastive,
    Semi,
    Baseline,
}

impl Family {
    pub fn id(self) -> &'static str {
        match self {
            Family::Pretext => "pretext",
            Family::Contrastive => "contrastive",
            Family::Semi => "semi-supervised",
            Family::Baseline => "baseline",
        }
    }
}

/// What the registry shows of a method, declared in the method's own file as `Method::META`.
#[derive(Clone, Copy, Debug)]
pub struct MethodMeta {
    /// The id in URLs, course links and `--method`: part of the product, never renamed.
    pub id: &'static str,
    pub family: Family,
    pub name: &'static str,
    pub paper: &'static str,
    pub link: &'static str,
    /// What the method does, for a learner (whitespace is collapsed for display).
    pub explanation: &'static str,
    /// Every curve its steps can report, `total` first (every stage's, for a staged method;
    /// every task's, for Multi-task); a run reports [`Method::curves`].
    pub curves: &'static [Curve],
    /// Whether runs draw a labelled subset (`labels_per_class` per class).
    pub uses_labels: bool,
    /// The optimizer the paper uses, scaled to these small runs.
    pub optimizer: fn() -> OptimConfig,
}

/// Fraction of rows where `argmax(logits) == targets`, as `[1]`.
pub fn accuracy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let [b, _] = logits.dims();
    logits.argmax(1).reshape([b]).equal(targets).float().mean()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(fraction: f64) -> Stage {
        Stage { name: "s", fraction, optimizer: None }
    }

    #[test]
    fn stage_spans_cover_the_run_in_order() {
        let three = [stage(0.6), stage(0.2), stage(0.2)];
        assert_eq!(stage_spans(&three, 1000), [0..600, 600..800, 800..1000]);
        assert_eq!(stage_spans(&three, 6), [0..4, 4..5, 5..6]);
        // Every stage keeps a step while the run has one per stage.
        assert_eq!(stage_spans(&three, 3), [0..1, 1..2, 2..3]);
        assert_eq!(stage_spans(&[Stage::whole_run()], 7), [0..7]);
    }
}
