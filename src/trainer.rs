//! The trainer: drives one [`Method`] through `loss → backward → optimizer step →
//! after_step`, and type-erases it as a [`Runner`] so the session can hold any method.
//!
//! It knows nothing of runs, data or evaluation schedules ([`crate::session`] does), so the
//! method registry can build trainers without depending on the session or the run config.
use crate::backbone::Backbone;
use crate::eval;
use crate::methods::{Batch, BatchPlan, Curve, Losses, Method, Stage, StepCtx, Tag};
use crate::optim::OptimConfig;
use crate::rng::Rng;
use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
#[cfg(not(target_family = "wasm"))]
use burn::store::{BurnpackStore, ModuleSnapshot};

/// The backbone in evaluation mode (BatchNorm on running statistics).
pub struct EvalModel {
    pub backbone: Backbone,
}

/// A type-erased trainer, so the Session can hold any method.
pub trait Runner {
    /// See [`Method::stages`].
    fn stages(&self) -> Vec<Stage>;
    /// Begin stage `index` with a fresh optimizer built from `optim`.
    fn enter_stage(&mut self, index: usize, optim: &OptimConfig);
    fn batch_plan(&self, batch_size: usize) -> BatchPlan;
    /// Compute the loss of one batch and keep it for [`Runner::apply`]; returns the term
    /// names and the detached terms packed as `[n_terms]`.
    fn forward(&mut self, batch: &Batch, ctx: &mut StepCtx) -> (Vec<&'static str>, Tensor<1>);
    /// Backward, optimizer step at `lr`, then the method's post-step hook.
    fn apply(&mut self, lr: f64, ctx: &StepCtx);
    /// Drop the pending loss without stepping.
    fn discard(&mut self);
    fn eval_model(&self) -> EvalModel;
    /// Class logits of `images` (evaluation mode), in chunks; see [`Method::test_logits`].
    fn test_logits(&self, images: &Tensor<4>) -> Option<Tensor<2>>;
    /// See [`Method::eval_metrics`].
    fn eval_metrics(&self, images: Tensor<4>, labels: Tensor<1, Int>) -> Vec<(&'static str, Tag, Tensor<1>)>;
    fn pretext_accuracy(&self, images: Tensor<4>) -> Option<Tensor<1>>;
    /// See [`Method::matrices`].
    fn matrices(&self) -> Vec<(&'static str, Tensor<2>)>;
    /// The method's embedding of `images` (evaluation mode), see [`Method::embedding`].
    fn embedding(&self, images: Tensor<4>) -> Option<Tensor<2>>;
    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)>;
    /// See [`Method::curves`].
    fn curves(&self) -> Vec<Curve>;
    /// Model checkpoints in burnpack (native only: saving reads tensors synchronously, and the page
    /// keeps a host copy of the state with [`Runner::state`] instead).
    #[cfg(not(target_family = "wasm"))]
    fn save(&self) -> Result<Vec<u8>, String>;
    #[cfg(not(target_family = "wasm"))]
    fn load(&mut self, bytes: Vec<u8>) -> Result<(), String>;
    /// The optimizer's state (momentum, Adam moments) as burnpack bytes, keyed by parameter.
    #[cfg(not(target_family = "wasm"))]
    fn save_optimizer(&self) -> Result<Vec<u8>, String>;
    #[cfg(not(target_family = "wasm"))]
    fn load_optimizer(&mut self, bytes: Vec<u8>) -> Result<(), String>;
    fn num_params(&self) -> usize;
    /// Every float tensor of the model (parameters and BatchNorm statistics) flattened, in
    /// the module's visit order; read them with async reads (see [`Session::export_state`]).
    fn state(&self) -> Vec<Tensor<1>>;
    /// Replace every float tensor, in the order [`Runner::state`] gives, with host values.
    fn set_state(&mut self, values: &[Vec<f32>]) -> Result<(), String>;
    /// The name (`backbone.SmallCnn.blocks.0.conv.weight`: the module path) and shape of every float
    /// tensor, in the order [`Runner::state`] gives.
    fn state_names(&self) -> Vec<(String, Vec<usize>)>;
}

/// Names and shapes of a module's float tensors: the path of fields (and enum variants) down
/// to each one, joined with dots, as Burn's module visitor enters them.
struct NameCollector {
    path: Vec<String>,
    out: Vec<(String, Vec<usize>)>,
}
impl ModuleVisitor for NameCollector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.out.push((self.path.join("."), param.val().dims().to_vec()));
    }
}

