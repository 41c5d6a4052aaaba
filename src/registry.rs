//! The registry: every method by id, with the constructors the session needs.
//!
//! Adding a method = one file in its family folder and one line in [`ALL_METHODS`]. The
//! registry sits above both the methods and the trainer, so neither depends on the other's
//! user: `config → registry → {methods, trainer} → methods`, with no cycle.
use crate::methods::{contrastive, parse_config, pretext, semi, supervised, Family, Footprint, Method, MethodMeta, Setup};
use crate::optim::OptimConfig;
use crate::report::{CurveInfo, MethodInfo};
use crate::trainer::{Runner, Trainer};

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
pub static ALL_METHODS: [MethodKind; 28] = [
    MethodKind::of::<pretext::rotnet::RotNet>(),
    MethodKind::of::<pretext::exemplar::Exemplar>(),
    MethodKind::of::<pretext::jigsaw::Jigsaw>(),
    MethodKind::of::<pretext::context_prediction::ContextPrediction>(),
    MethodKind::of::<pretext::counting::Counting>(),
    MethodKind::of::<pretext::decoupled_rotnet::DecoupledRotNet>(),
    MethodKind::of::<pretext::multi_task::MultiTask>(),
    MethodKind::of::<contrastive::simclr::Simclr>(),
    MethodKind::of::<contrastive::npid::Npid>(),
    MethodKind::of::<contrastive::moco::MocoV1>(),
    MethodKind::of::<contrastive::moco::MocoV2>(),
    MethodKind::of::<contrastive::byol::Byol>(),
    MethodKind::of::<contrastive::barlow_twins::BarlowTwins>(),
    MethodKind::of::<contrastive::simclr_v2::SimclrV2>(),
    MethodKind::of::<contrastive::dino::Dino>(),
    MethodKind::of::<contrastive::maskfeat::Maskfeat>(),
    MethodKind::of::<semi::fixmatch::FixMatch>(),
    MethodKind::of::<semi::entropy_min::EntropyMin>(),
    MethodKind::of::<semi::pseudo_label::PseudoLabel>(),
    MethodKind::of::<semi::pi_model::PiModel>(),
    MethodKind::of::<semi::temporal_ensembling::TemporalEnsembling>(),
    MethodKind::of::<semi::mean_teacher::MeanTeacher>(),
    MethodKind::of::<semi::label_propagation::LabelPropagation>(),
    MethodKind::of::<semi::vat::Vat>(),
    MethodKind::of::<semi::uda::Uda>(),
    MethodKind::of::<semi::mixmatch::MixMatch>(),
    MethodKind::of::<semi::remixmatch::ReMixMatch>(),
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
        self.meta.uses_labels
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
            uses_labels: m.uses_labels,
            curves: m.curves.iter().map(CurveInfo::from).collect(),
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

