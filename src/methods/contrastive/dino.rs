//! DINO: self-distillation with no labels. A student matches the output distribution a
//! momentum teacher gives for other crops of the same image; centring and sharpening of the
//! teacher's output, not negatives, keep it from collapsing.
//!
//! [0] Caron et al. "Emerging Properties in Self-Supervised Vision Transformers", ICCV 2021,
//! arXiv:2104.14294. Multi-crop (§3.1: "two global views … and several local views of smaller
//! resolution"; "all crops are passed through the student while only the global views are
//! passed through the teacher"); the teacher is an EMA of the student with λ from 0.996 to 1 on
//! a cosine; the teacher's output is centred (c ← m·c + (1 − m)·batch mean, m = 0.9) and
//! sharpened (τ_t warmed from 0.04 to 0.07, τ_s = 0.1); the head is a 3-layer MLP (GELU) to an
//! L2-normalised bottleneck and a weight-normalised last layer of K = 65,536 outputs.
//!
//! Scaled here for 28 px images and runs of 10²–10³ steps (see [`DinoConfig`]): 4 local crops
//! of 12 px (the paper's 96/224 of the side) instead of 6–10; K = 1,024 for datasets of ten
//! classes; head widths 512 and 64 (paper 2,048 and 256); teacher temperature warm-up over
//! the first 30 % of the run (paper: 30 of 100–300 epochs); BatchNorm in the head (see
//! [`DinoConfig::head_batchnorm`]); Adam at 3e-3 (paper AdamW with weight decay 0.04 → 0.4 and
//! gradient clipping). The last layer is not frozen in the first epoch, as the
//! paper does for stability; at our learning rates it was not needed.
//!
//! Two switches show what each half of the collapse guard does (§5.3, Fig. 7): without
//! centring one dimension dominates; without sharpening (the teacher at the student's
//! temperature) the output flattens to uniform. Either way every image gets the same output.
use super::super::ema::{ema_update, frozen_copy, EmaSchedule};
use super::super::{Batch, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use crate::augment::SimclrViews;
use crate::backbone::Backbone;
use crate::bounds::{in_range, in_range_f};
use crate::heads::MAX_HEAD_WIDTH;
use crate::loss::{dino_centre, dino_cross_entropy, l2_normalize};
use crate::optim::OptimConfig;
use crate::rng::Rng;
use burn::module::Param;
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, softmax};

#[derive(Config, Debug)]
pub struct DinoConfig {
    /// Global crops, seen by the student and the teacher (paper: 2). 1..=4.
    #[config(default = 2)]
    pub n_global: usize,
    /// Local crops, seen by the student only (paper: 6 or 10; 4 here keeps a step near twice
    /// SimCLR's cost). 0..=10.
    #[config(default = 4)]
    pub n_local: usize,
    /// Side of the global crops in px; 0 = the dataset's image size (paper: 224). 0 or 8..=64.
    #[config(default = 0)]
    pub global_size: usize,
    /// Side of the local crops in px (paper: 96 of 224, which is 12 of 28). 4..=64.
    #[config(default = 12)]
    pub local_size: usize,
    /// Output dimension K of the head (paper: 65,536). 2..=4096.
    #[config(default = 1024)]
    pub out_dim: usize,
    /// Hidden width of the head's MLP (paper: 2,048). 1..=4096.
    #[config(default = 512)]
    pub hidden: usize,
    /// Bottleneck width before the weight-normalised last layer (paper: 256). 1..=4096.
    #[config(default = 64)]
    pub bottleneck: usize,
    /// BatchNorm after the head's hidden layers (the official code's `use_bn_in_head`, off
    /// there for ViTs). An untrained network maps all images to nearly the same bottleneck
    /// point, so the centred teacher sees almost no difference between images and its targets
    /// stay uniform; BatchNorm spreads the images over the head from the first step. Measured
    /// at 1,000 steps (Fashion-MNIST, width 16, batch 64, seed 1, lr 1e-3; best-layer kNN):
    /// `small-cnn` 77.95 without, 79.8 with (untrained 78.45); `vit-tiny` (its first, 4-block
    /// build) 60.15 without, 70.25 with (untrained 54.65).
    #[config(default = true)]
    pub head_batchnorm: bool,
    /// Student temperature τ_s. 0.01..=10.
    #[config(default = 0.1)]
    pub student_temp: f64,
    /// Teacher temperature τ_t at the start of the run, warmed up linearly to `teacher_temp`.
    #[config(default = 0.04)]
    pub teacher_temp_start: f64,
    /// Teacher temperature after the warm-up. 0.01..=10.
    #[config(default = 0.07)]
    pub teacher_temp: f64,
    /// Fraction of the run over which τ_t warms up. 0..=1.
    #[config(default = 0.3)]
    pub teacher_temp_warmup: f64,
    /// Momentum of the centre's moving average (paper: 0.9). 0..=1.
    #[config(default = 0.9)]
    pub centre_momentum: f64,
    /// Subtract the centre from the teacher's output; off = one collapse switch.
    #[config(default = true)]
    pub centring: bool,
    /// Sharpen the teacher (τ_t below τ_s); off = the teacher at τ_s, the other collapse switch.
    #[config(default = true)]
    pub sharpening: bool,
    /// Teacher momentum λ, cosine-raised to 1 (paper: from 0.996).
    #[config(default = "EmaSchedule { base: 0.996, cosine: true }")]
    pub ema: EmaSchedule,
    /// Global crops: 40–100 % of the image (paper: 0.4–1), SimCLR's colour distortion, blur
    /// with p = 0.5 (paper: 1.0 and 0.1 in the two views); no solarisation.
    #[config(default = "SimclrViews { crop_scale: (0.4, 1.0), blur_p: 0.5, ..SimclrViews::default() }")]
    pub global_views: SimclrViews,
    /// Local crops: 5–40 % of the image (paper: 0.05–0.4), resized to `local_size`.
    #[config(default = "SimclrViews { crop_scale: (0.05, 0.4), blur_p: 0.5, ..SimclrViews::default() }")]
    pub local_views: SimclrViews,
}

