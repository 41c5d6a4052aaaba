//! Augmentation: batched ops on the device ([`ops`]) and the view recipes the methods use.
//!
//! Recipes draw a few numbers per image from a seeded [`Rng`], so the same seed gives the
//! same views on every backend:
//! - [`SimclrViews`]: random resized crop, flip, colour jitter, grey, blur (Chen et al. 2020, §3 and App. A).
//! - [`weak`]: flip + translate up to 12.5 % (FixMatch's weak view, Sohn et al. 2020).
//! - [`hog`]: histograms of oriented gradients, MaskFeat's target (Dalal and Triggs 2005).
//! - [`RandAugment`]: N random ops of random magnitude + Cutout (FixMatch's RA variant of
//!   Cubuk et al. 2020, arXiv:1909.13719), without Equalize, which has no cheap batched form.
pub mod colour;
pub mod exemplar;
pub mod hog;
pub mod jigsaw;
pub mod mix;
pub mod patches;
pub mod ops;

use crate::rng::Rng;
use burn::prelude::*;
use ops::Affine;
use serde::{Deserialize, Serialize};

/// SimCLR's view distribution, scaled to 28–64 px images.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SimclrViews {
    /// Crop area as a fraction of the image. The paper samples 0.08–1 on ImageNet; on 28 px
    /// images crops under a fifth of the area rarely keep the object, so we start at 0.2.
    pub crop_scale: (f32, f32),
    /// Crop aspect ratio range (paper: 3/4–4/3).
    pub crop_ratio: (f32, f32),
    pub flip_p: f32,
    /// Colour jitter is applied with this probability (paper: 0.8), with strength s = 0.5
    /// as in the paper's CIFAR runs: brightness/contrast/saturation 0.8·s, hue 0.2·s.
    pub jitter_p: f32,
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub hue: f32,
    pub grayscale_p: f32,
    /// Gaussian blur probability; the paper drops blur for 32 px CIFAR, so 0 by default.
    pub blur_p: f32,
    /// Blur σ range as a fraction of the image side (paper: 0.1–2.0 px at 224 px ≈ 0.0005–0.01).
    pub blur_sigma: (f32, f32),
}

impl Default for SimclrViews {
    fn default() -> Self {
        Self {
            crop_scale: (0.2, 1.0),
            crop_ratio: (0.75, 4.0 / 3.0),
            flip_p: 0.5,
            jitter_p: 0.8,
            brightness: 0.4,
            contrast: 0.4,
            saturation: 0.4,
            hue: 0.1,
            grayscale_p: 0.2,
            blur_p: 0.0,
            blur_sigma: (0.02, 0.07),
        }
    }
}

impl SimclrViews {
    /// Every probability in [0, 1], jitter strengths in [0, 1] (hue [0, 0.5]), ranges ordered.
    pub fn check(&self) -> Result<(), String> {
        let range = |name: &str, (lo, hi): (f32, f32), min: f32, max: f32| {
            if lo.is_finite() && hi.is_finite() && min <= lo && lo <= hi && hi <= max {
                Ok(())
            } else {
                Err(format!("views.{name} = [{lo}, {hi}] must be an ordered pair in [{min}, {max}]"))
            }
        };
        range("crop_scale", self.crop_scale, 0.01, 1.0)?;
        range("crop_ratio", self.crop_ratio, 0.1, 10.0)?;
        range("blur_sigma", self.blur_sigma, 0.0, 1.0)?;
        for (name, value, max) in [
            ("flip_p", self.flip_p, 1.0),
            ("jitter_p", self.jitter_p, 1.0),
            ("grayscale_p", self.grayscale_p, 1.0),
            ("blur_p", self.blur_p, 1.0),
            ("brightness", self.brightness, 1.0),
            ("contrast", self.contrast, 1.0),
            ("saturation", self.saturation, 1.0),
            ("hue", self.hue, 0.5),
        ] {
            crate::bounds::in_range_f(&format!("views.{name}"), value as f64, 0.0, max)?;
        }
        Ok(())
    }

