//! Context Prediction: given the centre patch of a 3×3 grid and one of its eight neighbours,
//! say where the neighbour sits.
//!
//! [0] Doersch, Gupta, Efros. "Unsupervised Visual Representation Learning by Context
//! Prediction", ICCV 2015, arXiv:1505.05192. Patches are cut from a 3×3 grid with a gap
//! between them and a random jitter, so that the network cannot simply continue lines and
//! textures across the border (§3.1: 96-px patches, a 48-px gap, jitter up to 7 px). Both
//! patches go through the same encoder, and only after it are their features joined ("late
//! fusion", Fig. 3) and classified into the 8 positions.
//!
//! The paper found a shortcut: lenses shift colour planes relative to each other towards the
//! image's edges (chromatic aberration), and the network learned to read a patch's place in
//! the frame from that. On colour data each patch here keeps one colour plane, drawn at
//! random, copied into all three channels ([`ops::keep_one_channel`]): the paper's "colour
//! dropping", with the kept plane repeated instead of the dropped ones filled with noise, so
//! that the backbone still gets three equal channels. Grey data needs no guard.
//!
//! Scaled to 28-px images: 16-px patches (as if cut from the image upsampled to about 72 px)
//! covering 2/3 of their cell's side, the paper's 96/(96 + 48); jitter up to 0.3 of the
//! room the gap leaves, as 7 px is of the paper's 24 px half-gap. Each image gives all eight
//! (centre, neighbour) pairs: the nine patches go through the encoder once and each step
//! has 8B examples.
use super::super::{accuracy, Batch, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use crate::augment::ops;
use crate::augment::patches::{cut, grid_maps, mosaic};
use crate::backbone::Backbone;
use crate::bounds::{in_range, in_range_f};
use crate::eval::in_chunks;
use crate::heads::{check_hidden, Mlp};
use crate::loss::cross_entropy;
use crate::optim::OptimConfig;
use crate::rng::Rng;
use burn::prelude::*;

/// Cells of the 3×3 grid, and the centre's index in it.
const CELLS: usize = 9;
const CENTRE: usize = 4;
/// The eight positions a neighbour can take; label k is cell `NEIGHBOURS[k]`.
pub const NEIGHBOURS: [usize; 8] = [0, 1, 2, 3, 5, 6, 7, 8];
/// Images per forward pass at evaluation: 9 patches each.
const EVAL_CHUNK: usize = 200;

#[derive(Config, Debug)]
pub struct ContextPredictionConfig {
    /// Side of a patch in pixels (6..=32).
    #[config(default = 16)]
    pub patch_px: usize,
    /// Share of its cell's side a patch covers; the rest is the gap (paper 96/144 ≈ 0.67).
    #[config(default = 0.67)]
    pub patch_fraction: f64,
    /// How far a patch may move from its cell's centre, as a share of the room the gap
    /// leaves (paper: 7 px of 24, ≈ 0.3). [0, 1].
    #[config(default = 0.3)]
    pub jitter: f64,
    /// On colour data, keep one random colour plane per patch (against the chromatic
    /// aberration shortcut). No effect on grey data.
    #[config(default = true)]
    pub drop_colour: bool,
    /// Hidden widths of the head over the joined pair (paper: fc7/fc8 of 4,096). At most 3
    /// layers of 1..=4096.
    #[config(default = "vec![256]")]
    pub head_hidden: Vec<usize>,
}

impl Default for ContextPredictionConfig {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Module, Debug)]
pub struct ContextPredictionModel {
    pub backbone: Backbone,
    pub head: Mlp,
}

pub struct ContextPrediction {
    config: ContextPredictionConfig,
    /// Colour data with `drop_colour` on.
    drop_colour: bool,
}

/// The position head's widths on backbone features of width `feature_dim`.
pub fn head_widths(config: &ContextPredictionConfig, feature_dim: usize) -> Vec<usize> {
    let mut widths = vec![2 * feature_dim];
    widths.extend(&config.head_hidden);
    widths.push(NEIGHBOURS.len());
    widths
}

/// SGD with Nesterov momentum, weight decay 5e-4, lr 0.05, cosine schedule (the paper: SGD
/// with batch normalisation for 1.5M iterations; short runs need a higher rate).
fn optimizer() -> OptimConfig {
    OptimConfig::sgd(0.05, 5e-4)
}

