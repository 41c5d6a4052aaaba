//! The Session: owns the data, the method's trainer and the run's position, and is driven
//! one step at a time, so the CLI, the tests and the page's worker all work the same way.
//! What to do after a step (evaluate, keep a snapshot, finish) is [`Session::after_step`],
//! the one run policy both the CLI and the worker follow.
//!
//! Every tensor read is async (`into_data_async`), the only kind that works on WebGPU in a
//! browser; natively the CLI drives the futures with [`crate::exec::block_on`].
use crate::backbone::Backbone;
#[cfg(not(target_family = "wasm"))]
use crate::checkpoint::{Checkpoint, ResumeState};
use crate::config::RunConfig;
use crate::data::{classes_or_unknown, labelled_subset, unlabelled_images, DeviceSplit, Pack, Sampler};
use crate::eval;
use crate::limits::{self, DataShape, MemoryEstimate};
use crate::methods::{stage_spans, Batch, Setup, Stage, StepCtx};
use crate::registry::MethodKind;
use crate::optim::OptimConfig;
use crate::report::{AttentionMaps, CurveInfo, EvalReport, LayerKnn, Matrix, MethodInfo, Metric, Neighbour, PseudoLabel, StepReport};
use crate::rng::Rng;
use crate::trainer::Runner;
use burn::prelude::*;

/// What a step or an evaluation can fail with; each message says what to do.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionError {
    /// A loss term came out NaN or infinite at `step` (counted from 1, as in step reports);
    /// the step was not applied, so the model is the one from the step before.
    NonFinite { step: usize, term: String },
    Config(String),
    Device(String),
    Checkpoint(String),
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionError::NonFinite { step, term } => write!(
                f,
                "loss term '{term}' became NaN or infinite at step {step}; the step was skipped and the model kept. \
                 Lower the learning rate (or raise the temperature) and resume"
            ),
            SessionError::Config(e) => write!(f, "{e}"),
            SessionError::Device(e) => write!(f, "the compute device failed: {e}"),
            SessionError::Checkpoint(e) => write!(f, "checkpoint error: {e}"),
        }
    }
}
impl std::error::Error for SessionError {}

impl SessionError {
    /// The kind, as it crosses to JavaScript: `nan`, `config`, `device`, `checkpoint`. The
    /// page decides what to do by kind, never by reading the message.
    pub fn kind(&self) -> &'static str {
        match self {
            SessionError::NonFinite { .. } => "nan",
            SessionError::Config(_) => "config",
            SessionError::Device(_) => "device",
            SessionError::Checkpoint(_) => "checkpoint",
        }
    }
}

/// A host clock in milliseconds; the web facade passes `performance.now()`.
pub type Clock = Box<dyn Fn() -> f64>;

#[cfg(not(target_family = "wasm"))]
pub fn native_clock() -> Clock {
    let start = std::time::Instant::now();
    Box::new(move || start.elapsed().as_secs_f64() * 1e3)
}

/// kNN accuracy of every backbone stage.
#[derive(Clone, Debug)]
pub struct LayerAccuracy {
    pub names: Vec<String>,
    pub accuracy: Vec<f64>,
}

pub struct Session {
    pub config: RunConfig,
    pub kind: MethodKind,
    pub pack_info: PackInfo,
    runner: Box<dyn Runner>,
    /// The method's stages, their step ranges, and each one's optimizer (the run's where the
    /// stage names none).
    stages: Vec<Stage>,
    stage_spans: Vec<std::ops::Range<usize>>,
    stage_optims: Vec<OptimConfig>,
    /// The stage the runner is in.
    stage: usize,
    /// The labelled train split: the kNN bank, the labelled subset, retrieval.
    train: DeviceSplit,
    /// What training draws from: `train`'s images, then the pack's unlabelled ones `[P, C, H, W]`.
    pool: Tensor<4>,
    test: DeviceSplit,
    labelled: Option<Sampler>,
    unlabelled: Sampler,
    data_rng: Rng,
    view_rng: Rng,
    step: usize,
    device: Device,
    ad_device: Device,
    clock: Clock,
    /// The train split embedded at every backbone stage (last = final features), and the step
    /// it was embedded at.
    bank_cache: Option<(usize, Vec<Tensor<2>>)>,
    /// kNN by layer of the untrained model, once measured.
    random_init: Option<LayerAccuracy>,
    /// The untrained backbone, kept until its baseline is measured, so that the page can show
    /// step 1 first and measure the baseline after it (the weights' buffers are shared, not
    /// copied, until the first optimizer step replaces the model's).
    initial_backbone: Option<Backbone>,
    /// What [`limits::check_run`] estimated for this run.
    pub memory: MemoryEstimate,
}

/// Steps between host copies of the weights on WebGPU, for "Resume on CPU" after a lost
/// device: a copy costs one read of every tensor, a few milliseconds for these models.
pub const SNAPSHOT_EVERY: usize = 25;

