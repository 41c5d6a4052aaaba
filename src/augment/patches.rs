//! Patches cut from a grid over the image, for the patch-based pretext tasks: Jigsaw's 3×3
//! tiles, Context Prediction's centre and neighbour, Counting's 2×2 tiles and its
//! half-resolution image.
//!
//! Patches are resampled from the source image in one batched `grid_sample` at `px` pixels,
//! whatever the source size. Cutting a patch of a 28-px image at 14 px is the same as
//! upsampling the image first and cutting from that (what the patch papers' 28-px recipes
//! would do by hand), without materialising the large image.
use super::ops::Affine;
use crate::rng::Rng;
use burn::prelude::*;
use burn::tensor::grid::affine_grid_2d;
use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode};

/// Where the patch of cell `cell` (row by row) of a `grid`×`grid` grid is cut. The patch
/// covers `fraction` of its cell's side; the rest is a gap around it. Its centre moves from
/// the cell's centre by up to `jitter` × the room the gap leaves, in each axis, at random
/// (`rng`), or stays centred (`rng` = `None`: evaluation and tests). A patch never leaves
/// its cell, so neighbouring patches never overlap.
pub fn grid_map(grid: usize, cell: usize, fraction: f32, jitter: f32, rng: Option<&mut Rng>) -> Affine {
    let g = grid as f32;
    let half = fraction / g; // half the patch's side, in normalised coordinates (the image is 2 wide)
    let slack = jitter * (1.0 - fraction) / g; // how far the centre may move from the cell's
    let (row, col) = ((cell / grid) as f32, (cell % grid) as f32);
    let (mut cx, mut cy) = (-1.0 + (2.0 * col + 1.0) / g, -1.0 + (2.0 * row + 1.0) / g);
    if let Some(rng) = rng {
        cx += rng.range(-slack, slack);
        cy += rng.range(-slack, slack);
    }
    Affine::crop(half, half, cx, cy, false)
}

/// [`grid_map`] for every cell of `b` images, image-major and in cell order.
pub fn grid_maps(b: usize, grid: usize, fraction: f32, jitter: f32, mut rng: Option<&mut Rng>) -> Vec<Affine> {
    (0..b).flat_map(|_| (0..grid * grid).map(|cell| grid_map(grid, cell, fraction, jitter, rng.as_deref_mut())).collect::<Vec<_>>()).collect()
}

/// The 2×2 quadrants of `b` images of `h`×`w` pixels (even sides), in cell order, each
/// spanning exactly its own pixel centres: at `px` = h/2 a quadrant reads its pixels one for
/// one, so the four tile the image (the Counting test checks this).
pub fn quadrant_maps(b: usize, h: usize, w: usize) -> Vec<Affine> {
    // Pixel p of n sits at −1 + 2p/(n − 1); a quadrant spans pixels q0 ..= q0 + n/2 − 1.
    let span = |n: usize, q: usize| {
        let to_norm = |p: f32| -1.0 + 2.0 * p / (n as f32 - 1.0);
        let (lo, hi) = (to_norm((q * n / 2) as f32), to_norm((q * n / 2 + n / 2 - 1) as f32));
        ((hi - lo) / 2.0, (hi + lo) / 2.0) // half-size and centre
    };
    let one: Vec<Affine> = (0..4)
        .map(|cell| {
            let ((sw, cx), (sh, cy)) = (span(w, cell % 2), span(h, cell / 2));
            Affine::crop(sw, sh, cx, cy, false)
        })
        .collect();
    (0..b).flat_map(|_| one.iter().copied()).collect()
}

/// Cut the patches `maps` name from `x` `[B, C, H, W]` at `px`×`px` pixels: `maps` holds k
/// maps per image, image-major, and the result is `[kB, C, px, px]` in the same order.
pub fn cut(x: Tensor<4>, maps: &[Affine], px: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    assert!(b > 0 && maps.len() % b == 0, "{} maps for {b} images: give the same number per image", maps.len());
    let k = maps.len() / b;
    let repeated = x.unsqueeze_dim::<5>(1).repeat_dim(1, k).reshape([b * k, c, h, w]); // [kB, C, H, W]
    let flat: Vec<f32> = maps.iter().flat_map(|m| m.0.iter().flatten().copied()).collect();
    let theta = Tensor::<3>::from_data(TensorData::new(flat, [b * k, 2, 3]), &repeated.device());
    let grid = affine_grid_2d(theta, [b * k, c, px, px]); // [kB, px, px, 2]
    let options = GridSampleOptions::new(InterpolateMode::Bilinear).with_padding_mode(GridSamplePaddingMode::Border).with_align_corners(true);
    repeated.grid_sample_2d(grid, options)
}

/// Each image at half resolution (the mean of every 2×2 block; an odd last row or column is
/// dropped), shown at `px`×`px`: the image holds a quarter of its pixels' information, as
/// each of its quadrants does when cut at the same `px`.
pub fn half_resolution(x: Tensor<4>, px: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let (h2, w2) = (h / 2, w / 2);
    let even = x.narrow(2, 0, 2 * h2).narrow(3, 0, 2 * w2);
    let pooled = even.reshape([b * c * h2, 2, w2, 2]).mean_dim(3).mean_dim(1).reshape([b, c, h2, w2]); // [B, C, H/2, W/2]
    cut(pooled, &vec![Affine::IDENTITY; b], px)
}

/// Lay out `[rows·cols·B, C, t, t]` patches (image-major, row by row) as one image per
/// source, `[B, C, rows(t+1) − 1, cols(t+1) − 1]`, with a 1-px white line between patches:
/// the pretext previews.
pub fn mosaic(patches: Tensor<4>, rows: usize, cols: usize) -> Tensor<4> {
    let [n, c, t, _] = patches.dims();
    let b = n / (rows * cols);
    let padded = patches.pad((0, 1, 0, 1), burn::tensor::ops::PadMode::Constant(1.0)); // [n, C, t+1, t+1]
    let s = t + 1;
    let grid = padded.reshape([b, rows, cols, c, s, s]).permute([0, 3, 1, 4, 2, 5]).reshape([b, c, rows * s, cols * s]); // [B, C, rows(t+1), cols(t+1)]
    grid.narrow(2, 0, rows * s - 1).narrow(3, 0, cols * s - 1)
}