impl Default for DinoConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl DinoConfig {
    /// τ_t at `step` of `total`: linear from `teacher_temp_start` over the warm-up, then
    /// constant; the student's temperature when sharpening is off.
    pub fn teacher_temperature(&self, step: usize, total: usize) -> f64 {
        if !self.sharpening {
            return self.student_temp;
        }
        let warmup = (self.teacher_temp_warmup * total as f64).round();
        if warmup < 1.0 || step as f64 >= warmup {
            return self.teacher_temp;
        }
        self.teacher_temp_start + (self.teacher_temp - self.teacher_temp_start) * step as f64 / warmup
    }
}

/// DINO's projection head: Linear → GELU → Linear → GELU → Linear to the bottleneck (with
/// BatchNorm before each GELU when asked), L2
/// normalisation, then a bias-free last layer whose weight columns are normalised to unit
/// length (weight normalisation with the gain fixed at 1, the paper's `norm_last_layer`).
#[derive(Module, Debug)]
pub struct DinoHead {
    layers: Vec<Linear>,
    /// After each hidden layer, when `head_batchnorm` is on.
    norms: Vec<BatchNorm>,
    /// `[bottleneck, K]`; each column is normalised before use.
    last: Param<Tensor<2>>,
}

impl DinoHead {
    pub fn new(input: usize, hidden: usize, bottleneck: usize, out: usize, batchnorm: bool, device: &Device) -> Self {
        let layers = vec![
            LinearConfig::new(input, hidden).init(device),
            LinearConfig::new(hidden, hidden).init(device),
            LinearConfig::new(hidden, bottleneck).init(device),
        ];
        let norms = if batchnorm { (0..2).map(|_| BatchNormConfig::new(hidden).init(device)).collect() } else { Vec::new() };
        let last = Initializer::Normal { mean: 0.0, std: 0.02 }.init([bottleneck, out], device);
        Self { layers, norms, last }
    }

    /// The L2-normalised bottleneck `[B, bottleneck]`.
    pub fn bottleneck(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut x = x;
        for (i, layer) in self.layers[..last].iter().enumerate() {
            x = layer.forward(x);
            if let Some(norm) = self.norms.get(i) {
                x = norm.forward(x);
            }
            x = gelu(x);
        }
        l2_normalize(self.layers[last].forward(x))
    }

    /// Logits `[B, K]`: cosines between the bottleneck and each output's unit weight vector.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let w = self.last.val();
        let norms = w.clone().square().sum_dim(0).sqrt().clamp_min(1e-8); // [1, K]
        self.bottleneck(x).matmul(w / norms)
    }
}

/// A backbone with DINO's head: the student, and the shape of the teacher.
#[derive(Module, Debug)]
pub struct DinoNet {
    pub backbone: Backbone,
    pub head: DinoHead,
}

impl DinoNet {
    fn new(setup: &Setup, config: &DinoConfig) -> Self {
        let backbone = setup.backbone();
        let head = DinoHead::new(backbone.out_dim(), config.hidden, config.bottleneck, config.out_dim, config.head_batchnorm, &setup.device);
        Self { backbone, head }
    }
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.backbone.forward(x))
    }
}

/// The student (trained), the teacher (its EMA) and the centre `[1, K]` (a moving average of
/// the teacher's outputs); teacher and centre carry no gradient.
#[derive(Module, Debug)]
pub struct DinoModel {
    pub student: DinoNet,
    pub teacher: DinoNet,
    pub centre: Param<Tensor<2>>,
    /// τ_s `[1]`, frozen: the collapse check reads the student's distribution at it.
    pub student_temp: Param<Tensor<1>>,
}

