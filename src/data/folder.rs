//! Your own images: a folder (or a zip, [`super::zip`]) of PNG, JPEG, WebP, GIF or BMP files
//! becomes a pack, in the browser's worker and in `sslp pack --images DIR` alike.
//!
//! The layout is torchvision's `ImageFolder`: the first folder under the root names the
//! class (`cats/001.png`, `cats/more/002.jpg`). Each image is decoded with the `image`
//! crate (GIF: its first frame), laid over white where it is transparent, scaled so that its
//! shorter side is the chosen size (32, 48 or 64 px) and cropped to the centre square. Colour
//! is kept: the pack has 3 channels unless every image is grey.
//!
//! Nothing is dropped in silence. Each file that cannot be used is named in the
//! [`ImportReport`] with the reason: empty, not an image, corrupt, too large, in a class with a
//! single image (a class needs one image to train on and one to test). Images outside any
//! class folder (`loose.png` at the root) are unlabelled: they join the training pool, so
//! self-supervised methods learn from them and semi-supervised ones use them as unlabelled
//! data, but kNN, which needs a label, neither searches nor scores them. The labelled images
//! are split per class into train and test (a fifth for testing, at least one), with a
//! seeded shuffle, so the same files and seed give the same pack.
use super::pack::{Pack, Split, MAX_PIXELS};
use crate::rng::Rng;
use image::{DynamicImage, ImageFormat, ImageReader, Limits, RgbImage};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Cursor;

/// Image sides the importer makes (px).
pub const SIZES: [usize; 3] = [32, 48, 64];
/// The largest side a source image may have. A 20,000-px-wide file is refused before its
/// pixels are decoded: it is more likely a mistake than a photo meant for a 64-px pack.
pub const MAX_SOURCE_SIDE: u32 = 12_000;
/// The most bytes one source file may have.
pub const MAX_FILE_BYTES: usize = 64 << 20;
/// The most memory a decoder may allocate for one image.
const MAX_DECODE_BYTES: u64 = 512 << 20;
/// Share of each class held out for testing (kNN queries), at least one image.
pub const TEST_FRACTION: f64 = 0.2;
/// Class names are stored in the pack's name block, at most 255 classes.
pub const MAX_CLASSES: usize = 255;

/// A file that was not imported, and why.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// What the import did: what is in the pack, and every file that is not.
#[derive(Clone, Debug, Serialize)]
pub struct ImportReport {
    pub size: usize,
    pub channels: usize,
    /// Class names and images per class, in the pack's order.
    pub classes: Vec<(String, usize)>,
    pub train: usize,
    pub test: usize,
    /// Images outside any class folder: in the training pool, without a label.
    pub unlabelled: usize,
    /// Files that could not be imported, with the reason, sorted by path.
    pub skipped: Vec<Skipped>,
    /// Hidden files and macOS resource forks (`.DS_Store`, `__MACOSX/…`), counted and ignored.
    pub hidden: usize,
}

struct Decoded {
    path: String,
    class: Option<String>,
    rgb: RgbImage,
}

/// Collects files one by one (so the page can show progress) and builds the pack at the end.
pub struct Importer {
    size: usize,
    images: Vec<Decoded>,
    skipped: Vec<Skipped>,
    hidden: usize,
}

/// The class of a path relative to the root: its first folder, or `None` for a file at the root.
fn class_of(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    (parts.len() >= 2).then(|| parts[0].to_string())
}

fn is_hidden(path: &str) -> bool {
    path.split('/').any(|p| p.starts_with('.') && p != "." && p != ".." || p == "__MACOSX")
}

/// Decode one file to RGB, over white where it is transparent. Errors are user-facing reasons.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, String> {
    if bytes.is_empty() {
        return Err("empty file (0 bytes)".into());
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(format!("{} MiB, over the {} MiB a file may have", bytes.len() >> 20, MAX_FILE_BYTES >> 20));
    }
    let format = image::guess_format(bytes).map_err(|_| "not an image: use PNG, JPEG, WebP, GIF or BMP".to_string())?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP | ImageFormat::Gif | ImageFormat::Bmp) {
        return Err(format!("{format:?} images are not read here: convert it to PNG or JPEG"));
    }
    let corrupt = |e: image::ImageError| format!("corrupt {format:?} ({e})");
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(corrupt)?;
    if w == 0 || h == 0 {
        return Err(format!("{w}×{h} pixels: nothing to show"));
    }
    if w.max(h) > MAX_SOURCE_SIDE {
        return Err(format!("{w}×{h} pixels; sides of up to {MAX_SOURCE_SIDE} px are read: shrink it first"));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SOURCE_SIDE);
    limits.max_image_height = Some(MAX_SOURCE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader.decode().map_err(corrupt)?;
    Ok(over_white(image))
}