/// What to do after a step: the run policy, decided here once for the CLI and the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AfterStep {
    /// Evaluate now: every `eval_every` steps, at the end of every stage of a staged method,
    /// and after the last step.
    pub evaluate: bool,
    /// Keep a host copy of the weights (the page does, on WebGPU): at every evaluation and
    /// every [`SNAPSHOT_EVERY`] steps.
    pub snapshot: bool,
    /// Every step of the run is done.
    pub finished: bool,
}

/// What the page shows of a session once it is built.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SessionInfo {
    /// `webgpu` or `cpu` in the browser.
    pub backend: String,
    pub dataset: PackInfo,
    pub config: RunConfig,
    pub num_params: usize,
    pub images_per_step: usize,
    pub method: MethodInfo,
    /// The method's stages and their step ranges `[start, end)`.
    pub stages: Vec<StageSpan>,
    /// The backbone's stages, whose kNN each evaluation reports (`knn_by_layer`).
    pub layers: Vec<String>,
    /// The labelled training images (train-split indices, by class), for the page's grid;
    /// empty when the method uses no labels.
    pub labelled: Vec<usize>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct StageSpan {
    pub name: String,
    pub start: usize,
    pub end: usize,
}

/// Dataset facts the page and reports need.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PackInfo {
    pub name: String,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub class_names: Vec<String>,
    pub n_train: usize,
    pub n_test: usize,
    pub n_labelled: usize,
    /// Images without a class that train too (your own images outside any class folder).
    pub n_unlabelled: usize,
}

