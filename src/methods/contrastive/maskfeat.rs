//! MaskFeat: masked feature prediction. About 40 % of the patches, in blocks, are hidden behind
//! a learned mask token, and a linear head predicts the HOG features of the hidden patches
//! from the encoder's output; the loss is the MSE over hidden patches only.
//!
//! [0] Wei et al. "Masked Feature Prediction for Self-Supervised Visual Pre-Training", CVPR
//! 2022, arXiv:2112.09133: block-wise masking of 40 % of the patches (BEiT's algorithm, Bao et
//! al. 2021, arXiv:2106.08254, Alg. 1), a mask token in place of the masked patch embeddings, a
//! linear prediction head, and HOG (9 orientation bins, L2-normalised locally) as the target.
//!
//! Scaled for 28 px images (see [`crate::augment::hog`] for the HOG): one 4×4 cell per patch
//! instead of four 8×8 cells per 16×16 patch; blocks of at least 4 patches on the 7×7 grid
//! (BEiT: 16 on 14×14); Adam at 1e-3 in place of AdamW at 8e-4·B/256 with weight decay 0.05;
//! the paper's views (random resized crop and flip only; no colour distortion, which would
//! change the HOG target too).
//!
//! On the CNN backbones (an addition; the paper is ViT-only, and its CNN comparison used
//! other targets): the hidden patches are replaced in pixel space by one learned 4×4 patch,
//! and the last stage's feature map, resized to the patch grid, feeds the same linear head.
use super::super::{Batch, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, StepCtx};
use crate::augment::hog::{hog, BINS};
use crate::augment::SimclrViews;
use crate::backbone::vit_tiny::{grid, PATCH};
use crate::backbone::{resample_maps, Backbone};
use crate::bounds::{in_range, in_range_f};
use crate::optim::OptimConfig;
use crate::rng::Rng;
use burn::module::Param;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct MaskfeatConfig {
    /// Fraction of the patches to mask (paper: 0.4). 0.05..=0.9.
    #[config(default = 0.4)]
    pub mask_ratio: f64,
    /// Smallest block, in patches (BEiT: 16 of 196; 4 of our 49). 1..=16.
    #[config(default = 4)]
    pub min_block: usize,
    /// Random resized crop at 50–100 % of the image and flip; no colour distortion.
    #[config(default = "SimclrViews { crop_scale: (0.5, 1.0), jitter_p: 0.0, grayscale_p: 0.0, blur_p: 0.0, ..SimclrViews::default() }")]
    pub views: SimclrViews,
}

