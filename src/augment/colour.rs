//! Colourisation targets: what colour each region of an image has, as a class to predict
//! from the grey image.
//!
//! [0] Zhang, Isola, Efros. "Colorful Image Colorization", ECCV 2016, arXiv:1603.08511:
//! predicting a distribution over quantised colours (not regressing one colour) keeps the
//! answer from collapsing to the grey average of the plausible colours. [1] Larsson, Maire,
//! Shakhnarovich, ECCV 2016, do the same over hue/chroma bins; Doersch & Zisserman 2017 use
//! colourisation as one of their multi-task heads.
//!
//! Colour is split into luma Y (what the grey image keeps) and two colour differences,
//! Cb = B − Y and Cr = R − Y (YCbCr without the offsets). For RGB in [0, 1] they range over
//! ±(1 − 0.114) and ±(1 − 0.299); each is scaled to [−1, 1] and cut into `bins` equal steps,
//! so a region's class is one of `bins²` (Cb bin, Cr bin) pairs.
use super::ops::luma;
use burn::prelude::*;
use burn::tensor::module::{adaptive_avg_pool2d, interpolate};
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

/// Largest |B − Y| and |R − Y| for RGB in [0, 1], from the luma weights 0.114 and 0.299.
const CB_RANGE: f32 = 1.0 - 0.114;
const CR_RANGE: f32 = 1.0 - 0.299;

/// The grey image the colourisation head sees: luma copied into all channels `[B, C, H, W]`.
pub fn grey(x: Tensor<4>) -> Tensor<4> {
    let c = x.dims()[1];
    luma(x).repeat_dim(1, c)
}

/// Scaled colour differences `[B, 2, H, W]` (Cb, Cr in [−1, 1]) of RGB images `[B, 3, H, W]`.
pub fn chroma(x: Tensor<4>) -> Tensor<4> {
    let y = luma(x.clone());
    let cb = (x.clone().narrow(1, 2, 1) - y.clone()) / CB_RANGE;
    let cr = (x.narrow(1, 0, 1) - y) / CR_RANGE;
    Tensor::cat(vec![cb, cr], 1)
}

/// The colour class of every cell of an `h × w` grid over each image `[B, 3, H, W]`: the
/// cell's mean (Cb, Cr), each cut into `bins` steps, as `cb_bin · bins + cr_bin`. Returns
/// `[B·h·w]`, image-major, then row by row, as a `[B, D, h, w]` feature map's cells.
pub fn chroma_classes(x: Tensor<4>, grid: [usize; 2], bins: usize) -> Tensor<1, Int> {
    let b = x.dims()[0];
    let mean = adaptive_avg_pool2d(chroma(x), grid); // [B, 2, h, w]
    let step = ((mean + 1.0) * (bins as f32 / 2.0)).floor().int().clamp(0, bins as i64 - 1);
    let cb = step.clone().narrow(1, 0, 1);
    let cr = step.narrow(1, 1, 1);
    (cb * bins as i64 + cr).reshape([b * grid[0] * grid[1]])
}

/// Images that show colour classes: the grey image `luma` `[B, 1, H, W]` with the colour at
/// the centre of each cell's class `classes` `[B·h·w]` (as [`chroma_classes`] gives them),
/// each cell's colour spread over its pixels. For the preview: what the head is asked.
pub fn paint(luma: Tensor<4>, classes: Tensor<1, Int>, grid: [usize; 2], bins: usize) -> Tensor<4> {
    let [b, _, h, w] = luma.dims();
    let classes = classes.reshape([b, 1, grid[0], grid[1]]);
    let centre = |step: Tensor<4, Int>| (step.float() + 0.5) * (2.0 / bins as f32) - 1.0;
    let cb = centre(classes.clone().div_scalar(bins as i64)) * CB_RANGE; // [B, 1, h, w]
    let cr = centre(classes.remainder_scalar(bins as i64)) * CR_RANGE;
    // Nearest-neighbour upsampling to the image: each cell's colour over its pixels.
    let up = |t: Tensor<4>| interpolate(t, InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([h, w]));
    let (cb, cr) = (up(cb), up(cr));
    let red = luma.clone() + cr;
    let blue = luma.clone() + cb;
    let green = (luma - red.clone() * 0.299 - blue.clone() * 0.114) / 0.587;
    Tensor::cat(vec![red, green, blue], 1).clamp(0.0, 1.0)
}
