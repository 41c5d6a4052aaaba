//! Batched image ops on the device. Images are `[B, C, H, W]` floats in [0, 1].
//!
//! Each op takes per-sample parameters (a handful of numbers per image, drawn on the host
//! from the seeded [`Rng`](crate::rng::Rng)) and does the pixel work as whole-batch tensor ops,
//! so one kernel sequence serves the batch whatever each image drew. Parameters that mean
//! "leave this image alone" (factor 1, threshold above 1, identity matrix) make every op
//! applicable to every image, which is how RandAugment stays batched.
use burn::prelude::*;
use burn::tensor::grid::affine_grid_2d;
use burn::tensor::module::conv2d;
use burn::tensor::ops::{ConvOptions, GridSampleOptions, GridSamplePaddingMode, InterpolateMode};

/// Per-sample column `[B, 1, 1, 1]` from host values.
pub fn per_sample(values: Vec<f32>, device: &Device) -> Tensor<4> {
    let b = values.len();
    Tensor::from_data(TensorData::new(values, [b, 1, 1, 1]), device)
}

/// A 2-D affine map in the normalised coordinates of `affine_grid_2d` (−1..1 on pixel
/// centres): output point (x, y) samples input point `m · (x, y, 1)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine(pub [[f32; 3]; 2]);

impl Affine {
    pub const IDENTITY: Affine = Affine([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);

    /// `self ∘ other`: apply `other` to the output coordinates first, then `self`.
    pub fn then(self, other: Affine) -> Affine {
        let (a, b) = (self.0, other.0);
        let mut m = [[0.0; 3]; 2];
        for r in 0..2 {
            for c in 0..3 {
                m[r][c] = a[r][0] * b[0][c] + a[r][1] * b[1][c] + if c == 2 { a[r][2] } else { 0.0 };
            }
        }
        Affine(m)
    }
    /// A crop of relative size (sw, sh) centred at (cx, cy) (normalised), optionally mirrored.
    pub fn crop(sw: f32, sh: f32, cx: f32, cy: f32, mirror: bool) -> Affine {
        let f = if mirror { -1.0 } else { 1.0 };
        Affine([[sw * f, 0.0, cx], [0.0, sh, cy]])
    }
    pub fn rotation(radians: f32) -> Affine {
        let (s, c) = radians.sin_cos();
        Affine([[c, -s, 0.0], [s, c, 0.0]])
    }
    pub fn shear(sx: f32, sy: f32) -> Affine {
        Affine([[1.0, sx, 0.0], [sy, 1.0, 0.0]])
    }
    /// Translation by a fraction of the image side (−1..1 = the full width).
    pub fn translate(fx: f32, fy: f32) -> Affine {
        Affine([[1.0, 0.0, 2.0 * fx], [0.0, 1.0, 2.0 * fy]])
    }
}

/// Resample every image through its own affine map (bilinear, zero outside the image).
pub fn warp(x: Tensor<4>, maps: &[Affine]) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    warp_to(x, maps, h, w)
}

/// [`warp`] into an `out_h`×`out_w` output: a crop and a resize in one resampling (DINO's
/// local views).
pub fn warp_to(x: Tensor<4>, maps: &[Affine], out_h: usize, out_w: usize) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    assert_eq!(b, maps.len(), "one affine map per image");
    if (out_h, out_w) == (h, w) && maps.iter().all(|m| *m == Affine::IDENTITY) {
        return x;
    }
    let dims = [b, c, out_h, out_w];
    let flat: Vec<f32> = maps.iter().flat_map(|m| m.0.iter().flatten().copied()).collect();
    let theta = Tensor::<3>::from_data(TensorData::new(flat, [dims[0], 2, 3]), &x.device());
    let grid = affine_grid_2d(theta, dims); // [B, H, W, 2]
    let options = GridSampleOptions::new(InterpolateMode::Bilinear)
        .with_padding_mode(GridSamplePaddingMode::Zeros)
        .with_align_corners(true);
    x.grid_sample_2d(grid, options)
}