/// Collects every float tensor of a module, flattened (`[numel]`).
struct StateCollector(Vec<Tensor<1>>);
impl ModuleVisitor for StateCollector {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().reshape([-1])); // [numel]
    }
}

/// Writes host values back into a module's float tensors, in visit order.
struct StateWriter<'a> {
    values: &'a [Vec<f32>],
    next: usize,
    error: Option<String>,
}
impl ModuleMapper for StateWriter<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let i = self.next;
        self.next += 1;
        let shape = param.val().shape();
        match self.values.get(i) {
            Some(v) if v.len() == shape.num_elements() => param.map(|t| {
                let fresh = Tensor::from_data(TensorData::new(v.clone(), shape), &t.device());
                if t.is_require_grad() {
                    fresh.require_grad()
                } else {
                    fresh
                }
            }),
            other => {
                let got = other.map_or("nothing".to_string(), |v| format!("{} values", v.len()));
                self.error.get_or_insert(format!("tensor #{i} needs {} values, the snapshot has {got}", shape.num_elements()));
                param
            }
        }
    }
}

/// Drives one [`Method`]: `loss → backward → optimizer step → after_step`.
pub struct Trainer<M: Method> {
    method: M,
    model: Option<M::Model>,
    optim: ModuleOptimizer,
    pending: Option<Tensor<1>>,
    /// The model as it was before the pending forward: a forward in training mode already
    /// moves BatchNorm's running statistics, so a discarded step restores this copy.
    before_step: Option<M::Model>,
}

impl<M: Method> Trainer<M> {
    pub fn new(method: M, model: M::Model, optim: &OptimConfig) -> Self {
        Self { method, model: Some(model), optim: optim.build(), pending: None, before_step: None }
    }
    fn model(&self) -> &M::Model {
        self.model.as_ref().expect("the model is only taken during an optimizer step")
    }
}

impl<M: Method> Runner for Trainer<M> {
    fn stages(&self) -> Vec<Stage> {
        self.method.stages()
    }

    fn enter_stage(&mut self, index: usize, optim: &OptimConfig) {
        self.method.enter_stage(index);
        self.optim = optim.build();
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        self.method.batch_plan(batch_size)
    }

    fn forward(&mut self, batch: &Batch, ctx: &mut StepCtx) -> (Vec<&'static str>, Tensor<1>) {
        let model = self.model.as_ref().expect("model present");
        // valid() syncs the running statistics and copies them into fresh state.
        self.before_step = Some(model.valid());
        let Losses { total, terms } = self.method.loss(model, batch, ctx);
        self.pending = Some(total);
        let names = terms.iter().map(|(n, _)| *n).collect();
        let packed = Tensor::cat(terms.into_iter().map(|(_, t)| t.reshape([1])).collect(), 0);
        (names, packed)
    }

    fn apply(&mut self, lr: f64, ctx: &StepCtx) {
        let total = self.pending.take().expect("apply() follows forward()");
        self.before_step = None;
        let model = self.model.take().expect("model present");
        let grads = GradientsParams::from_grads(total.backward(), &model);
        let model = self.optim.step(lr, model, grads);
        self.model = Some(self.method.after_step(model, ctx));
    }

    fn discard(&mut self) {
        self.pending = None;
        if let Some(before) = self.before_step.take() {
            self.model = Some(before.train());
        }
    }

    fn eval_model(&self) -> EvalModel {
        EvalModel { backbone: M::backbone(&self.model().valid()).clone() }
    }