/// Held while a session seeds the backend and draws its initial weights.
static INITIAL_WEIGHTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Session {
    /// Build a session on `device` (plain; training uses its autodiff twin).
    pub fn new(config: RunConfig, pack: &Pack, device: Device, clock: Clock) -> Result<Session, SessionError> {
        // Every range and the memory estimate, before the model or the dataset is allocated.
        let shape = DataShape {
            channels: pack.channels,
            height: pack.height,
            width: pack.width,
            n_classes: pack.n_classes(),
            n_train: pack.train.len(),
            n_test: pack.test.len(),
            n_unlabelled: pack.n_unlabelled(),
        };
        let memory = limits::check_run(&config, &shape, limits::memory_budget()).map_err(SessionError::Config)?;
        let kind = config.method_kind().map_err(SessionError::Config)?;
        let optim = config.optimizer().map_err(SessionError::Config)?;
        // The backend's generator is one per process: hold it from seeding to the last initial
        // weight, so sessions built at the same time (parallel tests) still start from their
        // seed's weights.
        let init_guard = INITIAL_WEIGHTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        device.seed(config.seed);
        let ad_device = device.clone().autodiff();
        let mut train = DeviceSplit::new(&pack.train, pack, config.train_limit, &device);
        let test = DeviceSplit::new(&pack.test, pack, config.test_limit, &device);
        let pool = match unlabelled_images(pack, &device) {
            Some(extra) => {
                let pool = Tensor::cat(vec![train.images.clone(), extra], 0);
                // The labelled images once, in the pool: `train` is its first rows.
                train.images = pool.clone().narrow(0, 0, train.len());
                pool
            }
            None => train.images.clone(),
        };
        let pool_len = pool.dims()[0];
        let root = Rng::new(config.seed);
        let data_rng = root.fork(b"data");
        let labelled = if kind.uses_labels() {
            let idx = labelled_subset(&train.labels, pack.n_classes(), config.labels_per_class, &mut root.fork(b"labels"))
                .map_err(SessionError::Config)?;
            Some(idx)
        } else {
            None
        };
        let n_labelled = labelled.as_ref().map_or(0, Vec::len);
        let setup = Setup {
            backbone: config.backbone,
            width: config.width,
            channels: pack.channels,
            height: pack.height,
            width_px: pack.width,
            n_classes: pack.n_classes(),
            // Digits change meaning when mirrored; clothes and most photos do not.
            flip_invariant: pack.name != "mnist",
            n_train: pool_len,
            train_images: pool.clone(),
            labelled: labelled.iter().flatten().map(|&i| (i, train.labels[i] as usize)).collect(),
            train_truth: train.labels.clone(),
            seed: config.seed,
            device: ad_device.clone(),
        };
        let mut runner = kind.build(&config.params, &setup, &optim).map_err(SessionError::Config)?;
        drop(init_guard);
        let stages = runner.stages();
        let stage_spans = stage_spans(&stages, config.steps);
        let stage_optims: Vec<OptimConfig> = stages.iter().map(|s| s.optimizer.clone().unwrap_or_else(|| optim.clone())).collect();
        runner.enter_stage(0, &stage_optims[0]);
        let unlabelled = Sampler::new((0..pool_len).collect());
        let labelled = labelled.map(Sampler::new);
        let pack_info = PackInfo {
            name: pack.name.clone(),
            channels: pack.channels,
            height: pack.height,
            width: pack.width,
            class_names: pack.class_names.clone(),
            n_train: train.len(),
            n_test: test.len(),
            n_labelled,
            n_unlabelled: pool_len - train.len(),
        };
        let initial_backbone = Some(runner.eval_model().backbone);
        Ok(Session {
            config,
            kind,
            pack_info,
            runner,
            stages,
            stage_spans,
            stage_optims,
            stage: 0,
            train,
            pool,
            test,
            labelled,
            unlabelled,
            data_rng,
            view_rng: root.fork(b"views"),
            step: 0,
            device,
            ad_device,
            clock,
            bank_cache: None,
            random_init: None,
            initial_backbone,
            memory,
        })
    }

    pub fn step_count(&self) -> usize {
        self.step
    }
    pub fn num_params(&self) -> usize {
        self.runner.num_params()
    }
    pub fn device(&self) -> &Device {
        &self.device
    }
    pub fn test_split(&self) -> &DeviceSplit {
        &self.test
    }
    pub fn train_split(&self) -> &DeviceSplit {
        &self.train
    }
    /// The stage step `step` (0-based) falls in.
    fn stage_at(&self, step: usize) -> usize {
        self.stage_spans.iter().position(|span| span.contains(&step)).unwrap_or(self.stage_spans.len() - 1)
    }

    /// The name of the stage the next step belongs to.
    pub fn stage_name(&self) -> &'static str {
        self.stages[self.stage_at(self.step)].name
    }

    /// The stages' names and step ranges, for reports.
    pub fn stage_plan(&self) -> Vec<StageSpan> {
        self.stages.iter().zip(&self.stage_spans).map(|(s, span)| StageSpan { name: s.name.into(), start: span.start, end: span.end }).collect()
    }

    /// What the page shows of this session; `backend` names the device in the browser.
    pub fn info(&self, backend: &str) -> SessionInfo {
        SessionInfo {
            backend: backend.into(),
            dataset: self.pack_info.clone(),
            config: self.config.clone(),
            num_params: self.num_params(),
            images_per_step: self.images_per_step(),
            method: MethodInfo { curves: self.runner.curves().iter().map(CurveInfo::from).collect(), ..self.kind.info() },
            stages: self.stage_plan(),
            layers: self.runner.eval_model().backbone.stage_names(),
            labelled: self.labelled_indices(),
        }
    }

    /// Put the runner in the stage of step `step` (0-based); a new stage starts a fresh
    /// optimizer.
    fn enter_stage_of(&mut self, step: usize) {
        let stage = self.stage_at(step);
        if stage != self.stage {
            self.runner.enter_stage(stage, &self.stage_optims[stage]);
            self.stage = stage;
        }
    }

    /// The learning rate of the next step: its stage's schedule over the stage's own steps.
    pub fn lr(&self) -> f64 {
        let stage = self.stage_at(self.step);
        let span = &self.stage_spans[stage];
        self.stage_optims[stage].lr_at(self.step - span.start, span.len())
    }

    /// The run policy after the step just taken (see [`AfterStep`]).
    pub fn after_step(&self) -> AfterStep {
        let step = self.step;
        let finished = step >= self.config.steps;
        let every = self.config.eval_every;
        let stage_end = self.stage_spans.iter().any(|span| span.end == step && !span.is_empty());
        let evaluate = step > 0 && (finished || (every > 0 && step % every == 0) || (self.stages.len() > 1 && stage_end));
        AfterStep { evaluate, snapshot: step > 0 && (evaluate || step % SNAPSHOT_EVERY == 0), finished }
    }

    /// Draw the next batch on the plain device.
    pub fn next_batch(&mut self) -> Batch {
        let plan = self.runner.batch_plan(self.config.batch_size);
        let unlabelled_index = if plan.unlabelled > 0 { self.unlabelled.next(plan.unlabelled, &mut self.data_rng) } else { Vec::new() };
        let labelled_index = match (&mut self.labelled, plan.labelled) {
            (Some(sampler), n) if n > 0 => sampler.next(n, &mut self.data_rng),
            _ => Vec::new(),
        };
        // The hidden true classes of the unlabelled draw, for diagnostics: -1 for an image with
        // none (the pack's unlabelled images), and no truth at all when none has one.
        let any_known = unlabelled_index.iter().any(|&i| i < self.train.len());
        Batch {
            unlabelled_truth: any_known.then(|| classes_or_unknown(&self.train.labels, &unlabelled_index, &self.device)),
            unlabelled: (!unlabelled_index.is_empty()).then(|| self.pool.clone().select(0, Batch::index_tensor(&unlabelled_index, &self.device))),
            labelled: (!labelled_index.is_empty()).then(|| self.train.gather(&labelled_index)),
            unlabelled_index,
            labelled_index,
        }
    }

    /// Images drawn per step (labelled + unlabelled source images, before views).
    pub fn images_per_step(&self) -> usize {
        let p = self.runner.batch_plan(self.config.batch_size);
        p.labelled + p.unlabelled
    }

    /// One training step. A non-finite loss skips the update and returns an error naming
    /// the step and the term; the session stays usable.
    pub async fn step(&mut self) -> Result<StepReport, SessionError> {
        let t0 = (self.clock)();
        self.enter_stage_of(self.step);
        let batch = self.next_batch();
        let lr = self.lr();
        let mut ctx = StepCtx { step: self.step, total_steps: self.config.steps, rng: &mut self.view_rng, device: &self.ad_device };
        let (names, packed) = self.runner.forward(&batch, &mut ctx);
        let values = read_f32(packed).await?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            self.runner.discard();
            // Steps are counted from 1 in reports: the failing one is the next.
            return Err(SessionError::NonFinite { step: self.step + 1, term: names[i].to_string() });
        }
        self.runner.apply(lr, &ctx);
        self.step += 1;
        self.bank_cache = None;
        let seconds = (((self.clock)() - t0) / 1e3).max(1e-9);
        Ok(StepReport {
            kind: "step",
            step: self.step,
            stage: self.stages[self.stage].name.to_string(),
            terms: names.iter().zip(&values).map(|(n, v)| (n.to_string(), *v as f64)).collect(),
            lr,
            images_per_s: self.images_per_step() as f64 / seconds,
        })
    }

    /// kNN accuracy per backbone stage on the test split, bank = train split.
    pub async fn knn_by_layer(&self) -> Result<LayerAccuracy, SessionError> {
        self.knn_by_layer_of(&self.runner.eval_model().backbone).await
    }

    async fn knn_by_layer_of(&self, backbone: &Backbone) -> Result<LayerAccuracy, SessionError> {
        let bank = eval::embed_stages(backbone, &self.train.images);
        let queries = eval::embed_stages(backbone, &self.test.images);
        let accuracy = read_f32(Tensor::cat(self.knn_per_stage(&bank, &queries), 0)).await?.into_iter().map(f64::from).collect();
        Ok(LayerAccuracy { names: backbone.stage_names(), accuracy })
    }

    /// kNN accuracy `[1]` of the test split at each stage, from the stages' normalised train
    /// features `banks` and test features `queries`.
    fn knn_per_stage(&self, banks: &[Tensor<2>], queries: &[Tensor<2>]) -> Vec<Tensor<1>> {
        let (bank_labels, test_labels, n_classes) = (self.train.label_tensor(), self.test.label_tensor(), self.pack_info.class_names.len());
        banks
            .iter()
            .zip(queries)
            .map(|(bank, q)| eval::agreement(eval::knn_predict(bank, &bank_labels, q, n_classes, self.config.knn_k, self.config.knn_temperature), test_labels.clone()))
            .collect()
    }

    /// Measure and keep the untrained model's kNN per layer: before the first step, or later
    /// from the untrained backbone the session kept (the page measures it after step 1, so
    /// that the baseline does not hold up the first step).
    pub async fn measure_random_init(&mut self) -> Result<LayerAccuracy, SessionError> {
        let backbone = match (self.step, self.initial_backbone.take()) {
            (0, _) => self.runner.eval_model().backbone,
            (_, Some(initial)) => initial,
            (_, None) => return Err(SessionError::Config("the random-init baseline can no longer be measured: the run was resumed or loaded from saved weights".into())),
        };
        let layers = self.knn_by_layer_of(&backbone).await?;
        self.random_init = Some(layers.clone());
        Ok(layers)
    }

    pub fn random_init(&self) -> Option<&LayerAccuracy> {
        self.random_init.as_ref()
    }

    /// kNN at every backbone stage (the final one is `knn_acc`), the classifier's test
    /// accuracy (semi-supervised) and the pretext accuracy (pretext methods).
    pub async fn evaluate(&mut self) -> Result<EvalReport, SessionError> {
        let model = self.runner.eval_model();
        let banks = self.bank_stages(&model.backbone);
        let mut query_stages = eval::embed_stages(&model.backbone, &self.test.images);
        let test_labels = self.test.label_tensor();
        let layer_accs = self.knn_per_stage(&banks, &query_stages);
        let n_layers = layer_accs.len();
        let queries = query_stages.pop().expect("a backbone has at least one stage");
        // Collapse shows first where the loss acts: the method's embedding when it has one.
        let embedded = self.runner.embedding(self.pretext_images()).map(crate::loss::l2_normalize).unwrap_or_else(|| queries.clone());
        let [rows, dim] = embedded.dims();
        let rank_limit = eval::rank_limit(rows, dim);
        let (embedding_std, spectrum) = eval::collapse_stats(embedded);
        let mut parts = layer_accs;
        parts.push(embedding_std);
        let logits = self.runner.test_logits(&self.test.images);
        let has_classifier = logits.is_some();
        let n_classes = self.pack_info.class_names.len();
        let mut confusion = None;
        if let Some(logits) = logits {
            let n = logits.dims()[0];
            let preds = logits.argmax(1).reshape([n]);
            parts.push(eval::agreement(preds.clone(), test_labels.clone()));
            confusion = Some(eval::confusion(preds, test_labels.clone(), n_classes).reshape([n_classes * n_classes]));
        }
        let pretext = self.runner.pretext_accuracy(self.pretext_images());
        let has_pretext = pretext.is_some();
        parts.extend(pretext);
        let metrics = self.runner.eval_metrics(self.test.images.clone(), test_labels);
        parts.extend(metrics.iter().map(|(_, _, value)| value.clone()));
        let has_confusion = confusion.is_some();
        parts.extend(confusion);
        // One read for every number of the evaluation.
        let values = read_f32(Tensor::cat(parts, 0)).await?;
        let mut it = values.into_iter().map(f64::from);
        let knn_by_layer: Vec<f64> = it.by_ref().take(n_layers).collect();
        let knn_acc = knn_by_layer.last().copied().unwrap_or(f64::NAN);
        let embedding_std = it.next().unwrap_or(f64::NAN);
        let test_acc = has_classifier.then(|| it.next()).flatten();
        let pretext_acc = has_pretext.then(|| it.next()).flatten();
        let metrics = metrics.iter().map(|(name, tag, _)| Metric { name: name.to_string(), tag: *tag, value: it.next().unwrap_or(f64::NAN) }).collect();
        let confusion = has_confusion.then(|| it.by_ref().take(n_classes * n_classes).map(|count| count.round() as u32).collect());
        let spectrum_side = spectrum.dims()[0];
        let effective_rank = eval::effective_rank(&read_f32(spectrum.reshape([-1])).await?, spectrum_side);
        let stage = self.stages[self.stage_at(self.step.saturating_sub(1))].name.to_string();
        Ok(EvalReport { kind: "eval".into(), step: self.step, knn_acc, knn_by_layer, test_acc, pretext_acc, embedding_std, effective_rank, rank_limit, embedding_dim: dim, stage, metrics, confusion })
    }

    /// The labelled training images, by class (see [`SessionInfo::labelled`]).
    pub fn labelled_indices(&self) -> Vec<usize> {
        let mut indices = self.labelled.as_ref().map(|s| s.pool().to_vec()).unwrap_or_default();
        indices.sort_by_key(|&i| (self.train.labels[i], i));
        indices
    }

    /// The classifier's guesses for `n` unlabelled training images spread evenly over the split
    /// (the same images at every call), with their confidence and hidden true class; empty for
    /// methods without a classifier.
    pub async fn pseudo_labels(&self, n: usize) -> Result<Vec<PseudoLabel>, SessionError> {
        let labelled: std::collections::HashSet<usize> = self.labelled_indices().into_iter().collect();
        let unlabelled: Vec<usize> = (0..self.train.len()).filter(|i| !labelled.contains(i)).collect();
        if unlabelled.is_empty() || n == 0 {
            return Ok(Vec::new());
        }
        let n = n.min(unlabelled.len());
        let picked: Vec<usize> = (0..n).map(|j| unlabelled[j * unlabelled.len() / n]).collect();
        let images = self.train.images.clone().select(0, crate::methods::Batch::index_tensor(&picked, &self.device));
        let Some(logits) = self.runner.test_logits(&images) else { return Ok(Vec::new()) };
        let probs = burn::tensor::activation::softmax(logits, 1);
        let (confidence, predicted) = probs.max_dim_with_indices(1);
        let values = read_f32(Tensor::cat(vec![confidence.reshape([n]), predicted.reshape([n]).float()], 0)).await?;
        Ok(picked
            .iter()
            .enumerate()
            .map(|(j, &index)| PseudoLabel { index, predicted: values[n + j] as u8, confidence: values[j], truth: self.train.labels[index] })
            .collect())
    }

    /// Up to 1000 clean test images for the pretext task (×4 for RotNet).
    fn pretext_images(&self) -> Tensor<4> {
        let n = self.test.len().min(1000);
        self.test.images.clone().narrow(0, 0, n)
    }

    /// The train split's normalised features at every backbone stage, embedded once per step.
    fn bank_stages(&mut self, backbone: &Backbone) -> Vec<Tensor<2>> {
        match &self.bank_cache {
            Some((step, banks)) if *step == self.step => banks.clone(),
            _ => {
                let banks = eval::embed_stages(backbone, &self.train.images);
                self.bank_cache = Some((self.step, banks.clone()));
                banks
            }
        }
    }

    /// The train split's normalised final features: the retrieval bank.
    fn bank(&mut self, backbone: &Backbone) -> Tensor<2> {
        self.bank_stages(backbone).pop().expect("a backbone has at least one stage")
    }

    /// Top-k train images nearest to test image `index` in the current embedding.
    pub async fn neighbours_of_test(&mut self, index: usize, k: usize) -> Result<Vec<Neighbour>, SessionError> {
        let image = self.test_images(&[index])?;
        self.neighbours_of_image(image, k).await
    }

    /// Top-k train images nearest to any image `[1, C, H, W]` in [0, 1] (e.g. the user's own).
    pub async fn neighbours_of_image(&mut self, image: Tensor<4>, k: usize) -> Result<Vec<Neighbour>, SessionError> {
        let [_, c, h, w] = image.dims();
        let p = &self.pack_info;
        if (c, h, w) != (p.channels, p.height, p.width) {
            return Err(SessionError::Config(format!("query image is {c}×{h}×{w}; this dataset's images are {}×{}×{}", p.channels, p.height, p.width)));
        }
        let model = self.runner.eval_model();
        let bank = self.bank(&model.backbone);
        let query = eval::embed(&model.backbone, &image);
        let (idx, sim) = eval::nearest(&bank, query, k);
        let idx = read_i64(idx.float()).await?;
        let sim = read_f32(sim).await?;
        Ok(idx
            .into_iter()
            .zip(sim)
            .map(|(i, s)| Neighbour { index: i as usize, label: self.train.labels[i as usize], similarity: s })
            .collect())
    }

    /// The last block's CLS attention maps of the test images `indices`, from the evaluation
    /// copy of the model. Empty when the backbone has no attention (the CNNs).
    pub async fn attention_maps(&self, indices: &[usize]) -> Result<Vec<AttentionMaps>, SessionError> {
        if indices.is_empty() {
            return Ok(Vec::new());
        }
        let images = self.test_images(indices)?;
        let model = self.runner.eval_model();
        let Some((attention, (rows, cols))) = eval::cls_attention(&model.backbone, images) else { return Ok(Vec::new()) };
        let [_, heads, patches] = attention.dims();
        let entropy = read_f32(eval::attention_entropy(attention.clone()).reshape([-1])).await?;
        let values = read_f32(attention.reshape([-1])).await?;
        Ok(indices
            .iter()
            .enumerate()
            .map(|(i, &index)| {
                let per_head: Vec<Vec<f32>> = (0..heads).map(|h| values[(i * heads + h) * patches..][..patches].to_vec()).collect();
                let mean = (0..patches).map(|p| per_head.iter().map(|m| m[p]).sum::<f32>() / heads as f32).collect();
                let entropy = entropy[i * heads..][..heads].iter().sum::<f32>() / heads as f32;
                AttentionMaps { index, rows, cols, heads: per_head, mean, entropy }
            })
            .collect())
    }

    /// The method's diagnostic matrices from its last step, read to the host.
    pub async fn matrices(&self) -> Result<Vec<Matrix>, SessionError> {
        let mut out = Vec::new();
        for (name, m) in self.runner.matrices() {
            let [rows, cols] = m.dims();
            out.push(Matrix { name: name.to_string(), rows, cols, values: read_f32(m.reshape([-1])).await? });
        }
        Ok(out)
    }

    /// The augmented views the method would feed the network for the first `n` train images.
    pub fn views(&mut self, n: usize) -> Vec<(String, Tensor<4>)> {
        let images = self.train.images.clone().narrow(0, 0, n.min(self.train.len()));
        self.views_of(images)
    }

    /// The same views for the test images `indices`: MaskFeat's page shows the masked input,
    /// the HOG target and the model's predicted HOG of a test image the user picks.
    pub fn test_views(&mut self, indices: &[usize]) -> Result<Vec<(String, Tensor<4>)>, SessionError> {
        if indices.is_empty() {
            return Err(SessionError::Config("no test image was given for the views".into()));
        }
        let images = self.test_images(indices)?;
        Ok(self.views_of(images))
    }

    /// The test images `indices`, `[n, C, H, W]`; an index past the split is refused by name.
    fn test_images(&self, indices: &[usize]) -> Result<Tensor<4>, SessionError> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.test.len()) {
            return Err(SessionError::Config(format!("test image {bad} does not exist; the test split has {} images", self.test.len())));
        }
        Ok(self.test.images.clone().select(0, Batch::index_tensor(indices, &self.device)))
    }

    fn views_of(&mut self, images: Tensor<4>) -> Vec<(String, Tensor<4>)> {
        let mut rng = self.view_rng.fork(b"preview");
        let mut out = vec![("original".to_string(), images.clone())];
        out.extend(self.runner.views(images, &mut rng));
        out
    }

    /// 2-D PCA map of the test split's final features.
    pub async fn embedding_map(&self) -> Result<Vec<[f32; 2]>, SessionError> {
        let model = self.runner.eval_model();
        let feats = eval::embed(&model.backbone, &self.test.images);
        let xy = read_f32(eval::pca_2d(feats, 50).reshape([-1])).await?;
        Ok(xy.chunks(2).map(|c| [c[0], c[1]]).collect())
    }

    /// The final features of the first `n` test images, `[n, D]` row-major, and D: what the
    /// Projector export writes ([`crate::export`]).
    pub async fn test_embeddings(&self, n: usize) -> Result<(Vec<f32>, usize), SessionError> {
        let model = self.runner.eval_model();
        let n = n.min(self.test.len()).max(1);
        let feats = eval::embed(&model.backbone, &self.test.images.clone().narrow(0, 0, n)); // [n, D]
        let dim = feats.dims()[1];
        Ok((read_f32(feats.reshape([-1])).await?, dim))
    }

    /// The Projector zip of the first `n` test images (at most what one sprite holds).
    pub async fn projector_zip(&self, pack: &Pack, n: usize) -> Result<Vec<u8>, SessionError> {
        let n = n.min(self.test.len()).min(crate::export::max_images(pack.height, pack.width)).max(1);
        let (embeddings, dim) = self.test_embeddings(n).await?;
        let name = format!("{} · {} · {} · step {}", self.config.method, self.config.backbone.id(), pack.name, self.step_count());
        let input = crate::export::ProjectorInput {
            name: &name,
            embeddings: &embeddings,
            dim,
            labels: &pack.test.labels[..n],
            class_names: &pack.class_names,
            pixels: &pack.test.pixels[..n * pack.image_len()],
            channels: pack.channels,
            height: pack.height,
            width: pack.width,
        };
        crate::export::projector_zip(&input).map_err(SessionError::Config)
    }

    /// Linear probe accuracy on frozen final features (train split → test split).
    pub async fn linear_probe(&self, epochs: usize) -> Result<f64, SessionError> {
        let model = self.runner.eval_model();
        let bank = eval::embed(&model.backbone, &self.train.images);
        let queries = eval::embed(&model.backbone, &self.test.images);
        let acc = eval::linear_probe(bank, self.train.label_tensor(), queries, self.test.label_tensor(), self.pack_info.class_names.len(), epochs, &self.ad_device);
        Ok(read_f32(acc).await?[0] as f64)
    }

    /// kNN by layer, paired with the random-init numbers when they were measured.
    pub async fn layer_report(&self) -> Result<Vec<LayerKnn>, SessionError> {
        let trained = self.knn_by_layer().await?;
        Ok(trained
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| LayerKnn {
                layer: name.clone(),
                trained: trained.accuracy[i],
                untrained: self.random_init.as_ref().map_or(f64::NAN, |r| r.accuracy[i]),
            })
            .collect())
    }

    /// A checkpoint of the whole run: weights, optimizer state, step, random streams and
    /// samplers ([`crate::checkpoint`]). Native only: it reads tensors synchronously; the
    /// browser keeps [`Session::export_state`].
    #[cfg(not(target_family = "wasm"))]
    pub fn checkpoint(&self) -> Result<Vec<u8>, SessionError> {
        let state = ResumeState {
            config: self.config.clone(),
            step: self.step,
            data_rng: self.data_rng.clone(),
            view_rng: self.view_rng.clone(),
            unlabelled: self.unlabelled.clone(),
            labelled: self.labelled.clone(),
            random_init: self.random_init.as_ref().map(|r| (r.names.clone(), r.accuracy.clone())),
        };
        let model = self.runner.save().map_err(SessionError::Checkpoint)?;
        let optimizer = self.runner.save_optimizer().map_err(SessionError::Checkpoint)?;
        Ok(Checkpoint { state, model, optimizer }.encode())
    }

    /// Continue from a checkpoint of this same run (the config must match, but for the
    /// learning rate, which a run that hit a NaN may lower): the next step is the one the
    /// checkpointed run would have taken, on the same batch, views and schedule.
    #[cfg(not(target_family = "wasm"))]
    pub fn resume(&mut self, checkpoint: Checkpoint) -> Result<(), SessionError> {
        let state = checkpoint.state;
        // The same run, up to the learning rate.
        let run_of = |c: &RunConfig| {
            let mut c = c.clone();
            c.optimizer = c.optimizer().ok().map(|o| OptimConfig { lr: 0.0, ..o });
            c
        };
        if run_of(&state.config) != run_of(&self.config) {
            return Err(SessionError::Checkpoint(format!(
                "the checkpoint is of another run ({}); resume it with its own settings",
                serde_json::to_string(&state.config).unwrap_or_default()
            )));
        }
        // The pool (labelled train images, then unlabelled ones) must be this run's: the same
        // size, and labelled indices within the labelled images.
        let same_pool = state.unlabelled.pool().len() == self.unlabelled.pool().len() && state.unlabelled.indices_below(self.pool.dims()[0]);
        let labelled_in_range = state.labelled.as_ref().is_none_or(|s| s.indices_below(self.train.len()));
        if state.step > self.config.steps || !same_pool || !labelled_in_range || state.labelled.is_some() != self.labelled.is_some() {
            return Err(SessionError::Checkpoint("the checkpoint's position does not fit this dataset; was the dataset changed?".into()));
        }
        self.runner.load(checkpoint.model).map_err(|e| SessionError::Checkpoint(format!("{e}; the checkpoint does not fit this model")))?;
        // The saved optimizer state is that of the stage of the last step taken (at a stage
        // boundary, the stage that ended): enter it, load the state, and let the next step
        // start the new stage with a fresh optimizer, as the uninterrupted run does.
        self.step = state.step;
        self.enter_stage_of(state.step.saturating_sub(1));
        self.runner.load_optimizer(checkpoint.optimizer).map_err(|e| SessionError::Checkpoint(format!("optimizer state: {e}")))?;
        self.step = state.step;
        self.data_rng = state.data_rng;
        self.view_rng = state.view_rng;
        self.unlabelled = state.unlabelled;
        self.labelled = state.labelled;
        self.random_init = state.random_init.map(|(names, accuracy)| LayerAccuracy { names, accuracy });
        self.bank_cache = None;
        Ok(())
    }

    /// The model's state (parameters and BatchNorm statistics) on the host, read with async
    /// reads so it works on WebGPU. The page keeps the latest one, so a run whose GPU is lost
    /// can resume on the CPU from it.
    pub async fn export_state(&self) -> Result<Vec<Vec<f32>>, SessionError> {
        let mut out = Vec::new();
        for t in self.runner.state() {
            out.push(read_f32(t).await?);
        }
        Ok(out)
    }

    /// Load a state from [`Session::export_state`] (possibly taken on another device) and
    /// continue the schedule from `step`. Optimizer momentum restarts from zero.
    pub fn import_state(&mut self, values: &[Vec<f32>], step: usize) -> Result<(), SessionError> {
        self.runner
            .set_state(values)
            .map_err(|e| SessionError::Checkpoint(format!("{e}; the snapshot is from another method, backbone or width")))?;
        self.step = step;
        self.enter_stage_of(step);
        self.bank_cache = None;
        self.initial_backbone = None;
        Ok(())
    }

    /// Every float tensor of the model (parameters and BatchNorm statistics) as safetensors,
    /// named by module path, read with async reads; the metadata names the run.
    pub async fn weights_safetensors(&self) -> Result<Vec<u8>, SessionError> {
        let names = self.runner.state_names();
        let values = self.export_state().await?;
        let tensors: Vec<crate::weights::NamedTensor> =
            names.into_iter().zip(values).map(|((name, shape), values)| crate::weights::NamedTensor { name, shape, values }).collect();
        let c = &self.config;
        let metadata = std::collections::BTreeMap::from([
            ("format".to_string(), "pt".to_string()),
            ("producer".to_string(), "ssl-playground".to_string()),
            ("method".to_string(), c.method.clone()),
            ("backbone".to_string(), c.backbone.id().to_string()),
            ("width".to_string(), c.width.to_string()),
            ("dataset".to_string(), c.dataset.clone()),
            ("step".to_string(), self.step.to_string()),
            ("config".to_string(), serde_json::to_string(c).unwrap_or_default()),
        ]);
        Ok(crate::weights::encode(&tensors, &metadata))
    }

    /// Replace the model's tensors with a safetensors file's, matched by name and shape.
    #[cfg(not(target_family = "wasm"))]
    fn load_safetensors(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        let (tensors, _) = crate::weights::decode(bytes).map_err(SessionError::Checkpoint)?;
        let mut by_name: std::collections::HashMap<String, crate::weights::NamedTensor> = tensors.into_iter().map(|t| (t.name.clone(), t)).collect();
        let mut values = Vec::new();
        for (name, shape) in self.runner.state_names() {
            let t = by_name.remove(&name).ok_or_else(|| {
                SessionError::Checkpoint(format!("the weights have no tensor {name}; were they saved from the same method, backbone and width?"))
            })?;
            if t.shape != shape {
                return Err(SessionError::Checkpoint(format!("{name} is {:?} in the weights and {shape:?} in this model; use the width they were saved with", t.shape)));
            }
            values.push(t.values);
        }
        if let Some(extra) = by_name.keys().next() {
            return Err(SessionError::Checkpoint(format!("the weights hold {extra}, which this model has not; were they saved from another method?")));
        }
        self.runner.set_state(&values).map_err(SessionError::Checkpoint)
    }

    /// Start from saved weights only (`sslp train --load`): a checkpoint (`.ckpt`) or
    /// safetensors (the page's weights export). The step, optimizer and data order start
    /// afresh. A checkpoint's checksum is verified first.
    #[cfg(not(target_family = "wasm"))]
    pub fn load_weights(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        // A checkpoint's checksum is verified before anything of the session changes.
        let checkpoint = bytes.starts_with(crate::checkpoint::MAGIC).then(|| Checkpoint::decode(bytes)).transpose().map_err(SessionError::Checkpoint)?;
        self.bank_cache = None;
        self.initial_backbone = None;
        let Some(checkpoint) = checkpoint else { return self.load_safetensors(bytes) };
        self.runner.load(checkpoint.model).map_err(|e| SessionError::Checkpoint(format!("{e}; was it saved from the same method, backbone and width?")))
    }
}

/// Read a float tensor to the host asynchronously.
pub async fn read_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, SessionError> {
    let data = t.into_data_async().await.map_err(|e| SessionError::Device(format!("{e:?}")))?;
    data.try_into_vec_as::<f32>().map_err(|e| SessionError::Device(format!("{e:?}")))
}

async fn read_i64(t: Tensor<1>) -> Result<Vec<i64>, SessionError> {
    Ok(read_f32(t).await?.into_iter().map(|v| v as i64).collect())
}