/// Rotate the whole batch by `k`·90° counter-clockwise (exact: a transpose and a flip).
pub fn rot90(x: Tensor<4>, k: usize) -> Tensor<4> {
    match k % 4 {
        0 => x,
        1 => x.swap_dims(2, 3).flip([2]),
        2 => x.flip([2, 3]),
        _ => x.swap_dims(2, 3).flip([3]),
    }
}

/// Rotate image i by `ks[i]`·90°. Square images only.
pub fn rot90_each(x: Tensor<4>, ks: &[usize]) -> Tensor<4> {
    let device = x.device();
    let mut out = x.zeros_like();
    for k in 0..4 {
        let mask: Vec<f32> = ks.iter().map(|&ki| if ki % 4 == k { 1.0 } else { 0.0 }).collect();
        if mask.iter().any(|&m| m > 0.0) {
            out = out + rot90(x.clone(), k) * per_sample(mask, &device);
        }
    }
    out
}

/// Mirror images left–right where `flip[i]`.
pub fn hflip_each(x: Tensor<4>, flip: &[bool]) -> Tensor<4> {
    if !flip.iter().any(|&f| f) {
        return x;
    }
    let m = per_sample(flip.iter().map(|&f| f as u8 as f32).collect(), &x.device());
    let mirrored = x.clone().flip([3]);
    x.clone() + (mirrored - x) * m
}

/// Luma `[B, 1, H, W]` (ITU-R 601 weights for RGB; the image itself for grey).
pub fn luma(x: Tensor<4>) -> Tensor<4> {
    let [_, c, _, _] = x.dims();
    if c == 1 {
        return x;
    }
    let w = Tensor::<4>::from_data(TensorData::new(vec![0.299f32, 0.587, 0.114], [1, 3, 1, 1]), &x.device());
    (x * w).sum_dim(1)
}

/// Blend towards `other` by per-sample factor: `other + f·(x − other)` (f = 1 keeps x).
fn blend(x: Tensor<4>, other: Tensor<4>, factor: Tensor<4>) -> Tensor<4> {
    other.clone() + (x - other) * factor
}

/// Multiply by per-sample factor (1 = unchanged).
pub fn brightness(x: Tensor<4>, factor: Vec<f32>) -> Tensor<4> {
    let f = per_sample(factor, &x.device());
    (x * f).clamp(0.0, 1.0)
}

/// Blend with each image's mean grey (1 = unchanged, 0 = flat grey).
pub fn contrast(x: Tensor<4>, factor: Vec<f32>) -> Tensor<4> {
    let f = per_sample(factor, &x.device());
    let mean = luma(x.clone()).mean_dim(3).mean_dim(2); // [B, 1, 1, 1]
    blend(x, mean, f).clamp(0.0, 1.0)
}

/// Brightness and contrast jitter of strength `j`: factors drawn from [1 − j, 1 + j], one draw
/// of each per `group` consecutive images (an image's tiles share theirs). `j = 0` returns `x`.
pub fn group_jitter(x: Tensor<4>, group: usize, j: f32, rng: &mut crate::rng::Rng) -> Tensor<4> {
    if j == 0.0 {
        return x;
    }
    let groups = x.dims()[0] / group;
    let mut draw = || -> Vec<f32> { (0..groups).flat_map(|_| std::iter::repeat_n(rng.range(1.0 - j, 1.0 + j), group)).collect() };
    let (brightness_factors, contrast_factors) = (draw(), draw());
    brightness(contrast(x, contrast_factors), brightness_factors)
}

/// Blend with the per-pixel grey (1 = unchanged, 0 = greyscale). No-op for grey images.
pub fn saturation(x: Tensor<4>, factor: Vec<f32>) -> Tensor<4> {
    if x.dims()[1] == 1 {
        return x;
    }
    let f = per_sample(factor, &x.device());
    let grey = luma(x.clone());
    blend(x, grey, f).clamp(0.0, 1.0)
}