impl ContextPrediction {
    /// The task without a model, on images of `channels` channels (Multi-task shares one).
    pub fn task(config: ContextPredictionConfig, channels: usize) -> Self {
        let drop_colour = config.drop_colour && channels == 3;
        ContextPrediction { config, drop_colour }
    }

    /// Loss and position accuracy of one step on `images` (plain device), with `head` over
    /// `backbone`.
    pub fn step(&self, backbone: &Backbone, head: &Mlp, images: Tensor<4>, ctx: &mut StepCtx) -> (Tensor<1>, Tensor<1>) {
        let b = images.dims()[0];
        let patches = self.patches(images, Some(ctx.rng));
        let logits = Self::logits(backbone, head, ctx.to_model(patches));
        let targets = Self::labels(b, ctx.device);
        let acc = accuracy(logits.clone().detach(), targets.clone());
        (cross_entropy(logits, targets), acc)
    }

    /// Held-out accuracy over all eight pairs of every image, patches centred.
    pub fn held_out(&self, backbone: &Backbone, head: &Mlp, images: Tensor<4>) -> Tensor<1> {
        let targets = Self::labels(images.dims()[0], &images.device());
        let logits = in_chunks(&images, EVAL_CHUNK, |x| Self::logits(backbone, head, self.patches(x, None)));
        accuracy(logits, targets)
    }

    /// The nine patches of every image `[9B, C, p, p]`, image-major in cell order, jittered
    /// (`rng`) or centred, each reduced to one colour plane on colour data (plane `i mod 3`
    /// for patch `i` when centred, so evaluation is deterministic).
    pub fn patches(&self, images: Tensor<4>, mut rng: Option<&mut Rng>) -> Tensor<4> {
        let b = images.dims()[0];
        let maps = grid_maps(b, 3, self.config.patch_fraction as f32, self.config.jitter as f32, rng.as_deref_mut());
        let patches = cut(images, &maps, self.config.patch_px);
        if !self.drop_colour {
            return patches;
        }
        let planes: Vec<usize> = match rng {
            Some(rng) => (0..b * CELLS).map(|_| rng.below(3)).collect(),
            None => (0..b * CELLS).map(|i| i % 3).collect(),
        };
        ops::keep_one_channel(patches, &planes)
    }

    /// Position logits `[8B, 8]` of every image's eight (centre, neighbour) pairs, pair k of
    /// image j at row 8j + k, from its nine patches `[9B, C, p, p]`.
    fn logits(backbone: &Backbone, head: &Mlp, patches: Tensor<4>) -> Tensor<2> {
        head.forward(pair_features(backbone.forward(patches)))
    }

    /// The labels 0..8 of every image's pairs, in the order [`Self::logits`] gives them.
    fn labels(b: usize, device: &Device) -> Tensor<1, Int> {
        let labels: Vec<usize> = (0..b).flat_map(|_| 0..NEIGHBOURS.len()).collect();
        Batch::index_tensor(&labels, device)
    }
}

impl Method for ContextPrediction {
    const META: MethodMeta = MethodMeta {
        id: "context-prediction",
        family: Family::Pretext,
        name: "Context Prediction",
        paper: "Doersch, Gupta, Efros. Unsupervised Visual Representation Learning by Context Prediction. ICCV 2015",
        link: "https://arxiv.org/abs/1505.05192",
        explanation: "The image is cut into a 3×3 grid of patches with gaps between them. The network sees the centre \
            patch and one of the other eight, each on its own through the same encoder, and must say where the second \
            one was: above left, above, above right, and so on. Knowing that a collar sits above a sleeve, or a sole \
            under a heel, takes knowing what the parts are. The gaps and a small random shift keep it from matching \
            edges across the border; on colour images each patch keeps a single colour plane, because the original \
            network learned to read positions from colour fringes at the lens's edges. Scaled here: 16-pixel patches \
            covering two thirds of their cell (as if from the image upsampled to about 72 pixels), and all eight \
            neighbours of an image asked at once.",
        curves: &[Curve::loss("total"), Curve::accuracy("position_acc")],
        uses_labels: false,
        optimizer,
    };

    type Config = ContextPredictionConfig;
    type Model = ContextPredictionModel;

    fn check(config: &ContextPredictionConfig) -> Result<(), String> {
        in_range("patch_px", config.patch_px, 6, 32)?;
        in_range_f("patch_fraction", config.patch_fraction, 0.3, 1.0)?;
        in_range_f("jitter", config.jitter, 0.0, 1.0)?;
        check_hidden(&config.head_hidden, 3)
    }

