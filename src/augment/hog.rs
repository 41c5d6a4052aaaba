//! Histograms of oriented gradients (HOG), computed on the device: MaskFeat's prediction target.
//!
//! [0] Dalal and Triggs. "Histograms of Oriented Gradients for Human Detection", CVPR 2005:
//! gradients by the centred difference [−1, 0, 1] (their best filter), unsigned orientation
//! in 9 bins over 0–180°, each pixel voting its gradient magnitude into its bin, per cell.
//! [1] Wei et al. "Masked Feature Prediction for Self-Supervised Visual Pre-Training", CVPR
//! 2022, arXiv:2112.09133: HOG per RGB channel as the target of masked patches, histograms
//! L2-normalised locally.
//!
//! Scaled for 28 px images: one cell per 4×4 ViT patch (MaskFeat: 8×8 cells, four to a 16×16
//! patch), so a patch's target is 9·C values, L2-normalised over the patch as MaskFeat
//! normalises over its patch. Votes go to one bin (hard binning, as Dalal and Triggs' simplest
//! variant and scikit-image do); pixels at the border see a zero beyond the image.
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

/// Unsigned orientation bins over 0–180° (20° each).
pub const BINS: usize = 9;

/// HOG of `images` `[B, C, H, W]` in cells of `cell`×`cell` px: `[B, rows·cols, C·BINS]` with
/// cells in row-major order (the ViT's patch order) and, per cell, channel-major bins
/// (channel 0's nine bins first). Each cell's vector has unit L2 norm, or is zero where the
/// cell is flat. Sides that `cell` does not divide drop their last rows and columns, as the
/// ViT's patches do.
pub fn hog(images: Tensor<4>, cell: usize) -> Tensor<3> {
    let [b, c, h, w] = images.dims();
    let (rows, cols) = (h / cell, w / cell);
    assert!(rows > 0 && cols > 0, "HOG cells of {cell} px need an image of at least {cell}×{cell}, got {h}×{w}");
    let device = images.device();
    // [−1, 0, 1] per channel (groups = C), zero-padded by one pixel along the filter.
    let along_x = Tensor::<4>::from_data(TensorData::new([-1.0f32, 0.0, 1.0].repeat(c), [c, 1, 1, 3]), &device);
    let along_y = Tensor::<4>::from_data(TensorData::new([-1.0f32, 0.0, 1.0].repeat(c), [c, 1, 3, 1]), &device);
    let gx = conv2d(images.clone(), along_x, None, ConvOptions::new([1, 1], [0, 1], [1, 1], c));
    let gy = conv2d(images, along_y, None, ConvOptions::new([1, 1], [1, 0], [1, 1], c));
    let magnitude = (gx.clone().square() + gy.clone().square()).sqrt();
    // Fold each gradient into the upper half-plane (θ in [0°, 180°)): an unsigned orientation.
    let flip = gy.clone().lower_elem(0.0).bool_or(gy.clone().equal_elem(0.0).bool_and(gx.clone().lower_elem(0.0)));
    let sign = flip.float().mul_scalar(-2.0).add_scalar(1.0);
    let (ux, uy) = (gx * sign.clone(), gy * sign);
    // θ ≥ φ for φ in [0°, 180°) exactly when sin(θ − φ) = cos φ·u_y − sin φ·u_x ≥ 0, with no
    // arctangent; a tolerance keeps an exact boundary angle (0°, 90°) in the bin it starts.
    let at_least = |k: usize| -> Tensor<4> {
        if k == BINS {
            return magnitude.zeros_like();
        }
        let phi = std::f64::consts::PI * k as f64 / BINS as f64;
        (uy.clone().mul_scalar(phi.cos()) - ux.clone().mul_scalar(phi.sin())).greater_equal_elem(-1e-6).float()
    };
    let per_cell = |votes: Tensor<4>| -> Tensor<4> {
        // [B, C, H, W] → [B, C, rows, cell, cols, cell] → sum over each cell → [B, C, rows, cols]
        let cropped = votes.narrow(2, 0, rows * cell).narrow(3, 0, cols * cell);
        cropped.reshape([b, c, rows, cell, cols, cell]).sum_dim(5).sum_dim(3).reshape([b, c, rows, cols])
    };
    let mut above = at_least(0);
    let mut bins = Vec::with_capacity(BINS);
    for k in 0..BINS {
        let next = at_least(k + 1);
        bins.push(per_cell(magnitude.clone() * (above - next.clone())));
        above = next;
    }
    // [BINS × [B, C, rows, cols]] → [B, C, BINS, rows, cols] → [B, rows·cols, C·BINS]
    let histograms: Tensor<5> = Tensor::stack(bins, 2);
    let per_patch = histograms.reshape([b, c * BINS, rows * cols]).swap_dims(1, 2);
    let norm = per_patch.clone().square().sum_dim(2).sqrt().clamp_min(1e-6);
    per_patch / norm
}