impl Default for MaskfeatConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The backbone, the learned mask (a token of width D for the ViT, a 4×4 pixel patch per
/// channel for the CNNs) and the linear head from a patch's feature to its HOG.
#[derive(Module, Debug)]
pub struct MaskfeatModel {
    pub backbone: Backbone,
    /// `[D]` for `vit-tiny`; `[C·4·4]` for the CNNs.
    pub mask_token: Param<Tensor<1>>,
    pub head: Linear,
}

pub struct Maskfeat {
    config: MaskfeatConfig,
    channels: usize,
}

/// Adam at lr 1e-3 with 5 % warm-up and cosine decay (paper: AdamW, 8e-4·B/256, weight
/// decay 0.05).
fn optimizer() -> OptimConfig {
    super::small_batch_adam(1e-3)
}

/// BEiT's block-wise masking (Bao et al. 2021, Alg. 1) on a `rows`×`cols` grid: rectangles of
/// at least `min_block` patches and aspect ratio 0.3–3.3 are added until about `ratio` of the
/// grid is masked. Returns 0/1 per patch, row-major.
pub fn block_mask(rows: usize, cols: usize, ratio: f64, min_block: usize, rng: &mut Rng) -> Vec<f32> {
    let n = rows * cols;
    let target = ((ratio * n as f64).round() as usize).clamp(1, n);
    let mut mask = vec![0.0f32; n];
    let mut count = 0;
    while count < target {
        let room = target - count;
        let mut added = 0;
        for _ in 0..10 {
            let area = rng.range(min_block.min(room) as f32, room as f32 + 1.0).floor().min(room as f32);
            let aspect = rng.range(0.3f32.ln(), (1.0f32 / 0.3).ln()).exp();
            let h = ((area * aspect).sqrt().round() as usize).clamp(1, rows);
            let w = ((area / aspect).sqrt().round() as usize).clamp(1, cols);
            let (top, left) = (rng.below(rows - h + 1), rng.below(cols - w + 1));
            let fresh = (top..top + h).flat_map(|r| (left..left + w).map(move |c| r * cols + c)).filter(|&i| mask[i] == 0.0).count();
            if fresh > 0 && fresh <= room {
                for r in top..top + h {
                    for c in left..left + w {
                        mask[r * cols + c] = 1.0;
                    }
                }
                added = fresh;
                break;
            }
        }
        if added == 0 {
            break; // no block fits what is left; BEiT stops here too
        }
        count += added;
    }
    mask
}

/// Side of one patch's glyph in the HOG previews, in pixels.
const GLYPH: usize = 8;

/// One line glyph per orientation bin, `[BINS, GLYPH²]`: a bright line through the cell's
/// centre along the edge that bin's gradients cross (perpendicular to the gradient), as HOG
/// pictures are drawn.
fn glyphs() -> Vec<f32> {
    let mut out = Vec::with_capacity(BINS * GLYPH * GLYPH);
    let centre = GLYPH as f32 / 2.0;
    for k in 0..BINS {
        // The bin's centre orientation plus 90°: the edge direction.
        let angle = std::f32::consts::PI * (k as f32 + 0.5) / BINS as f32 + std::f32::consts::FRAC_PI_2;
        let (dx, dy) = (angle.cos(), angle.sin());
        for y in 0..GLYPH {
            for x in 0..GLYPH {
                let (px, py) = (x as f32 + 0.5 - centre, centre - (y as f32 + 0.5)); // y up
                let along = px * dx + py * dy;
                let across = (px * dy - py * dx).abs();
                out.push(if along.abs() <= centre - 0.5 { (1.0 - across / 0.9).max(0.0) } else { 0.0 });
            }
        }
    }
    out
}

/// A HOG `[B, rows·cols, C·BINS]` drawn as glyphs, `[B, 1, rows·8, cols·8]` in [0, 1]: the
/// channels' histograms summed, each image scaled to its largest bin.
pub fn draw_hog(hog: Tensor<3>, rows: usize, cols: usize) -> Tensor<4> {
    let [b, n, cb] = hog.dims();
    let c = cb / BINS;
    let bins = hog.reshape([b, n, c, BINS]).sum_dim(2).reshape([b, n * BINS]).clamp_min(0.0);
    let peak = bins.clone().max_dim(1).clamp_min(1e-6); // [B, 1]
    let weights = (bins / peak).reshape([b * n, BINS]);
    let bank = Tensor::<2>::from_data(TensorData::new(glyphs(), [BINS, GLYPH * GLYPH]), &weights.device());
    // [B·N, 64] → [B, rows, cols, 8, 8] → [B, rows, 8, cols, 8] → [B, 1, rows·8, cols·8]
    let cells = weights.matmul(bank).reshape([b, rows, cols, GLYPH, GLYPH]).permute([0, 1, 3, 2, 4]);
    cells.reshape([b, 1, rows * GLYPH, cols * GLYPH]).clamp(0.0, 1.0)
}

impl Maskfeat {
    /// Images cropped to whole patches, `[B, C, rows·4, cols·4]`, and the grid.
    fn whole_patches(x: Tensor<4>) -> (Tensor<4>, (usize, usize)) {
        let [_, _, h, w] = x.dims();
        let (rows, cols) = grid(h, w);
        let x = if (h, w) == (rows * PATCH, cols * PATCH) { x } else { x.narrow(2, 0, rows * PATCH).narrow(3, 0, cols * PATCH) };
        (x, (rows, cols))
    }

    /// A block mask per image, `[B, rows·cols]`.
    fn masks(&self, b: usize, (rows, cols): (usize, usize), device: &Device, rng: &mut Rng) -> Tensor<2> {
        let values: Vec<f32> = (0..b).flat_map(|_| block_mask(rows, cols, self.config.mask_ratio, self.config.min_block, rng)).collect();
        Tensor::from_data(TensorData::new(values, [b, rows * cols]), device)
    }

    /// `x` with the masked patches replaced by `patch` `[C·16]` in pixel space.
    fn mask_pixels(x: Tensor<4>, mask: Tensor<2>, patch: Tensor<1>, (rows, cols): (usize, usize)) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        // [B, N] → [B, 1, rows, 1, cols, 1] → [B, C, rows, 4, cols, 4] → [B, C, H, W]
        let hidden = mask.reshape([b, 1, rows, 1, cols, 1]).expand([b, c, rows, PATCH, cols, PATCH]).reshape([b, c, h, w]);
        let fill = patch.reshape([1, c, 1, PATCH, 1, PATCH]).expand([b, c, rows, PATCH, cols, PATCH]).reshape([b, c, h, w]);
        x * (hidden.ones_like() - hidden.clone()) + fill * hidden
    }

    /// Predicted HOG per patch, `[B, N, C·BINS]`, for `x` (whole patches) under `mask`.
    fn predict(model: &MaskfeatModel, x: Tensor<4>, mask: Tensor<2>, grid: (usize, usize)) -> Tensor<3> {
        let features = match &model.backbone {
            Backbone::VitTiny(vit) => vit.masked_patch_tokens(x, mask, model.mask_token.val()),
            cnn => {
                let masked = Self::mask_pixels(x, mask, model.mask_token.val(), grid);
                let last = cnn.stages(masked).pop().expect("a backbone has stages");
                resample_maps(last, grid).swap_dims(1, 2) // [B, D, N] → [B, N, D]
            }
        };
        model.head.forward(features)
    }
}