fn over_white(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    let (w, h) = rgba.dimensions();
    RgbImage::from_fn(w, h, |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = p[3] as u32;
        image::Rgb([0, 1, 2].map(|c| ((p[c] as u32 * a + 255 * (255 - a) + 127) / 255) as u8))
    })
}

/// Scale so the shorter side is `size`, then cut the centre `size`×`size` square.
pub fn square(rgb: &RgbImage, size: usize) -> RgbImage {
    let (w, h) = rgb.dimensions();
    let s = size as u32;
    let (sw, sh) = if w <= h { (s, ((h as u64 * s as u64 + w as u64 / 2) / w as u64).max(1) as u32) } else { (((w as u64 * s as u64 + h as u64 / 2) / h as u64).max(1) as u32, s) };
    let scaled = if sw <= w && sh <= h {
        image::imageops::thumbnail(rgb, sw, sh) // area averaging: no aliasing when shrinking
    } else {
        image::imageops::resize(rgb, sw, sh, image::imageops::FilterType::Triangle)
    };
    image::imageops::crop_imm(&scaled, (sw - s) / 2, (sh - s) / 2, s, s).to_image()
}

/// `split` with its images in a seeded random order.
/// Append `rgb` as a pack stores it, CHW: each channel's plane in turn (a grey pack keeps the
/// red plane, equal to the others).
fn push_planes(pixels: &mut Vec<u8>, rgb: &RgbImage, channels: usize) {
    for c in 0..channels {
        pixels.extend(rgb.pixels().map(|p| p[c]));
    }
}

fn shuffled(split: Split, image_len: usize, rng: &mut Rng) -> Split {
    let mut order: Vec<usize> = (0..split.len()).collect();
    rng.shuffle(&mut order);
    Split {
        pixels: order.iter().flat_map(|&i| split.pixels[i * image_len..(i + 1) * image_len].iter().copied()).collect(),
        labels: order.iter().map(|&i| split.labels[i]).collect(),
    }
}

/// Class names are stored in the pack's header, whose name block holds at most 65,535 bytes.
const MAX_CLASS_NAME_BYTES: usize = 100;

/// A class name as the pack keeps it: one line, at most [`MAX_CLASS_NAME_BYTES`] bytes (cut at a character boundary).
fn class_name(folder: &str) -> String {
    let one_line = folder.replace(['\n', '\r'], " ");
    let mut end = one_line.len().min(MAX_CLASS_NAME_BYTES);
    while !one_line.is_char_boundary(end) {
        end -= 1;
    }
    one_line[..end].to_string()
}

impl Importer {
    pub fn new(size: usize) -> Result<Importer, String> {
        if !SIZES.contains(&size) {
            return Err(format!("image size {size} px is not offered; choose 32, 48 or 64"));
        }
        Ok(Importer { size, images: Vec::new(), skipped: Vec::new(), hidden: 0 })
    }

    /// Add one file. `path` is relative to the chosen folder, `/`-separated.
    pub fn add(&mut self, path: &str, bytes: &[u8]) {
        let path = path.replace('\\', "/").trim_start_matches("./").to_string();
        if is_hidden(&path) {
            self.hidden += 1;
            return;
        }
        self.add_result(&path, decode(bytes));
    }

    /// Add a file that could not be read at all (e.g. a damaged zip entry), with the reason.
    pub fn add_result(&mut self, path: &str, decoded: Result<RgbImage, String>) {
        match decoded {
            Ok(rgb) => self.images.push(Decoded { path: path.to_string(), class: class_of(path), rgb: square(&rgb, self.size) }),
            Err(reason) => self.skipped.push(Skipped { path: path.to_string(), reason }),
        }
    }