pub struct Dino {
    config: DinoConfig,
    /// The global crops' side for this dataset.
    global_size: usize,
    /// The teacher's outputs of the last step, for the centre update after the step.
    last_teacher: Vec<Tensor<2>>,
}

/// Adam at lr 3e-3 with 5 % warm-up and cosine decay (paper: AdamW, lr 5e-4·B/256, 10 warm-up
/// epochs, weight decay 0.04 → 0.4). Measured at 1,000 steps (Fashion-MNIST, width 16, batch
/// 64, seed 1; best-layer kNN): `small-cnn` 80.9 at 3e-3 against 79.8 at 1e-3 (untrained
/// 78.45); `vit-tiny` (4-block build) 71.7 against 70.25 (untrained 54.65). The shipped
/// 3-block `vit-tiny` reaches 70.85 at 3e-3 (untrained 54.7).
fn optimizer() -> OptimConfig {
    super::small_batch_adam(3e-3)
}

impl Method for Dino {
    const META: MethodMeta = MethodMeta {
        id: "dino",
        family: Family::Contrastive,
        name: "DINO",
        paper: "Caron et al. Emerging Properties in Self-Supervised Vision Transformers. ICCV 2021",
        link: "https://arxiv.org/abs/2104.14294",
        explanation: "Self-distillation: a student network sees large and small crops of an image and must output the \
            same probability distribution over K prototypes that a teacher (a slow moving average of the student) gives \
            for the large crops. There are no negatives. Two tricks keep every image from getting the same output: the \
            teacher's output is centred (its running mean over the data is subtracted) and sharpened (a low \
            temperature). Turn either off and watch the spread of the embedding fall. On the Tiny ViT, the attention \
            of its class token learns to fall on the object. Scaled here: 2 global crops of the full image and 4 local \
            crops of 12 px (paper 6-10 of 96 px at 224), K = 1,024 (paper 65,536), head widths 512 and 64 (paper \
            2,048 and 256) with BatchNorm, the teacher temperature warmed up over the first 30 % of the run, and \
            Adam. The kl curve is the part of the loss the student controls (the loss minus the teacher's entropy, \
            which rises while the teacher's temperature warms up).",
        curves: &[Curve::loss("total"), Curve::loss("kl"), Curve::ratio("teacher_entropy"), Curve::ratio("teacher_temp")],
        uses_labels: false,
        optimizer,
    };
    type Config = DinoConfig;
    type Model = DinoModel;

    fn check(config: &DinoConfig) -> Result<(), String> {
        in_range("n_global", config.n_global, 1, 4)?;
        in_range("n_local", config.n_local, 0, 10)?;
        if config.n_global == 1 && config.n_local == 0 {
            return Err("needs at least two views: with one global crop, add local crops (n_local ≥ 1)".into());
        }
        if config.global_size != 0 {
            in_range("global_size", config.global_size, 8, 64)?;
        }
        in_range("local_size", config.local_size, 4, 64)?;
        in_range("out_dim", config.out_dim, 2, MAX_HEAD_WIDTH)?;
        in_range("hidden", config.hidden, 1, MAX_HEAD_WIDTH)?;
        in_range("bottleneck", config.bottleneck, 1, MAX_HEAD_WIDTH)?;
        in_range_f("student_temp", config.student_temp, 0.01, 10.0)?;
        in_range_f("teacher_temp_start", config.teacher_temp_start, 0.01, 10.0)?;
        in_range_f("teacher_temp", config.teacher_temp, 0.01, 10.0)?;
        in_range_f("teacher_temp_warmup", config.teacher_temp_warmup, 0.0, 1.0)?;
        in_range_f("centre_momentum", config.centre_momentum, 0.0, 1.0)?;
        config.ema.check()?;
        config.global_views.check().map_err(|e| format!("global_{e}"))?;
        config.local_views.check().map_err(|e| format!("local_{e}"))
    }

    fn footprint(config: &DinoConfig, batch_size: usize, feature_dim: usize, _n_classes: usize) -> Footprint {
        let head = vec![feature_dim, config.hidden, config.hidden, config.bottleneck, config.out_dim];
        // Student: every crop, the local ones counted as a whole image each (an upper bound);
        // teacher: the global crops.
        let crops = 2 * config.n_global + config.n_local;
        Footprint { extra_values: 0, forward_images: crops * batch_size, heads: vec![head.clone(), head] }
    }