impl Method for Maskfeat {
    const META: MethodMeta = MethodMeta {
        id: "maskfeat",
        family: Family::Contrastive,
        name: "MaskFeat",
        paper: "Wei, Fan, Xie, Wu, Yuille, Feichtenhofer. Masked Feature Prediction for Self-Supervised Visual Pre-Training. CVPR 2022",
        link: "https://arxiv.org/abs/2112.09133",
        explanation: "About 40 % of an image's 4×4 patches, in blocks, are hidden behind a learned mask token, and the \
            network must predict what the hidden patches looked like: not their pixels but their histogram of oriented \
            gradients (HOG), which says which way the edges in a patch run and how strongly. Only the hidden patches \
            count in the loss (mean squared error). HOG ignores brightness and small shifts, so the network has to \
            infer shapes from context. The preview shows the masked input, the HOG target and the prediction. Built for \
            the Tiny ViT; on the CNNs the hidden patches are filled with one learned patch of pixels instead. Scaled \
            here: one HOG cell per 4×4 patch (paper: four 8×8 cells per 16×16 patch) and Adam.",
        curves: &[Curve::loss("total")],
        uses_labels: false,
        optimizer,
    };
    type Config = MaskfeatConfig;
    type Model = MaskfeatModel;

    fn check(config: &MaskfeatConfig) -> Result<(), String> {
        in_range_f("mask_ratio", config.mask_ratio, 0.05, 0.9)?;
        in_range("min_block", config.min_block, 1, 16)?;
        config.views.check()
    }

    fn footprint(_config: &MaskfeatConfig, batch_size: usize, feature_dim: usize, _n_classes: usize) -> Footprint {
        Footprint { extra_values: 0, forward_images: batch_size, heads: vec![vec![feature_dim, 3 * BINS]] }
    }

    fn new(mut config: MaskfeatConfig, setup: &Setup) -> Result<(Self, MaskfeatModel), String> {
        if !setup.flip_invariant {
            config.views.flip_p = 0.0;
        }
        let (rows, cols) = grid(setup.height, setup.width_px);
        if rows == 0 || cols == 0 {
            return Err(format!("MaskFeat needs images of at least {PATCH}×{PATCH} px"));
        }
        let backbone = setup.backbone();
        let token_width = match &backbone {
            Backbone::VitTiny(vit) => vit.out_dim(),
            _ => setup.channels * PATCH * PATCH,
        };
        let feature_width = match &backbone {
            Backbone::VitTiny(vit) => vit.out_dim(),
            cnn => cnn.out_dim(),
        };
        // Normal(0, 0.02), as BEiT and MaskFeat initialise their mask token.
        let mask_token = Initializer::Normal { mean: 0.0, std: 0.02 }.init([token_width], &setup.device);
        let head = LinearConfig::new(feature_width, setup.channels * BINS).init(&setup.device);
        Ok((Maskfeat { config, channels: setup.channels }, MaskfeatModel { backbone, mask_token, head }))
    }

    fn loss(&mut self, model: &MaskfeatModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let x = batch.unlabelled.clone().expect("MaskFeat draws unlabelled images");
        let b = x.dims()[0];
        let (view, grid) = Self::whole_patches(self.config.views.view(x, ctx.rng));
        let target = hog(view.clone(), PATCH); // [B, N, C·9], unit norm per patch
        let mask = self.masks(b, grid, &view.device(), ctx.rng);
        let (view, target, mask) = (ctx.to_model(view), target.autodiff(), mask.autodiff());
        let predicted = Self::predict(model, view, mask.clone(), grid);
        let [_, n, k] = predicted.dims();
        // Squared error per patch, averaged over the masked patches and the C·9 values.
        let per_patch = (predicted - target).square().mean_dim(2).reshape([b, n]);
        let loss = (per_patch * mask.clone()).sum() / mask.sum().clamp_min(1.0);
        debug_assert_eq!(k, self.channels * BINS);
        Losses::new(loss)
    }

    fn backbone(model: &MaskfeatModel) -> &Backbone {
        &model.backbone
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        self.preview(None, images, rng)
    }

    fn model_views(&self, model: &MaskfeatModel, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        self.preview(Some(model), images, rng)
    }
}

impl Maskfeat {
    /// The masked input and the HOG target of one view per image, and, with a model, its
    /// prediction on the masked patches (the rest left dark).
    fn preview(&self, model: Option<&MaskfeatModel>, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        let (view, grid) = Self::whole_patches(self.config.views.view(images, rng));
        let b = view.dims()[0];
        let mask = self.masks(b, grid, &view.device(), rng);
        let grey = Tensor::full([self.channels * PATCH * PATCH], 0.5, &view.device());
        let mut out = vec![
            ("masked input".to_string(), Self::mask_pixels(view.clone(), mask.clone(), grey, grid)),
            ("HOG target".to_string(), draw_hog(hog(view.clone(), PATCH), grid.0, grid.1)),
        ];
        if let Some(model) = model {
            let predicted = Self::predict(model, view, mask.clone(), grid);
            let [_, n, k] = predicted.dims();
            let shown = predicted * mask.reshape([b, n, 1]).expand([b, n, k]);
            out.push(("HOG predicted (masked patches)".to_string(), draw_hog(shown, grid.0, grid.1)));
        }
        out
    }
}