/// Hue rotation by `shift` turns (−0.5..0.5) in YIQ space. No-op for grey images.
pub fn hue(x: Tensor<4>, shift: Vec<f32>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    if c == 1 || shift.iter().all(|&s| s == 0.0) {
        return x;
    }
    // RGB→YIQ, rotate I/Q by θ, YIQ→RGB, composed into one 3×3 matrix per image.
    const T: [[f32; 3]; 3] = [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]];
    const TI: [[f32; 3]; 3] = [[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]];
    let mut mats = Vec::with_capacity(b * 9);
    for s in &shift {
        let (sn, cs) = (s * std::f32::consts::TAU).sin_cos();
        let rot = [[1.0, 0.0, 0.0], [0.0, cs, -sn], [0.0, sn, cs]];
        let mut rt = [[0.0f32; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                rt[i][j] = (0..3).map(|k| rot[i][k] * T[k][j]).sum();
            }
        }
        for i in 0..3 {
            for j in 0..3 {
                mats.push((0..3).map(|k| TI[i][k] * rt[k][j]).sum::<f32>());
            }
        }
    }
    let m = Tensor::<3>::from_data(TensorData::new(mats, [b, 3, 3]), &x.device());
    let flat = x.reshape([b, 3, h * w]); // [B, 3, HW]
    m.matmul(flat).reshape([b, 3, h, w]).clamp(0.0, 1.0)
}

/// Replace the image by its grey where `gray[i]` (RGB only).
pub fn grayscale_each(x: Tensor<4>, gray: &[bool]) -> Tensor<4> {
    if x.dims()[1] == 1 || !gray.iter().any(|&g| g) {
        return x;
    }
    saturation(x, gray.iter().map(|&g| if g { 0.0 } else { 1.0 }).collect())
}

/// Keep one channel of each image, `channel[i]`, and copy it into every channel: a grey
/// image made from a single colour plane, so nothing is left of the shifts between planes
/// (chromatic aberration) that Context Prediction could otherwise read positions from.
pub fn keep_one_channel(x: Tensor<4>, channel: &[usize]) -> Tensor<4> {
    let [b, c, _, _] = x.dims();
    assert_eq!(channel.len(), b, "one channel per image");
    let one_hot: Vec<f32> = channel.iter().flat_map(|&k| (0..c).map(move |j| (j == k) as u8 as f32)).collect();
    let mask = Tensor::<4>::from_data(TensorData::new(one_hot, [b, c, 1, 1]), &x.device());
    (x * mask).sum_dim(1).repeat_dim(1, c) // [B, 1, H, W] → [B, C, H, W]
}

/// Invert pixels at or above each image's threshold (threshold > 1 = unchanged).
pub fn solarize(x: Tensor<4>, threshold: Vec<f32>) -> Tensor<4> {
    let t = per_sample(threshold, &x.device());
    let above = x.clone().greater_equal(t.expand(x.dims()));
    x.clone().mask_where(above, x.neg().add_scalar(1.0))
}

/// Keep `bits` bits per channel (8 = unchanged).
pub fn posterize(x: Tensor<4>, bits: Vec<u32>) -> Tensor<4> {
    let step: Vec<f32> = bits.iter().map(|&b| (1u32 << (8 - b.min(8))) as f32).collect();
    let q = per_sample(step, &x.device());
    ((x * 255.0).div(q.clone()).floor() * q / 255.0).clamp(0.0, 1.0)
}

/// Stretch each image to span [0, 1] where `on[i]`.
pub fn autocontrast(x: Tensor<4>, on: &[bool]) -> Tensor<4> {
    if !on.iter().any(|&o| o) {
        return x;
    }
    let [b, c, h, w] = x.dims();
    let flat = x.clone().reshape([b, c, h * w]);
    let lo = flat.clone().min_dim(2).reshape([b, c, 1, 1]);
    let hi = flat.max_dim(2).reshape([b, c, 1, 1]);
    let stretched = (x.clone() - lo.clone()) / (hi - lo).clamp_min(1e-3);
    let m = per_sample(on.iter().map(|&o| o as u8 as f32).collect(), &x.device());
    blend(stretched.clamp(0.0, 1.0), x, m)
}

