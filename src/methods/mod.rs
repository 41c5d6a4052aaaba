//! The method seam and the registry.
//!
//! A method is a trainable Burn `Module` (backbone + heads, which the optimizer sees) and a
//! plain struct beside it (config, EMA teacher, queue…, which it does not), as in solo-learn.
//! [`Trainer`](crate::train::Trainer) drives any [`Method`]; [`MethodKind`] maps an id to a
//! constructor and to the metadata the page and `sslp methods` show.
//!
//! Adding a method = one file in its family folder, one `MethodKind` arm, one test-table line.
pub mod contrastive;
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
    /// Build the method and its model from a config that passed [`Method::check`].
    fn new(config: Self::Config, setup: &Setup) -> Result<(Self, Self::Model), String>;
    fn batch_plan(&self, batch_size: usize) -> BatchPlan;
    fn loss(&mut self, model: &Self::Model, batch: &Batch, ctx: &mut StepCtx) -> Losses;
    /// After the optimizer step: EMA teacher, queue, centre.
    fn after_step(&mut self, _model: &Self::Model, _ctx: &StepCtx) {}
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

/// Every registered method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodKind {
    RotNet,
    SimClr,
    FixMatch,
    Supervised,
}

pub const ALL_METHODS: [MethodKind; 4] = [MethodKind::RotNet, MethodKind::SimClr, MethodKind::FixMatch, MethodKind::Supervised];

struct Meta {
    id: &'static str,
    family: Family,
    name: &'static str,
    paper: &'static str,
    link: &'static str,
    explanation: &'static str,
    loss_terms: &'static [&'static str],
}

impl MethodKind {
    fn meta(self) -> Meta {
        match self {
            MethodKind::RotNet => Meta {
                id: "rotnet",
                family: Family::Pretext,
                name: "RotNet",
                paper: "Gidaris, Singh, Komodakis. Unsupervised Representation Learning by Predicting Image Rotations. ICLR 2018",
                link: "https://arxiv.org/abs/1803.07728",
                explanation: "Every image is shown at 0°, 90°, 180° and 270°, and the network must say which rotation it sees. \
                    To tell which way is up, it has to recognise what the object is and where its parts are, so the features it \
                    learns for this made-up task also separate the real classes. The last layers specialise in rotation; \
                    the paper finds the best features in the middle blocks, which is why the kNN probe is reported per layer.",
                loss_terms: &["total", "rotation_acc"],
            },
            MethodKind::SimClr => Meta {
                id: "simclr",
                family: Family::Contrastive,
                name: "SimCLR",
                paper: "Chen, Kornblith, Norouzi, Hinton. A Simple Framework for Contrastive Learning of Visual Representations. ICML 2020",
                link: "https://arxiv.org/abs/2002.05709",
                explanation: "Each image is augmented twice (crop, flip, colour jitter). A projection head maps both views to a \
                    vector, and the NT-Xent loss pulls the two views of the same image together while pushing them away from \
                    every other image in the batch. The temperature sets how hard the negatives are weighted. After training \
                    the head is dropped and the backbone's features are used.",
                loss_terms: &["total", "positive_sim", "negative_sim"],
            },
            MethodKind::FixMatch => Meta {
                id: "fixmatch",
                family: Family::Semi,
                name: "FixMatch",
                paper: "Sohn et al. FixMatch: Simplifying Semi-Supervised Learning with Consistency and Confidence. NeurIPS 2020",
                link: "https://arxiv.org/abs/2001.07685",
                explanation: "A few labelled images train a classifier as usual. For each unlabelled image the model looks at a \
                    weakly augmented view (flip and shift); if it is confident (probability ≥ τ), its guess becomes a pseudo-label, \
                    and the model is trained to predict that label on a strongly augmented view (RandAugment + Cutout). The share \
                    of unlabelled images that pass the threshold (mask_ratio) grows as the model improves.",
                loss_terms: &["total", "sup", "unsup", "mask_ratio", "pseudo_label_acc"],
            },
            MethodKind::Supervised => Meta {
                id: "supervised",
                family: Family::Baseline,
                name: "Supervised (labelled subset only)",
                paper: "Baseline: cross-entropy on the labelled images alone, as in the FixMatch paper's comparisons",
                link: "https://arxiv.org/abs/2001.07685",
                explanation: "Trains the same backbone and classifier on the labelled images only, with the weak augmentation \
                    (flip and shift), and ignores every unlabelled image. With ten labels per class it overfits quickly. \
                    A semi-supervised method is worth its cost when it beats this at the same number of labels and steps.",
                loss_terms: &["total", "sup", "train_acc"],
            },
        }
    }