    /// Random-resized-crop maps (torchvision's sampling: up to 10 tries, then the full image).
    pub fn crop_maps(&self, b: usize, rng: &mut Rng) -> Vec<Affine> {
        (0..b)
            .map(|_| {
                let mirror = rng.bernoulli(self.flip_p);
                for _ in 0..10 {
                    let area = rng.range(self.crop_scale.0, self.crop_scale.1);
                    let log_ratio = rng.range(self.crop_ratio.0.ln(), self.crop_ratio.1.ln());
                    let ratio = log_ratio.exp();
                    let (sw, sh) = ((area * ratio).sqrt(), (area / ratio).sqrt());
                    if sw <= 1.0 && sh <= 1.0 {
                        let cx = rng.range(-(1.0 - sw), 1.0 - sw);
                        let cy = rng.range(-(1.0 - sh), 1.0 - sh);
                        return Affine::crop(sw, sh, cx, cy, mirror);
                    }
                }
                Affine::crop(1.0, 1.0, 0.0, 0.0, mirror)
            })
            .collect()
    }

    /// One view of every image in `x` `[B, C, H, W]`.
    pub fn view(&self, x: Tensor<4>, rng: &mut Rng) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        self.view_sized(x, h, w, rng)
    }

    /// One view of every image, resized to `out_h`×`out_w` (DINO's multi-crop).
    pub fn view_sized(&self, x: Tensor<4>, out_h: usize, out_w: usize, rng: &mut Rng) -> Tensor<4> {
        let b = x.dims()[0];
        let h = out_h;
        let x = ops::warp_to(x, &self.crop_maps(b, rng), out_h, out_w);
        // Jitter factors; images that skip jitter get the identity (1, 1, 1, 0).
        let (mut br, mut co, mut sa, mut hu) = (vec![1.0; b], vec![1.0; b], vec![1.0; b], vec![0.0; b]);
        for i in 0..b {
            if rng.bernoulli(self.jitter_p) {
                br[i] = rng.range(1.0 - self.brightness, 1.0 + self.brightness);
                co[i] = rng.range(1.0 - self.contrast, 1.0 + self.contrast);
                sa[i] = rng.range(1.0 - self.saturation, 1.0 + self.saturation);
                hu[i] = rng.range(-self.hue, self.hue);
            }
        }
        let x = ops::hue(ops::saturation(ops::contrast(ops::brightness(x, br), co), sa), hu);
        let gray: Vec<bool> = (0..b).map(|_| rng.bernoulli(self.grayscale_p)).collect();
        let x = ops::grayscale_each(x, &gray);
        let sigma: Vec<f32> = (0..b)
            .map(|_| if rng.bernoulli(self.blur_p) { rng.range(self.blur_sigma.0, self.blur_sigma.1) * h as f32 } else { 0.0 })
            .collect();
        ops::gaussian_blur(x, &sigma)
    }
}

/// FixMatch's weak view: horizontal flip (p = 0.5) and a translation of up to 12.5 % each way.
/// `flip` is off for digits, where a mirror image is another symbol.
pub fn weak(x: Tensor<4>, flip: bool, rng: &mut Rng) -> Tensor<4> {
    let b = x.dims()[0];
    let maps: Vec<Affine> = (0..b)
        .map(|_| {
            let mirror = flip && rng.bernoulli(0.5);
            Affine::translate(rng.range(-0.125, 0.125), rng.range(-0.125, 0.125)).then(Affine::crop(1.0, 1.0, 0.0, 0.0, mirror))
        })
        .collect();
    ops::warp(x, &maps)
}

/// The RandAugment operations (FixMatch's list, Sohn et al. 2020, Table 12, minus Equalize).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaOp {
    Identity,
    AutoContrast,
    Brightness,
    Color,
    Contrast,
    Posterize,
    Rotate,
    Sharpness,
    ShearX,
    ShearY,
    Solarize,
    TranslateX,
    TranslateY,
}

pub const RA_OPS: [RaOp; 13] = [
    RaOp::Identity,
    RaOp::AutoContrast,
    RaOp::Brightness,
    RaOp::Color,
    RaOp::Contrast,
    RaOp::Posterize,
    RaOp::Rotate,
    RaOp::Sharpness,
    RaOp::ShearX,
    RaOp::ShearY,
    RaOp::Solarize,
    RaOp::TranslateX,
    RaOp::TranslateY,
];