    /// Add every file of a zip archive. Paths keep their folders; a single folder holding
    /// everything (the usual way a folder is zipped) is taken as the root.
    pub fn add_zip(&mut self, bytes: &[u8]) -> Result<(), String> {
        let entries = super::zip::entries(bytes)?;
        let visible: Vec<&super::zip::Entry> = entries.iter().filter(|e| !is_hidden(&e.path)).collect();
        self.hidden += entries.len() - visible.len();
        let top = |p: &str| p.split('/').next().unwrap_or("").to_string();
        let common = visible.first().map(|e| top(&e.path)).filter(|t| visible.iter().all(|e| e.path.contains('/') && top(&e.path) == *t));
        // One entry unpacked at a time: memory holds one file's bytes besides the decoded images.
        for e in visible {
            let path = match &common {
                Some(root) => e.path[root.len() + 1..].to_string(),
                None => e.path.clone(),
            };
            match super::zip::extract(bytes, e) {
                Ok(b) => self.add(&path, &b),
                Err(reason) => self.add_result(&path, Err(format!("cannot be unzipped: {reason}"))),
            }
        }
        Ok(())
    }

    /// Files added so far: decoded, skipped.
    pub fn counts(&self) -> (usize, usize) {
        (self.images.len(), self.skipped.len())
    }

    /// Build the pack named `name`, split with `seed`. Fails, with what to do, only when no
    /// pack can be made at all (fewer than 2 usable classes, too many classes or pixels).
    pub fn finish(self, name: &str, seed: u64) -> Result<(Pack, ImportReport), String> {
        let Importer { size, mut images, mut skipped, hidden } = self;
        images.sort_by(|a, b| a.path.cmp(&b.path));
        let mut by_class: BTreeMap<String, Vec<Decoded>> = BTreeMap::new();
        let mut loose = Vec::new();
        for d in images {
            match d.class.clone() {
                Some(c) => by_class.entry(c).or_default().push(d),
                None => loose.push(d),
            }
        }
        by_class.retain(|class, members| {
            if members.len() >= 2 {
                return true;
            }
            for d in members.drain(..) {
                skipped.push(Skipped { path: d.path, reason: format!("the only image of class '{class}': a class needs at least 2 (one to train on, one to test)") });
            }
            false
        });
        skipped.sort_by(|a, b| a.path.cmp(&b.path));
        let named = |s: &[Skipped]| s.iter().take(3).map(|k| format!("{}: {}", k.path, k.reason)).collect::<Vec<_>>().join("; ");
        if by_class.len() < 2 {
            let more = if skipped.is_empty() { String::new() } else { format!(" Not imported: {}.", named(&skipped)) };
            return Err(format!(
                "{} class folder(s) with at least 2 images were found; a dataset needs 2 or more. Put the images in one subfolder per class (e.g. cats/, dogs/).{more}",
                by_class.len()
            ));
        }
        if by_class.len() > MAX_CLASSES {
            return Err(format!("{} class folders; at most {MAX_CLASSES} are supported: merge some", by_class.len()));
        }
        let grey = by_class.values().flatten().chain(&loose).all(|d| d.rgb.pixels().all(|p| p[0] == p[1] && p[1] == p[2]));
        let channels = if grey { 1 } else { 3 };
        let total: usize = by_class.values().map(Vec::len).sum::<usize>() + loose.len();
        if (total * channels * size * size) as u64 > MAX_PIXELS {
            return Err(format!("{total} images of {size}×{size}×{channels} exceed the {} Mi pixels a pack may hold; choose a smaller size or fewer images", MAX_PIXELS >> 20));
        }
        let mut rng = Rng::new(seed);
        let (mut train, mut test) = (Split { pixels: Vec::new(), labels: Vec::new() }, Split { pixels: Vec::new(), labels: Vec::new() });
        let mut classes = Vec::new();
        for (label, (class, mut members)) in by_class.into_iter().enumerate() {
            rng.shuffle(&mut members);
            let n_test = ((members.len() as f64 * TEST_FRACTION).round() as usize).clamp(1, members.len() - 1);
            classes.push((class, members.len()));
            for (i, d) in members.iter().enumerate() {
                let split = if i < n_test { &mut test } else { &mut train };
                split.labels.push(label as u8);
                push_planes(&mut split.pixels, &d.rgb, channels);
            }
        }
        // Classes are appended in turn; mix each split, so that its first images (the gallery,
        // the map, a --train-limit or --test-limit) hold every class, not the first ones.
        let image_len = channels * size * size;
        let (train, test) = (shuffled(train, image_len, &mut rng), shuffled(test, image_len, &mut rng));
        let mut unlabelled = Vec::with_capacity(loose.len() * image_len);
        for d in &loose {
            push_planes(&mut unlabelled, &d.rgb, channels);
        }
        let pack = Pack {
            name: name.to_string(),
            height: size,
            width: size,
            channels,
            class_names: classes.iter().map(|(c, _)| class_name(c)).collect(),
            train,
            test,
            unlabelled,
        };
        pack.validate().map_err(|e| format!("the imported pack is inconsistent ({e}); please report this"))?;
        let report = ImportReport { size, channels, classes, train: pack.train.len(), test: pack.test.len(), unlabelled: loose.len(), skipped, hidden };
        Ok((pack, report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgba, RgbaImage};

    /// A `w`×`h` test picture: a colour gradient, with a transparent top row.
    fn picture(w: u32, h: u32, hue: u8) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| Rgba([hue, (x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, if y == 0 { 0 } else { 255 }]))
    }

    fn encode(img: &RgbaImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        match format {
            // JPEG and BMP (24-bit here) carry no alpha: write RGB.
            ImageFormat::Jpeg | ImageFormat::Bmp => DynamicImage::ImageRgba8(img.clone()).to_rgb8().write_to(&mut out, format).unwrap(),
            _ => img.write_to(&mut out, format).unwrap(),
        }
        out.into_inner()
    }

    #[test]
    fn each_format_decodes_to_the_same_picture() {
        let img = picture(40, 30, 200);
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP, ImageFormat::Gif, ImageFormat::Bmp] {
            let rgb = decode(&encode(&img, format)).unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!(rgb.dimensions(), (40, 30), "{format:?}");
            // Compare a pixel in the middle; JPEG and GIF (256 colours) are lossy.
            let (got, want) = (rgb.get_pixel(20, 15).0, img.get_pixel(20, 15).0);
            let tolerance = if matches!(format, ImageFormat::Jpeg | ImageFormat::Gif) { 24 } else { 0 };
            for c in 0..3 {
                assert!((got[c] as i32 - want[c] as i32).abs() <= tolerance, "{format:?} channel {c}: {got:?} vs {want:?}");
            }
        }
        // Transparent pixels are laid over white (PNG keeps alpha).
        let rgb = decode(&encode(&img, ImageFormat::Png)).unwrap();
        assert_eq!(rgb.get_pixel(5, 0).0, [255, 255, 255]);
    }

