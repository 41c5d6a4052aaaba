//! Figures for course slides, drawn natively with the `image` crate (`sslp train
//! --attention-maps DIR`): a test image beside its CLS attention maps, one per head and their
//! mean, each laid over the image as a heat map (DINO's Fig. 3 for our small ViT).
use crate::report::AttentionMaps;
use crate::backbone::vit_tiny::PATCH;
use image::{Rgb, RgbImage};

/// Pixels per image pixel in the figure: 28 px become 224 px panels.
pub const SCALE: u32 = 8;
/// Gap between panels, in figure pixels.
const GAP: u32 = 4;

/// A dark-blue → red → yellow ramp for v in [0, 1].
fn heat(v: f32) -> [f32; 3] {
    let v = v.clamp(0.0, 1.0);
    [(1.5 * v).min(1.0), (2.0 * v - 1.0).clamp(0.0, 1.0), (0.5 - v).max(0.0) * 0.8]
}

/// One strip: the image, then one overlay per head, then the heads' mean. `pixels` is the
/// image `[C, H, W]` in [0, 1] (C = 1 or 3), row-major.
pub fn attention_strip(pixels: &[f32], channels: usize, height: usize, width: usize, maps: &AttentionMaps) -> RgbImage {
    assert_eq!(pixels.len(), channels * height * width, "pixels are [C, H, W]");
    let panels: Vec<Option<&[f32]>> = std::iter::once(None).chain(maps.heads.iter().map(|m| Some(m.as_slice()))).chain(std::iter::once(Some(maps.mean.as_slice()))).collect();
    let (pw, ph) = (width as u32 * SCALE, height as u32 * SCALE);
    let mut out = RgbImage::from_pixel(panels.len() as u32 * (pw + GAP) - GAP, ph, Rgb([255, 255, 255]));
    let plane = height * width;
    let colour = |y: usize, x: usize| -> [f32; 3] {
        let at = |c: usize| pixels[c.min(channels - 1) * plane + y * width + x];
        [at(0), at(1), at(2)]
    };
    for (p, map) in panels.iter().enumerate() {
        // Each map is scaled to its own maximum, as DINO's figures are.
        let peak = map.map_or(1.0, |m| m.iter().copied().fold(f32::MIN_POSITIVE, f32::max));
        for y in 0..height {
            for x in 0..width {
                let rgb = colour(y, x);
                let shown = match map {
                    None => rgb,
                    Some(m) => {
                        let (r, c) = (y / PATCH, x / PATCH);
                        // Pixels past the last whole patch (sides not divisible by 4) show grey.
                        let v = if r < maps.rows && c < maps.cols { m[r * maps.cols + c] / peak } else { 0.0 };
                        let grey = (rgb[0] + rgb[1] + rgb[2]) / 3.0;
                        let h = heat(v);
                        [0.35 * grey + 0.65 * h[0], 0.35 * grey + 0.65 * h[1], 0.35 * grey + 0.65 * h[2]]
                    }
                };
                let px = Rgb(shown.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8));
                for dy in 0..SCALE {
                    for dx in 0..SCALE {
                        out.put_pixel(p as u32 * (pw + GAP) + x as u32 * SCALE + dx, y as u32 * SCALE + dy, px);
                    }
                }
            }
        }
    }
    out
}
