//! The method seam and the registry.
//!
//! A method is a Burn `Module` and a plain struct beside it (its config). Everything a method
//! keeps lives in the module: trainable parts as ordinary parameters, and EMA teachers,
//! queues and memory banks as parameters without gradient ([`ema`], [`memory`]), which the
//! optimizer skips and checkpoints, page snapshots and "Resume on CPU" carry like any other.
//! [`Trainer`](crate::train::Trainer) drives any [`Method`]; [`MethodKind`] maps an id to a
//! constructor and to the metadata the page and `sslp methods` show.
//!
//! Adding a method = one file in its family folder (its `Method` impl with `META`, config and
//! model) and one line in [`ALL_METHODS`].
pub mod contrastive;
pub mod ema;
pub mod memory;
pub mod pretext;
pub mod semi;
pub mod supervised;

use crate::backbone::{Backbone, BackboneKind};
use crate::heads::Mlp;
pub use crate::limits::Footprint;
use crate::optim::OptimConfig;
use crate::report::MethodInfo;
use crate::rng::Rng;
use crate::train::{Runner, Trainer};
use burn::prelude::*;
use serde::{de::DeserializeOwned, Serialize};

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
    /// How many labelled and unlabelled images a step draws; self-supervised methods take
    /// `batch_size` unlabelled images, the default.
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
    /// The views the method feeds the network, named, for the page's preview.
    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)>;
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
    /// The curves its steps report, `total` first.
    pub curves: &'static [&'static str],
    /// The optimizer the paper uses, scaled to these small runs.
    pub optimizer: fn() -> OptimConfig,
}

/// A registered method: its metadata and the constructors the session needs, made from the
/// method's type by [`MethodKind::of`]. Cheap to copy; two are equal when their ids are.
#[derive(Clone, Copy)]
pub struct MethodKind {
    meta: MethodMeta,
    default_params: fn() -> serde_json::Value,
    footprint: fn(&serde_json::Value, usize, usize, usize, usize) -> Result<Footprint, String>,
    build: fn(&serde_json::Value, &Setup, &OptimConfig) -> Result<Box<dyn Runner>, String>,
}

/// The registry: one line per method. Everything else about a method is in its own file.
pub static ALL_METHODS: [MethodKind; 9] = [
    MethodKind::of::<pretext::rotnet::RotNet>(),
    MethodKind::of::<contrastive::simclr::Simclr>(),
    MethodKind::of::<contrastive::npid::Npid>(),
    MethodKind::of::<contrastive::moco::MocoV1>(),
    MethodKind::of::<contrastive::moco::MocoV2>(),
    MethodKind::of::<contrastive::byol::Byol>(),
    MethodKind::of::<contrastive::barlow_twins::BarlowTwins>(),
    MethodKind::of::<semi::fixmatch::FixMatch>(),
    MethodKind::of::<supervised::Supervised>(),
];

fn default_params_of<M: Method>() -> serde_json::Value {
    serde_json::to_value(M::Config::default()).expect("configs serialise")
}

/// The method's config from JSON parameters, with its ranges checked.
fn checked_config<M: Method>(params: &serde_json::Value) -> Result<M::Config, String> {
    let id = M::META.id;
    let config: M::Config = parse_config(id, params)?;
    M::check(&config).map_err(|e| format!("{id} {e}"))?;
    Ok(config)
}

fn footprint_of<M: Method>(params: &serde_json::Value, batch_size: usize, feature_dim: usize, n_classes: usize, n_train: usize) -> Result<Footprint, String> {
    let config = checked_config::<M>(params)?;
    let mut footprint = M::footprint(&config, batch_size, feature_dim, n_classes);
    footprint.extra_values = M::extra_values(&config, batch_size, n_train);
    Ok(footprint)
}

fn build_of<M: Method>(params: &serde_json::Value, setup: &Setup, optim: &OptimConfig) -> Result<Box<dyn Runner>, String> {
    let (method, model) = M::new(checked_config::<M>(params)?, setup)?;
    Ok(Box::new(Trainer::new(method, model, optim)))
}

impl PartialEq for MethodKind {
    fn eq(&self, other: &Self) -> bool {
        self.meta.id == other.meta.id
    }
}
impl Eq for MethodKind {}

impl std::fmt::Debug for MethodKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MethodKind({})", self.meta.id)
    }
}

impl MethodKind {
    /// The registry entry of method type `M`.
    pub const fn of<M: Method>() -> Self {
        MethodKind { meta: M::META, default_params: default_params_of::<M>, footprint: footprint_of::<M>, build: build_of::<M> }
    }

    pub fn id(self) -> &'static str {
        self.meta.id
    }
    pub fn family(self) -> Family {
        self.meta.family
    }
    pub fn parse(id: &str) -> Result<Self, String> {
        ALL_METHODS.iter().copied().find(|m| m.id() == id).ok_or_else(|| {
            let ids: Vec<&str> = ALL_METHODS.iter().map(|m| m.id()).collect();
            format!("unknown method '{id}'; known methods: {}", ids.join(", "))
        })
    }
    /// Whether runs of this method use a labelled subset.
    pub fn uses_labels(self) -> bool {
        matches!(self.family(), Family::Semi | Family::Baseline)
    }

    /// The optimizer the paper uses, scaled to these small runs.
    pub fn default_optimizer(self) -> OptimConfig {
        (self.meta.optimizer)()
    }

    pub fn default_params(self) -> serde_json::Value {
        (self.default_params)()
    }

    pub fn info(self) -> MethodInfo {
        let m = self.meta;
        MethodInfo {
            id: m.id.into(),
            family: m.family.id().into(),
            name: m.name.into(),
            paper: m.paper.into(),
            link: m.link.into(),
            explanation: m.explanation.split_whitespace().collect::<Vec<_>>().join(" "),
            loss_terms: m.curves.iter().map(|s| s.to_string()).collect(),
            defaults: self.default_params(),
            optimizer: serde_json::to_value(self.default_optimizer()).expect("configs serialise"),
        }
    }

    /// Parse and check the method's parameters and say what a step puts through the network;
    /// builds nothing.
    pub fn footprint(self, params: &serde_json::Value, batch_size: usize, feature_dim: usize, n_classes: usize, n_train: usize) -> Result<Footprint, String> {
        (self.footprint)(params, batch_size, feature_dim, n_classes, n_train)
    }

    /// Build the method and its trainer from JSON parameters.
    pub fn build(self, params: &serde_json::Value, setup: &Setup, optim: &OptimConfig) -> Result<Box<dyn Runner>, String> {
        (self.build)(params, setup, optim)
    }
}

/// Fraction of rows where `argmax(logits) == targets`, as `[1]`.
pub fn accuracy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let [b, _] = logits.dims();
    logits.argmax(1).reshape([b]).equal(targets).float().mean()
}