/// PIL-style sharpness: blend with a 3×3 smoothed image (1 = unchanged, 0 = smooth, 2 = sharper).
pub fn sharpness(x: Tensor<4>, factor: Vec<f32>) -> Tensor<4> {
    let [_, c, _, _] = x.dims();
    let device = x.device();
    // PIL's SMOOTH kernel: centre 5, the eight neighbours 1, divided by 13.
    let k: Vec<f32> = (0..c).flat_map(|_| [1., 1., 1., 1., 5., 1., 1., 1., 1.].map(|v| v / 13.0)).collect();
    let weight = Tensor::<4>::from_data(TensorData::new(k, [c, 1, 3, 3]), &device);
    let smooth = conv2d(x.clone(), weight, None, ConvOptions::new([1, 1], [1, 1], [1, 1], c));
    blend(x, smooth, per_sample(factor, &device)).clamp(0.0, 1.0)
}

/// Gaussian blur with a per-image σ in pixels (σ ≤ 0.1 = unchanged), as a separable blur
/// written as two batched matmuls with per-image band matrices: `G_y · X · G_xᵀ`.
pub fn gaussian_blur(x: Tensor<4>, sigma: &[f32]) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    if sigma.iter().all(|&s| s <= 0.1) {
        return x;
    }
    let device = x.device();
    let band = |n: usize| {
        let mut m = Vec::with_capacity(b * n * n);
        for &s in sigma {
            for i in 0..n {
                let row: Vec<f32> = (0..n)
                    .map(|j| {
                        let d = i as f32 - j as f32;
                        if s <= 0.1 {
                            (i == j) as u8 as f32
                        } else if d.abs() > 3.0 * s {
                            0.0
                        } else {
                            (-d * d / (2.0 * s * s)).exp()
                        }
                    })
                    .collect();
                let total: f32 = row.iter().sum(); // renormalise at the borders
                m.extend(row.into_iter().map(|v| v / total));
            }
        }
        Tensor::<4>::from_data(TensorData::new(m, [b, 1, n, n]), &device).expand([b, c, n, n])
    };
    let gy = band(h); // [B, C, H, H]
    let gx = band(w); // [B, C, W, W]
    gy.matmul(x).matmul(gx.transpose())
}

/// Fill one square per image (centre cy, cx and side, as fractions of the image) with `value`.
/// A side of 0 leaves the image unchanged.
pub fn cutout(x: Tensor<4>, boxes: &[(f32, f32, f32)], value: f32) -> Tensor<4> {
    let [b, _, h, w] = x.dims();
    if boxes.iter().all(|bx| bx.2 <= 0.0) {
        return x;
    }
    let device = x.device();
    let edges = |lo: Vec<f32>| per_sample(lo, &device);
    let (mut y0, mut y1, mut x0, mut x1) = (vec![], vec![], vec![], vec![]);
    for &(cy, cx, side) in boxes {
        let (half_h, half_w) = (side * h as f32 / 2.0, side * w as f32 / 2.0);
        y0.push(cy * h as f32 - half_h);
        y1.push(cy * h as f32 + half_h);
        x0.push(cx * w as f32 - half_w);
        x1.push(cx * w as f32 + half_w);
    }
    let rows = Tensor::<1, Int>::arange(0..h as i64, &device).float().reshape([1, 1, h, 1]).add_scalar(0.5);
    let cols = Tensor::<1, Int>::arange(0..w as i64, &device).float().reshape([1, 1, 1, w]).add_scalar(0.5);
    let in_rows = rows.clone().greater_equal(edges(y0).expand([b, 1, h, 1])).bool_and(rows.lower(edges(y1).expand([b, 1, h, 1])));
    let in_cols = cols.clone().greater_equal(edges(x0).expand([b, 1, 1, w])).bool_and(cols.lower(edges(x1).expand([b, 1, 1, w])));
    let inside = in_rows.float().mul(in_cols.float()); // [B, 1, H, W] of 0/1
    x.clone() + inside * x.neg().add_scalar(value) // inside: x → value
}
