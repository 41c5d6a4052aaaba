//! Exports that leave the playground: the TensorFlow Embedding Projector's files, in one zip.
//!
//! The Projector (projector.tensorflow.org, or the standalone page) loads a
//! `projector_config.json` that names a tensor file, a metadata file and a sprite image:
//! - `tensors.tsv`: one embedding per line, its values separated by tabs;
//! - `metadata.tsv`: a header line (`index	class`, required when there is more than one
//!   column), then one line per embedding;
//! - `sprite.png`: the images in a square grid, row by row, each `singleImageDim` pixels.
//!
//! The same function makes the zip for `sslp export` and for the page's Export button (through
//! the worker), so both give the same files.
use crate::data::zip;
use serde_json::json;

/// The Projector's largest sprite side (px).
pub const MAX_SPRITE_SIDE: usize = 8192;

/// What the Projector zip is made of: `n` embeddings of `dim` values, and the images they came
/// from (`pixels`: `n × channels × height × width` bytes, CHW per image).
pub struct ProjectorInput<'a> {
    /// The tensor's name in the Projector's menu (e.g. `simclr · fashion-mnist · step 600`).
    pub name: &'a str,
    pub embeddings: &'a [f32],
    pub dim: usize,
    pub labels: &'a [u8],
    pub class_names: &'a [String],
    pub pixels: &'a [u8],
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

/// The most images a sprite of `height`×`width` cells can hold within [`MAX_SPRITE_SIDE`].
pub fn max_images(height: usize, width: usize) -> usize {
    let per_side = MAX_SPRITE_SIDE / height.max(width).max(1);
    per_side * per_side
}

/// The sprite: a `grid`×`grid` mosaic of the images, row by row, RGB, unused cells white.
fn sprite(input: &ProjectorInput, n: usize) -> (image::RgbImage, usize) {
    let grid = (n as f64).sqrt().ceil().max(1.0) as usize;
    let (h, w, c) = (input.height, input.width, input.channels);
    let mut img = image::RgbImage::from_pixel((grid * w) as u32, (grid * h) as u32, image::Rgb([255, 255, 255]));
    for i in 0..n {
        let px = &input.pixels[i * c * h * w..(i + 1) * c * h * w];
        let (x0, y0) = ((i % grid) * w, (i / grid) * h);
        for y in 0..h {
            for x in 0..w {
                let at = |ch: usize| px[ch * h * w + y * w + x];
                let rgb = if c == 3 { [at(0), at(1), at(2)] } else { [at(0); 3] };
                img.put_pixel((x0 + x) as u32, (y0 + y) as u32, image::Rgb(rgb));
            }
        }
    }
    (img, grid)
}