    #[test]
    fn gif_first_frame_only() {
        let mut out = Vec::new();
        {
            let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
            for colour in [[255u8, 0, 0, 255], [0, 0, 255, 255]] {
                let frame = image::Frame::new(RgbaImage::from_pixel(8, 8, Rgba(colour)));
                enc.encode_frame(frame).unwrap();
            }
        }
        let rgb = decode(&out).unwrap();
        assert_eq!(rgb.get_pixel(3, 3).0, [255, 0, 0]);
    }

    #[test]
    fn bad_files_get_reasons() {
        assert!(decode(&[]).unwrap_err().contains("empty"));
        assert!(decode(b"hello, this is text").unwrap_err().contains("not an image"));
        let mut png = encode(&picture(16, 16, 9), ImageFormat::Png);
        png.truncate(png.len() / 2);
        assert!(decode(&png).unwrap_err().contains("corrupt"), "{:?}", decode(&png).err());
        // A header that claims 20,000 px, without the pixels.
        let mut wide = Vec::new();
        image::codecs::png::PngEncoder::new(&mut wide).write_image(&vec![0u8; 20_000], 20_000, 1, image::ExtendedColorType::L8).unwrap();
        assert!(decode(&wide).unwrap_err().contains("20000×1 pixels"));
    }

    #[test]
    fn square_crops_the_centre_of_the_shorter_side() {
        // 60×30: left half red, centre band green, right part blue.
        let img = RgbImage::from_fn(60, 30, |x, _| if x < 15 { image::Rgb([255, 0, 0]) } else if x < 45 { image::Rgb([0, 255, 0]) } else { image::Rgb([0, 0, 255]) });
        let sq = square(&img, 32);
        assert_eq!(sq.dimensions(), (32, 32));
        assert!(sq.pixels().all(|p| p[1] > 200 && p[0] < 60 && p[2] < 60), "only the green centre is kept");
        // Upscaling a small image works too.
        assert_eq!(square(&RgbImage::new(5, 9), 48).dimensions(), (48, 48));
    }