    fn test_logits(&self, images: &Tensor<4>) -> Option<Tensor<2>> {
        let valid = self.model().valid();
        let n = images.dims()[0];
        let mut chunks = Vec::new();
        for start in (0..n).step_by(eval::EMBED_CHUNK) {
            chunks.push(self.method.test_logits(&valid, images.clone().narrow(0, start, eval::EMBED_CHUNK.min(n - start)))?);
        }
        Some(Tensor::cat(chunks, 0))
    }

    fn eval_metrics(&self, images: Tensor<4>, labels: Tensor<1, Int>) -> Vec<(&'static str, Tag, Tensor<1>)> {
        self.method.eval_metrics(&self.model().valid(), images, labels)
    }

    fn pretext_accuracy(&self, images: Tensor<4>) -> Option<Tensor<1>> {
        self.method.pretext_accuracy(&self.model().valid(), images)
    }

    fn embedding(&self, images: Tensor<4>) -> Option<Tensor<2>> {
        M::embedding(&self.model().valid(), images)
    }

    fn matrices(&self) -> Vec<(&'static str, Tensor<2>)> {
        self.method.matrices()
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        self.method.model_views(&self.model().valid(), images, rng)
    }

    fn curves(&self) -> Vec<Curve> {
        self.method.curves()
    }

    #[cfg(not(target_family = "wasm"))]
    fn save(&self) -> Result<Vec<u8>, String> {
        // Burnpack, not safetensors: it keeps each parameter's id, which the optimizer's
        // state is keyed by, so a resumed run finds its momentum again.
        // From the evaluation copy: valid() syncs BatchNorm's running statistics, which the
        // last training forward updated lazily. Saving the training model wrote the
        // statistics from before that update, and a resumed run's first evaluation-mode
        // forward (SimCLR v2's teacher) then differed. Parameter ids survive valid().
        let mut store = BurnpackStore::from_bytes(None);
        self.model().valid().save_into(&mut store).map_err(|e| e.to_string())?;
        Ok(store.get_bytes().map_err(|e| e.to_string())?.to_vec())
    }

    #[cfg(not(target_family = "wasm"))]
    fn load(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        let model = self.model.as_mut().expect("model present");
        model.load_from(&mut BurnpackStore::from_bytes(Some(burn::tensor::Bytes::from_bytes_vec(bytes)))).map_err(|e| e.to_string())?;
        Ok(())
    }

    #[cfg(not(target_family = "wasm"))]
    fn save_optimizer(&self) -> Result<Vec<u8>, String> {
        Ok(self.optim.into_bytes().map_err(|e| format!("{e:?}"))?.to_vec())
    }

    #[cfg(not(target_family = "wasm"))]
    fn load_optimizer(&mut self, bytes: Vec<u8>) -> Result<(), String> {
        let record = burn::optim::OptimizerRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes)).map_err(|e| format!("{e:?}"))?;
        // A resumed run's optimizer has taken no step yet, so the clone is of an empty state.
        self.optim = self.optim.clone().load_record(record);
        Ok(())
    }

    fn num_params(&self) -> usize {
        self.model().num_params()
    }

    fn state(&self) -> Vec<Tensor<1>> {
        let mut collector = StateCollector(Vec::new());
        self.model().valid().visit(&mut collector);
        collector.0
    }

    fn state_names(&self) -> Vec<(String, Vec<usize>)> {
        let mut names = NameCollector { path: Vec::new(), out: Vec::new() };
        self.model().valid().visit(&mut names);
        names.out
    }

    fn set_state(&mut self, values: &[Vec<f32>]) -> Result<(), String> {
        let mut writer = StateWriter { values, next: 0, error: None };
        let model = self.model.take().expect("model present").map(&mut writer);
        self.model = Some(model);
        match writer.error {
            Some(e) => Err(e),
            None if writer.next != values.len() => Err(format!("the snapshot has {} tensors, the model {}", values.len(), writer.next)),
            None => Ok(()),
        }
    }
}

