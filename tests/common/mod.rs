//! Shared test helpers: the CPU device and the bundled packs.
#![allow(dead_code)]
use burn::prelude::*;
use ssl_playground::data::{self, Pack};

pub fn cpu() -> Device {
    ssl_playground::device::native_device("cpu").expect("the CPU backend is always there")
}

pub fn pack(name: &str) -> Pack {
    data::load_pack(name, &data::default_data_dir()).expect("bundled packs ship with the repository")
}

pub fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec_as::<f32>().unwrap()
}

pub fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol
}

/// A colour pack made from a grey one: every image tinted with its class's colour (class k
/// of n gets hue k/n at full saturation), so that an image's colour follows from its shape,
/// as colourisation needs. `limit` images per split.
pub fn tinted(grey: &Pack, limit: usize) -> Pack {
    let n = grey.n_classes() as f32;
    let colour = |class: u8| {
        // HSV (h, 1, 1) → RGB.
        let h = class as f32 / n * 6.0;
        let x = 1.0 - ((h % 2.0) - 1.0).abs();
        match h as usize {
            0 => [1.0, x, 0.0],
            1 => [x, 1.0, 0.0],
            2 => [0.0, 1.0, x],
            3 => [0.0, x, 1.0],
            4 => [x, 0.0, 1.0],
            _ => [1.0, 0.0, x],
        }
    };
    let side = grey.height * grey.width;
    let tint = |split: &data::pack::Split| {
        let n = split.len().min(limit);
        let mut pixels = Vec::with_capacity(n * 3 * side);
        for (i, &label) in split.labels[..n].iter().enumerate() {
            let image = &split.pixels[i * side..(i + 1) * side];
            for c in colour(label) {
                pixels.extend(image.iter().map(|&p| (p as f32 * c).round() as u8));
            }
        }
        data::pack::Split { pixels, labels: split.labels[..n].to_vec() }
    };
    Pack { name: format!("{}-tinted", grey.name), channels: 3, train: tint(&grey.train), test: tint(&grey.test), ..grey.clone() }
}