    fn footprint(config: &ContextPredictionConfig, batch_size: usize, feature_dim: usize, _n_classes: usize) -> Footprint {
        // Nine patches per image; a patch has (p/28)² of a 28-px image's pixels, rounded up.
        let per_image = (CELLS * config.patch_px * config.patch_px).div_ceil(28 * 28);
        Footprint { extra_values: 0, forward_images: per_image * batch_size, heads: vec![head_widths(config, feature_dim)] }
    }

    fn new(config: ContextPredictionConfig, setup: &Setup) -> Result<(Self, ContextPredictionModel), String> {
        let backbone = setup.backbone();
        let head = Mlp::new(&head_widths(&config, backbone.out_dim()), &setup.device);
        Ok((ContextPrediction::task(config, setup.channels), ContextPredictionModel { backbone, head }))
    }

    fn loss(&mut self, model: &ContextPredictionModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let x = batch.unlabelled.clone().expect("Context Prediction draws unlabelled images");
        let (loss, acc) = self.step(&model.backbone, &model.head, x, ctx);
        Losses::new(loss).with("position_acc", acc)
    }

    fn backbone(model: &ContextPredictionModel) -> &Backbone {
        &model.backbone
    }

    fn pretext_accuracy(&self, model: &ContextPredictionModel, images: Tensor<4>) -> Option<Tensor<1>> {
        Some(self.held_out(&model.backbone, &model.head, images))
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        self.preview(images, rng)
    }
}

impl ContextPrediction {
    /// The preview: the grid with the centre and an asked neighbour marked, and the pair.
    pub fn preview(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        let b = images.dims()[0];
        let patches = self.patches(images, Some(rng)); // [9B, C, p, p]
        let [_, c, p, _] = patches.dims();
        let asked: Vec<usize> = (0..b).map(|_| rng.below(NEIGHBOURS.len())).collect();
        // The grid with every patch but the centre and the asked neighbour dimmed.
        let shown: Vec<f32> = asked.iter().flat_map(|&k| (0..CELLS).map(move |cell| if cell == CENTRE || cell == NEIGHBOURS[k] { 1.0 } else { 0.3 })).collect();
        let dim = Tensor::<4>::from_data(TensorData::new(shown, [b * CELLS, 1, 1, 1]), &patches.device());
        let grid = mosaic(patches.clone() * dim, 3, 3);
        // The pair the network is given: centre, then the neighbour.
        let pair_index: Vec<usize> = asked.iter().enumerate().flat_map(|(j, &k)| [j * CELLS + CENTRE, j * CELLS + NEIGHBOURS[k]]).collect();
        let pairs = patches.select(0, Batch::index_tensor(&pair_index, &grid.device())).reshape([2 * b, c, p, p]);
        let names: Vec<String> = asked.iter().map(|&k| POSITION_NAMES[k].to_string()).collect();
        vec![
            ("grid: centre and the asked neighbour".into(), grid),
            (format!("pair given (centre, neighbour): answers {}", names.join(", ")), mosaic(pairs, 1, 2)),
        ]
    }
}

/// Late fusion: the features of each image's nine patches `[9B, D]` (cell order) joined into
/// its eight (centre, neighbour) pairs `[8B, 2D]`, row 8j + k = (centre of j, cell
/// `NEIGHBOURS[k]` of j), which the head classifies into label k.
pub fn pair_features(features: Tensor<2>) -> Tensor<2> {
    let [n, d] = features.dims();
    let b = n / CELLS;
    let grid = features.reshape([b, CELLS, d]); // [B, 9, D]
    let centre = grid.clone().narrow(1, CENTRE, 1).repeat_dim(1, NEIGHBOURS.len()); // [B, 8, D]
    let neighbours = Tensor::cat(vec![grid.clone().narrow(1, 0, CENTRE), grid.narrow(1, CENTRE + 1, CELLS - CENTRE - 1)], 1); // [B, 8, D]
    Tensor::cat(vec![centre, neighbours], 2).reshape([b * NEIGHBOURS.len(), 2 * d]) // [8B, 2D]
}

/// What label k means, for the preview.
const POSITION_NAMES: [&str; 8] = ["above left", "above", "above right", "left", "right", "below left", "below", "below right"];