    pub fn id(self) -> &'static str {
        self.meta().id
    }
    pub fn family(self) -> Family {
        self.meta().family
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
        match self {
            // RotNet: SGD, Nesterov momentum 0.9, weight decay 5e-4, lr 0.1.
            MethodKind::RotNet => OptimConfig::sgd(0.1, 5e-4),
            // SimCLR trains with LARS (lr 0.3·B/256, wd 1e-6) on batches of 256–8192. At our
            // batch of 64, LARS (lr 0.3) measured 75.0 % kNN against 77.2 % for plain SGD with
            // momentum (lr 0.05, wd 5e-4) after 300 steps, so SGD is the default and LARS a choice.
            MethodKind::SimClr => OptimConfig {
                kind: crate::optim::OptimKind::Sgd,
                lr: 0.05,
                momentum: 0.9,
                nesterov: false,
                weight_decay: 5e-4,
                warmup: 0.05,
                cosine: true,
            },
            // FixMatch: SGD, Nesterov momentum 0.9, lr 0.03, weight decay 5e-4, cosine decay.
            MethodKind::FixMatch | MethodKind::Supervised => OptimConfig::sgd(0.03, 5e-4),
        }
    }

    pub fn default_params(self) -> serde_json::Value {
        fn json<C: Serialize + Default>() -> serde_json::Value {
            serde_json::to_value(C::default()).expect("configs serialise")
        }
        match self {
            MethodKind::RotNet => json::<pretext::rotnet::RotNetConfig>(),
            MethodKind::SimClr => json::<contrastive::simclr::SimclrConfig>(),
            MethodKind::FixMatch => json::<semi::fixmatch::FixMatchConfig>(),
            MethodKind::Supervised => json::<supervised::SupervisedConfig>(),
        }
    }

    pub fn info(self) -> MethodInfo {
        let m = self.meta();
        MethodInfo {
            id: m.id.into(),
            family: m.family.id().into(),
            name: m.name.into(),
            paper: m.paper.into(),
            link: m.link.into(),
            explanation: m.explanation.split_whitespace().collect::<Vec<_>>().join(" "),
            loss_terms: m.loss_terms.iter().map(|s| s.to_string()).collect(),
            defaults: self.default_params(),
            optimizer: serde_json::to_value(self.default_optimizer()).expect("configs serialise"),
        }
    }

    /// Parse and check the method's parameters and say what a step puts through the network;
    /// builds nothing.
    pub fn footprint(self, params: &serde_json::Value, batch_size: usize, feature_dim: usize, n_classes: usize) -> Result<Footprint, String> {
        fn of<M: Method>(id: &str, params: &serde_json::Value, batch_size: usize, feature_dim: usize, n_classes: usize) -> Result<Footprint, String> {
            let config: M::Config = parse_config(id, params)?;
            M::check(&config).map_err(|e| format!("{id} {e}"))?;
            Ok(M::footprint(&config, batch_size, feature_dim, n_classes))
        }
        let id = self.id();
        match self {
            MethodKind::RotNet => of::<pretext::rotnet::RotNet>(id, params, batch_size, feature_dim, n_classes),
            MethodKind::SimClr => of::<contrastive::simclr::Simclr>(id, params, batch_size, feature_dim, n_classes),
            MethodKind::FixMatch => of::<semi::fixmatch::FixMatch>(id, params, batch_size, feature_dim, n_classes),
            MethodKind::Supervised => of::<supervised::Supervised>(id, params, batch_size, feature_dim, n_classes),
        }
    }

    /// Build the method and its trainer from JSON parameters.
    pub fn build(self, params: &serde_json::Value, setup: &Setup, optim: &OptimConfig) -> Result<Box<dyn Runner>, String> {
        fn make<M: Method>(id: &str, params: &serde_json::Value, setup: &Setup, optim: &OptimConfig) -> Result<Box<dyn Runner>, String> {
            let config: M::Config = parse_config(id, params)?;
            M::check(&config).map_err(|e| format!("{id} {e}"))?;
            let (method, model) = M::new(config, setup)?;
            Ok(Box::new(Trainer::new(method, model, optim)))
        }
        let id = self.id();
        match self {
            MethodKind::RotNet => make::<pretext::rotnet::RotNet>(id, params, setup, optim),
            MethodKind::SimClr => make::<contrastive::simclr::Simclr>(id, params, setup, optim),
            MethodKind::FixMatch => make::<semi::fixmatch::FixMatch>(id, params, setup, optim),
            MethodKind::Supervised => make::<supervised::Supervised>(id, params, setup, optim),
        }
    }
}

/// Fraction of rows where `argmax(logits) == targets`, as `[1]`.
pub fn accuracy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let [b, _] = logits.dims();
    logits.argmax(1).reshape([b]).equal(targets).float().mean()
}