    #[test]
    fn a_mixed_folder_imports_the_good_files_and_names_the_bad_ones() {
        let mut imp = Importer::new(32).unwrap();
        for i in 0..5 {
            imp.add(&format!("cats/{i}.png"), &encode(&picture(40, 40, 10 + i), ImageFormat::Png));
            imp.add(&format!("dogs/sub/{i}.jpg"), &encode(&picture(50, 30, 240 - i), ImageFormat::Jpeg));
        }
        imp.add("cats/broken.png", b"\x89PNG\r\n\x1a\nnot really");
        imp.add("dogs/empty.jpg", &[]);
        imp.add("birds/only.bmp", &encode(&picture(20, 20, 99), ImageFormat::Bmp));
        imp.add("loose.webp", &encode(&picture(20, 20, 5), ImageFormat::WebP));
        imp.add("cats/.DS_Store", b"junk");
        imp.add("notes.txt", b"some text");
        let (pack, report) = imp.finish("mine", 7).unwrap();
        assert_eq!(pack.class_names, vec!["cats", "dogs"]);
        assert_eq!((pack.channels, pack.height, pack.width), (3, 32, 32));
        assert_eq!((pack.train.len(), pack.test.len()), (8, 2), "one of 5 per class tests");
        assert_ne!(pack.train.labels, vec![0, 0, 0, 0, 1, 1, 1, 1], "classes are not left in blocks");
        assert_eq!(report.classes, vec![("cats".to_string(), 5), ("dogs".to_string(), 5)]);
        let skipped: Vec<&str> = report.skipped.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(skipped, vec!["birds/only.bmp", "cats/broken.png", "dogs/empty.jpg", "notes.txt"]);
        assert!(report.skipped[0].reason.contains("only image of class 'birds'"));
        assert_eq!(report.hidden, 1);
        // The image at the root has no class: it is kept, unlabelled, for training only.
        assert_eq!((report.unlabelled, pack.n_unlabelled()), (1, 1));
        let loose = square(&decode(&encode(&picture(20, 20, 5), ImageFormat::WebP)).unwrap(), 32);
        assert_eq!(pack.unlabelled[..32 * 32], loose.pixels().map(|p| p[0]).collect::<Vec<_>>()[..], "its red plane comes first (CHW)");

        // The same files and seed give the same pack; the pack survives encoding (SSLPACK2).
        let encoded = pack.encode_gz();
        let again = Pack::decode("mine", &encoded).unwrap();
        assert_eq!(again.train.pixels, pack.train.pixels);
        assert_eq!(again.test.labels, pack.test.labels);
        assert_eq!(again.unlabelled, pack.unlabelled);
        assert_eq!(&pack.encode_raw()[..8], b"SSLPACK2");
    }

    #[test]
    fn grey_folders_make_one_channel_packs_and_zips_import_like_folders() {
        let grey = |v: u8| {
            let mut out = Cursor::new(Vec::new());
            image::GrayImage::from_fn(30, 30, |x, _| image::Luma([v.wrapping_add(x as u8)])).write_to(&mut out, ImageFormat::Png).unwrap();
            out.into_inner()
        };
        let files: Vec<(String, Vec<u8>)> = (0..6).map(|i| (format!("shapes/{}/{i}.png", if i % 2 == 0 { "even" } else { "odd" }), grey(i as u8 * 20))).collect();
        let zip = super::super::zip::write_stored(&files.iter().map(|(p, b)| (p.as_str(), b.as_slice())).collect::<Vec<_>>());
        let mut imp = Importer::new(48).unwrap();
        imp.add_zip(&zip).unwrap();
        let (pack, report) = imp.finish("shapes", 1).unwrap();
        assert_eq!(pack.class_names, vec!["even", "odd"], "the zip's single top folder is the root");
        assert_eq!((pack.channels, report.train + report.test), (1, 6));
        assert!(report.skipped.is_empty());
    }

    #[test]
    fn one_class_or_none_is_an_error_that_says_what_to_do() {
        let mut imp = Importer::new(32).unwrap();
        imp.add("a/1.png", &encode(&picture(8, 8, 1), ImageFormat::Png));
        imp.add("a/2.png", &encode(&picture(8, 8, 2), ImageFormat::Png));
        let e = imp.finish("x", 1).unwrap_err();
        assert!(e.contains("one subfolder per class"), "{e}");
        assert!(Importer::new(40).is_err());
    }
}
