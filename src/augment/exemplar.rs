//! Exemplar's surrogate classes: a seed patch cut where the image is busiest, and strong
//! random transformations of it.
//!
//! [0] Dosovitskiy, Springenberg, Riedmiller, Brox. "Discriminative Unsupervised Feature
//! Learning with Exemplar Convolutional Neural Networks", NIPS 2014, arXiv:1406.6909. Seed
//! patches are sampled "from regions containing considerable gradients" (§2.1) and each
//! defines a class of its transformed copies: translation (up to 0.2 of the patch size),
//! scaling (0.7–1.4), rotation (up to ±20°), contrast and colour changes.
//!
//! Everything here is batched on the device. The busiest window is found without reading
//! pixels back: the gradient energy is summed over every window by two band-matrix products
//! and the argmax's position is turned into a crop centre by tensor arithmetic, so the crop
//! centres stay on the device and are added into the affine maps there.
use super::ops::{self, luma};
use crate::rng::Rng;
use burn::prelude::*;
use burn::tensor::grid::affine_grid_2d;
use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode};
use serde::{Deserialize, Serialize};

/// Squared gradient magnitude of each image's luma `[N, 1, H, W]` (forward differences; the
/// last row and column get 0).
pub fn gradient_energy(x: Tensor<4>) -> Tensor<4> {
    let g = luma(x);
    let [n, _, h, w] = g.dims();
    let dx = g.clone().narrow(3, 1, w - 1) - g.clone().narrow(3, 0, w - 1); // [N, 1, H, W−1]
    let dy = g.clone().narrow(2, 1, h - 1) - g.narrow(2, 0, h - 1); // [N, 1, H−1, W]
    let dx = dx.square().pad((0, 1, 0, 0), burn::tensor::ops::PadMode::Constant(0.0));
    let dy = dy.square().pad((0, 0, 0, 1), burn::tensor::ops::PadMode::Constant(0.0));
    (dx + dy).reshape([n, 1, h, w])
}

/// `[n − k + 1, n]` with ones where column j lies in row i's window [i, i + k).
fn window_band(n: usize, k: usize, device: &Device) -> Tensor<2> {
    let rows = n - k + 1;
    let v: Vec<f32> = (0..rows).flat_map(|i| (0..n).map(move |j| (j >= i && j < i + k) as u8 as f32)).collect();
    Tensor::from_data(TensorData::new(v, [rows, n]), device)
}

/// The centre `[N, 2]` (x, y in the normalised −1..1 coordinates of `affine_grid_2d`) of the
/// `window`×`window`-pixel window with the largest gradient energy in each image (the first
/// such window in reading order on ties).
pub fn busiest_windows(x: Tensor<4>, window: usize) -> Tensor<2> {
    let [n, _, h, w] = x.dims();
    let window = window.clamp(1, h.min(w));
    let device = x.device();
    let energy = gradient_energy(x); // [N, 1, H, W]
    let (bh, bw) = (window_band(h, window, &device), window_band(w, window, &device));
    let (hp, wp) = (h - window + 1, w - window + 1);
    let sums = bh.unsqueeze::<4>().expand([n, 1, hp, h]).matmul(energy).matmul(bw.transpose().unsqueeze::<4>().expand([n, 1, w, wp])); // [N, 1, Hp, Wp]
    let best = sums.reshape([n, hp * wp]).argmax(1).float(); // [N, 1]
    let row = (best.clone() / wp as f64).floor();
    let col = best - row.clone() * wp as f64;
    // Window (row, col) spans pixels row .. row + window − 1; pixel p sits at −1 + 2p/(n − 1).
    let half = (window as f64 - 1.0) / 2.0;
    let to_norm = |p: Tensor<2>, size: usize| (p + half) * (2.0 / (size as f64 - 1.0).max(1.0)) - 1.0;
    Tensor::cat(vec![to_norm(col, w), to_norm(row, h)], 1) // [N, 2]
}

/// The transformations that make a surrogate class, per the paper's list (§2.1), scaled to
/// 28–64 px: geometry on the seed patch, then contrast, brightness and colour.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ExemplarViews {
    /// Scale factor range of the patch (paper 0.7–1.4).
    pub scale: (f32, f32),
    /// Largest rotation in degrees either way (paper 20).
    pub rotation_deg: f32,
    /// Largest shift as a fraction of the patch's side (paper 0.2).
    pub translate: f32,
    /// Contrast and brightness factors are drawn in [1 − s, 1 + s] (the paper's "contrast 1
    /// and 2" scale pixel values by 0.5–2 and powers of 0.25–4; 0.5 keeps 28-px grey images
    /// legible).
    pub contrast: f32,
    pub brightness: f32,
    /// Saturation factor range width and hue shift (paper ±0.1) for colour images.
    pub saturation: f32,
    pub hue: f32,
}