/// RandAugment with a random magnitude per op, as FixMatch uses it (RA with `n` ops, then
/// Cutout of a random side up to `cutout` of the image).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RandAugment {
    pub n_ops: usize,
    pub cutout: f32,
    pub flip: bool,
}

impl Default for RandAugment {
    fn default() -> Self {
        Self { n_ops: 2, cutout: 0.5, flip: true }
    }
}

impl RandAugment {
    /// RandAugment's N in 0..=10 (FixMatch: 2; more than ten random ops leaves nothing of
    /// the image), Cutout's side in [0, 1] of the image.
    pub fn check(&self) -> Result<(), String> {
        crate::bounds::in_range("strong.n_ops", self.n_ops, 0, 10)?;
        crate::bounds::in_range_f("strong.cutout", self.cutout as f64, 0.0, 1.0)
    }

    /// The strong view of every image in `x`.
    pub fn view(&self, x: Tensor<4>, rng: &mut Rng) -> Tensor<4> {
        let b = x.dims()[0];
        let mut maps = vec![Affine::IDENTITY; b];
        let (mut autoc, mut bright, mut color, mut contr) = (vec![false; b], vec![1.0; b], vec![1.0; b], vec![1.0; b]);
        let (mut post, mut sharp, mut solar) = (vec![8u32; b], vec![1.0; b], vec![2.0; b]);
        let sign = |rng: &mut Rng| if rng.bernoulli(0.5) { 1.0 } else { -1.0 };
        for i in 0..b {
            // Weak flip + translate first, as FixMatch's strong pipeline starts from the weak one.
            let mirror = self.flip && rng.bernoulli(0.5);
            maps[i] = Affine::translate(rng.range(-0.125, 0.125), rng.range(-0.125, 0.125))
                .then(Affine::crop(1.0, 1.0, 0.0, 0.0, mirror));
            for _ in 0..self.n_ops {
                let m = rng.f32(); // magnitude in [0, 1)
                match RA_OPS[rng.below(RA_OPS.len())] {
                    RaOp::Identity => {}
                    RaOp::AutoContrast => autoc[i] = true,
                    RaOp::Brightness => bright[i] = 1.0 + sign(rng) * 0.9 * m,
                    RaOp::Color => color[i] = 1.0 + sign(rng) * 0.9 * m,
                    RaOp::Contrast => contr[i] = 1.0 + sign(rng) * 0.9 * m,
                    RaOp::Posterize => post[i] = 8 - (4.0 * m) as u32,
                    RaOp::Rotate => maps[i] = maps[i].then(Affine::rotation(sign(rng) * m * 30f32.to_radians())),
                    RaOp::Sharpness => sharp[i] = 1.0 + sign(rng) * 0.9 * m,
                    RaOp::ShearX => maps[i] = maps[i].then(Affine::shear(sign(rng) * 0.3 * m, 0.0)),
                    RaOp::ShearY => maps[i] = maps[i].then(Affine::shear(0.0, sign(rng) * 0.3 * m)),
                    RaOp::Solarize => solar[i] = 1.0 - m,
                    RaOp::TranslateX => maps[i] = maps[i].then(Affine::translate(sign(rng) * 0.3 * m, 0.0)),
                    RaOp::TranslateY => maps[i] = maps[i].then(Affine::translate(0.0, sign(rng) * 0.3 * m)),
                }
            }
        }
        let x = ops::warp(x, &maps);
        let x = ops::autocontrast(x, &autoc);
        let x = ops::contrast(ops::saturation(ops::brightness(x, bright), color), contr);
        let x = ops::sharpness(ops::posterize(x, post), sharp);
        let x = ops::solarize(x, solar);
        let boxes: Vec<(f32, f32, f32)> = (0..b).map(|_| (rng.f32(), rng.f32(), rng.range(0.0, self.cutout))).collect();
        ops::cutout(x, &boxes, 0.5)
    }
}