/// The Projector zip: `tensors.tsv`, `metadata.tsv`, `sprite.png`, `projector_config.json`.
pub fn projector_zip(input: &ProjectorInput) -> Result<Vec<u8>, String> {
    let n = input.labels.len();
    let image_len = input.channels * input.height * input.width;
    if n == 0 || input.dim == 0 {
        return Err("nothing to export: no embeddings".into());
    }
    if input.embeddings.len() != n * input.dim || input.pixels.len() != n * image_len || !matches!(input.channels, 1 | 3) {
        return Err(format!("export sizes disagree: {n} labels, {} values of {} dims, {} pixels of {image_len}", input.embeddings.len(), input.dim, input.pixels.len()));
    }
    if n > max_images(input.height, input.width) {
        return Err(format!("{n} images do not fit the Projector's {MAX_SPRITE_SIDE}-px sprite; export at most {}", max_images(input.height, input.width)));
    }
    let mut tensors = String::with_capacity(n * input.dim * 10);
    for row in input.embeddings.chunks(input.dim) {
        let line: Vec<String> = row.iter().map(|v| if v.is_finite() { v.to_string() } else { "0".into() }).collect();
        tensors.push_str(&line.join("\t"));
        tensors.push('\n');
    }
    let mut metadata = String::from("index\tclass\n");
    for (i, &label) in input.labels.iter().enumerate() {
        // Tabs and newlines would break the TSV; class names come from folder names.
        let class = input.class_names.get(label as usize).map_or_else(|| label.to_string(), |s| s.replace(['\t', '\n', '\r'], " "));
        metadata.push_str(&format!("{i}\t{class}\n"));
    }
    let (sprite, _) = sprite(input, n);
    let mut png = std::io::Cursor::new(Vec::new());
    sprite.write_to(&mut png, image::ImageFormat::Png).map_err(|e| format!("cannot encode the sprite: {e}"))?;
    let config = json!({
        "embeddings": [{
            "tensorName": input.name,
            "tensorShape": [n, input.dim],
            "tensorPath": "tensors.tsv",
            "metadataPath": "metadata.tsv",
            "sprite": { "imagePath": "sprite.png", "singleImageDim": [input.width, input.height] },
        }]
    });
    let config = serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?;
    Ok(zip::write_stored(&[
        ("tensors.tsv", tensors.as_bytes()),
        ("metadata.tsv", metadata.as_bytes()),
        ("sprite.png", png.get_ref()),
        ("projector_config.json", config.as_bytes()),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five 3×2 colour images: image i is filled with (10i, 20i, 30i); labels alternate.
    fn sample() -> (Vec<f32>, Vec<u8>, Vec<u8>, Vec<String>) {
        let embeddings: Vec<f32> = (0..5 * 4).map(|v| v as f32 * 0.5 - 3.0).collect();
        let labels = vec![0, 1, 0, 1, 0];
        let pixels: Vec<u8> = (0..5u8).flat_map(|i| [10 * i, 20 * i, 30 * i].into_iter().flat_map(|v| std::iter::repeat_n(v, 6))).collect();
        (embeddings, labels, pixels, vec!["shirt".into(), "tab\tbed".into()])
    }

    #[test]
    fn the_zip_holds_the_four_files_with_matching_shapes() {
        let (embeddings, labels, pixels, names) = sample();
        let input = ProjectorInput { name: "test run", embeddings: &embeddings, dim: 4, labels: &labels, class_names: &names, pixels: &pixels, channels: 3, height: 2, width: 3 };
        let files = zip::read(&projector_zip(&input).unwrap()).unwrap();
        let get = |p: &str| files.iter().find(|e| e.path == p).unwrap_or_else(|| panic!("{p} missing")).bytes.clone().unwrap();

        let tensors = String::from_utf8(get("tensors.tsv")).unwrap();
        let rows: Vec<Vec<f32>> = tensors.lines().map(|l| l.split('\t').map(|v| v.parse().unwrap()).collect()).collect();
        assert_eq!(rows.len(), 5);
        assert!(rows.iter().all(|r| r.len() == 4));
        assert_eq!(rows[1], vec![-1.0, -0.5, 0.0, 0.5]);

        let metadata = String::from_utf8(get("metadata.tsv")).unwrap();
        let lines: Vec<&str> = metadata.lines().collect();
        assert_eq!(lines, ["index\tclass", "0\tshirt", "1\ttab bed", "2\tshirt", "3\ttab bed", "4\tshirt"]);

        // 5 images → a 3×3 grid of 3×2 cells; image 4 sits in row 1, column 1.
        let sprite = image::load_from_memory(&get("sprite.png")).unwrap().to_rgb8();
        assert_eq!(sprite.dimensions(), (9, 6));
        assert_eq!(sprite.get_pixel(3 + 2, 2 + 1).0, [40, 80, 120]);
        assert_eq!(sprite.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(sprite.get_pixel(8, 5).0, [255, 255, 255], "unused cells stay white");

        let config: serde_json::Value = serde_json::from_slice(&get("projector_config.json")).unwrap();
        let e = &config["embeddings"][0];
        assert_eq!(e["tensorShape"], json!([5, 4]));
        assert_eq!(e["sprite"]["singleImageDim"], json!([3, 2]));
        assert_eq!(e["tensorName"], "test run");
    }

    #[test]
    fn mismatched_or_oversized_input_is_refused() {
        let (embeddings, labels, pixels, names) = sample();
        let bad = ProjectorInput { name: "x", embeddings: &embeddings[..7], dim: 4, labels: &labels, class_names: &names, pixels: &pixels, channels: 3, height: 2, width: 3 };
        assert!(projector_zip(&bad).unwrap_err().contains("disagree"));
        assert_eq!(max_images(64, 64), 128 * 128);
    }
}