impl Default for ExemplarViews {
    fn default() -> Self {
        ExemplarViews { scale: (0.7, 1.4), rotation_deg: 20.0, translate: 0.2, contrast: 0.5, brightness: 0.5, saturation: 0.5, hue: 0.1 }
    }
}

impl ExemplarViews {
    pub fn check(&self) -> Result<(), String> {
        let (lo, hi) = self.scale;
        if !(0.1..=4.0).contains(&lo) || !(0.1..=4.0).contains(&hi) || lo > hi {
            return Err(format!("views.scale = [{lo}, {hi}] must be an ordered pair in [0.1, 4]"));
        }
        for (name, v, max) in [
            ("views.rotation_deg", self.rotation_deg, 180.0),
            ("views.translate", self.translate, 1.0),
            ("views.contrast", self.contrast, 0.9),
            ("views.brightness", self.brightness, 0.9),
            ("views.saturation", self.saturation, 0.9),
            ("views.hue", self.hue, 0.5),
        ] {
            if !(0.0..=max).contains(&v) {
                return Err(format!("{name} = {v} must be in [0, {max}]"));
            }
        }
        Ok(())
    }

    /// One random member of each seed's class: `seeds` `[B, C, H, W]` are the seed images,
    /// `centres` `[B, 2]` their patch centres ([`busiest_windows`]), `patch` the patch side
    /// as a fraction of the image side; the result is `[B, C, H, W]`, the patch resampled to
    /// the image's size. `rng` = `None` gives the seed patch itself.
    pub fn sample(&self, seeds: Tensor<4>, centres: Tensor<2>, patch: f32, rng: Option<&mut Rng>) -> Tensor<4> {
        let [b, c, h, w] = seeds.dims();
        let device = seeds.device();
        // Output u ∈ [−1, 1]² samples centre + patch·(M·u + t), M = rotation·scale: the
        // host draws M and t; the centres are added on the device.
        let mut theta = Vec::with_capacity(b * 6);
        let mut photometric = (Vec::with_capacity(b), Vec::with_capacity(b), Vec::with_capacity(b), Vec::with_capacity(b));
        let mut rng = rng;
        for _ in 0..b {
            let (s, angle, tx, ty, con, bri, sat, hue) = match rng.as_deref_mut() {
                Some(r) => {
                    let s = 1.0 / r.range(self.scale.0, self.scale.1); // zooming in = a smaller sampled area
                    let a = r.range(-self.rotation_deg, self.rotation_deg).to_radians();
                    let t = 2.0 * self.translate;
                    (s, a, r.range(-t, t), r.range(-t, t), r.range(1.0 - self.contrast, 1.0 + self.contrast), r.range(1.0 - self.brightness, 1.0 + self.brightness), r.range(1.0 - self.saturation, 1.0 + self.saturation), r.range(-self.hue, self.hue))
                }
                None => (1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0),
            };
            let (sin, cos) = angle.sin_cos();
            theta.extend([patch * s * cos, -patch * s * sin, patch * tx, patch * s * sin, patch * s * cos, patch * ty]);
            photometric.0.push(con);
            photometric.1.push(bri);
            photometric.2.push(sat);
            photometric.3.push(hue);
        }
        let theta = Tensor::<3>::from_data(TensorData::new(theta, [b, 2, 3]), &device);
        let shift = Tensor::cat(vec![Tensor::zeros([b, 2, 2], &device), centres.reshape([b, 2, 1])], 2); // [B, 2, 3]
        let grid = affine_grid_2d(theta + shift, [b, c, h, w]);
        let options = GridSampleOptions::new(InterpolateMode::Bilinear).with_padding_mode(GridSamplePaddingMode::Border).with_align_corners(true);
        let x = seeds.grid_sample_2d(grid, options);
        let x = ops::contrast(ops::brightness(x, photometric.1), photometric.0);
        if c == 3 {
            ops::hue(ops::saturation(x, photometric.2), photometric.3)
        } else {
            x
        }
    }
}