    fn new(mut config: DinoConfig, setup: &Setup) -> Result<(Self, DinoModel), String> {
        if !setup.flip_invariant {
            config.global_views.flip_p = 0.0;
            config.local_views.flip_p = 0.0;
        }
        let global_size = if config.global_size == 0 { setup.height.min(setup.width_px) } else { config.global_size };
        let student = DinoNet::new(setup, &config);
        let teacher = frozen_copy(DinoNet::new(setup, &config), &student);
        let centre = Param::from_tensor(Tensor::zeros([1, config.out_dim], &setup.device)).set_require_grad(false);
        let student_temp = Param::from_tensor(Tensor::from_data(TensorData::new(vec![config.student_temp as f32], [1]), &setup.device)).set_require_grad(false);
        Ok((Dino { config, global_size, last_teacher: Vec::new() }, DinoModel { student, teacher, centre, student_temp }))
    }

    fn loss(&mut self, model: &DinoModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let x = batch.unlabelled.clone().expect("DINO draws unlabelled images");
        let b = x.dims()[0];
        let c = &self.config;
        let (g, l) = (self.global_size, c.local_size);
        let globals: Vec<Tensor<4>> = (0..c.n_global).map(|_| c.global_views.view_sized(x.clone(), g, g, ctx.rng)).collect();
        let locals: Vec<Tensor<4>> = (0..c.n_local).map(|_| c.local_views.view_sized(x.clone(), l, l, ctx.rng)).collect();
        // One pass per crop size: [n_global·B, C, g, g] and [n_local·B, C, l, l].
        let global_batch = ctx.to_model(Tensor::cat(globals, 0));
        let split = |logits: Tensor<2>, n: usize| (0..n).map(|i| logits.clone().narrow(0, i * b, b)).collect::<Vec<_>>();
        let teacher = split(model.teacher.forward(global_batch.clone()).detach(), c.n_global);
        let mut student = split(model.student.forward(global_batch), c.n_global);
        if c.n_local > 0 {
            student.extend(split(model.student.forward(ctx.to_model(Tensor::cat(locals, 0))), c.n_local));
        }
        let temp = c.teacher_temperature(ctx.step, ctx.total_steps);
        let centre = if c.centring { model.centre.val() } else { model.centre.val().zeros_like() };
        let loss = dino_cross_entropy(&student, &teacher, centre.clone(), c.student_temp, temp);
        // The teachers' mean entropy H(t) in nats. Every teacher view meets the same number of
        // student views, so total − H(t) is the mean KL(t ‖ s): the part the student controls,
        // which falls as it learns even while the warming τ_t raises H(t) and with it the total.
        let entropy = teacher
            .iter()
            .map(|t| {
                let target = softmax((t.clone() - centre.clone()) / temp, 1);
                (target.clone() * target.clamp_min(1e-12).log()).sum_dim(1).mean().neg()
            })
            .reduce(|a, b| a + b)
            .expect("at least one global view")
            / c.n_global as f64;
        let kl = (loss.clone() - entropy.clone()).detach();
        let device = loss.device();
        self.last_teacher = teacher;
        Losses::new(loss)
            .with("kl", kl)
            // As a fraction of ln K: 1 = uniform (collapse by flattening), near 0 = one-hot.
            .with("teacher_entropy", entropy / (c.out_dim as f64).ln())
            .with("teacher_temp", Tensor::from_data(TensorData::new(vec![temp as f32], [1]), &device))
    }

    fn after_step(&mut self, model: DinoModel, ctx: &StepCtx) -> DinoModel {
        let momentum = self.config.ema.momentum(ctx.step, ctx.total_steps);
        let teacher = ema_update(model.teacher, &model.student, momentum);
        let outputs = std::mem::take(&mut self.last_teacher);
        let centre = if outputs.is_empty() {
            model.centre
        } else {
            let m = self.config.centre_momentum;
            model.centre.map(|c| dino_centre(c, &outputs, m)).set_require_grad(false)
        };
        DinoModel { teacher, centre, ..model }
    }

    fn backbone(model: &DinoModel) -> &Backbone {
        &model.student.backbone
    }

    /// The student's output distribution over the K prototypes (at τ_s): DINO collapses there,
    /// to the same one-hot output for every image without centring or to the uniform one
    /// without sharpening, so the collapse check (std and effective rank) watches it.
    fn embedding(model: &DinoModel, images: Tensor<4>) -> Option<Tensor<2>> {
        let logits = model.student.forward(images);
        let temp = model.student_temp.val().reshape([1, 1]).expand(logits.dims());
        Some(softmax(logits / temp, 1))
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        let c = &self.config;
        let (g, l) = (self.global_size, c.local_size);
        let mut out = vec![
            ("global 1".to_string(), c.global_views.view_sized(images.clone(), g, g, rng)),
            ("global 2".to_string(), c.global_views.view_sized(images.clone(), g, g, rng)),
        ];
        if c.n_local > 0 {
            out.push(("local 1".to_string(), c.local_views.view_sized(images, l, l, rng)));
        }
        out
    }
}
