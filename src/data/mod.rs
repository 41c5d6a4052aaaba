//! Datasets: packs on disk ([`pack`]), moved once to the device as f32 in [0, 1], and the
//! seeded labelled/unlabelled split and batch sampling the trainer uses.
pub mod folder;
pub mod pack;
pub mod zip;

use crate::rng::Rng;
use burn::prelude::*;
pub use pack::{Pack, PackError};
use std::path::{Path, PathBuf};

/// Bundled datasets: id, file name under the data folder.
pub const BUNDLED: [(&str, &str); 3] = [("fashion-mnist", "fashion-mnist.sslp.gz"), ("mnist", "mnist.sslp.gz"), ("emoji", "emoji.sslp.gz")];

/// Where the bundled packs live: `$SSLP_DATA_DIR`, else `www/public/data` under the crate.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("SSLP_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("www/public/data"))
}

/// Load a dataset by id (a bundled name) or by path to a `.sslp.gz` pack.
pub fn load_pack(id_or_path: &str, data_dir: &Path) -> Result<Pack, String> {
    let (name, path) = match BUNDLED.iter().find(|(id, _)| *id == id_or_path) {
        Some((id, file)) => (id.to_string(), data_dir.join(file)),
        None if id_or_path.ends_with(".sslp") || id_or_path.ends_with(".gz") => {
            let p = PathBuf::from(id_or_path);
            let stem = p.file_name().and_then(|s| s.to_str()).unwrap_or("pack").trim_end_matches(".gz").trim_end_matches(".sslp").to_string();
            (stem, p)
        }
        None => {
            let known: Vec<&str> = BUNDLED.iter().map(|(id, _)| *id).collect();
            return Err(format!("unknown dataset '{id_or_path}'; choose one of {known:?} or give a path to a .sslp.gz pack"));
        }
    };
    let bytes = std::fs::read(&path).map_err(|e| {
        format!("cannot read dataset pack {}: {e}; run scripts/build-packs.sh or set SSLP_DATA_DIR", path.display())
    })?;
    Pack::decode(&name, &bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Whole images of `pack`'s shape, u8 pixels (CHW, image-major), as `[N, C, H, W]` in [0, 1].
fn device_images(pixels: &[u8], pack: &Pack, device: &Device) -> Tensor<4> {
    let n = pixels.len() / pack.image_len();
    let values: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
    Tensor::from_data(TensorData::new(values, [n, pack.channels, pack.height, pack.width]), device)
}

/// The pack's unlabelled images `[U, C, H, W]` in [0, 1] on `device`, if it has any.
pub fn unlabelled_images(pack: &Pack, device: &Device) -> Option<Tensor<4>> {
    (pack.n_unlabelled() > 0).then(|| device_images(&pack.unlabelled, pack, device))
}

/// The class of each training-pool image at `indices` `[n]`, for diagnostics: `labels[i]`
/// for the labelled images, which come first in the pool, and -1 for those after them
/// (images without a class).
pub fn classes_or_unknown(labels: &[u8], indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let classes: Vec<i64> = indices.iter().map(|&i| labels.get(i).map_or(-1, |&c| c as i64)).collect();
    Tensor::from_data(TensorData::new(classes, [indices.len()]), device)
}

/// One split on the device: `images` `[N, C, H, W]` in [0, 1], labels kept on the host too.
#[derive(Clone, Debug)]
pub struct DeviceSplit {
    pub images: Tensor<4>,
    pub labels: Vec<u8>,
}

impl DeviceSplit {
    pub fn new(split: &pack::Split, pack: &Pack, limit: Option<usize>, device: &Device) -> Self {
        let n = limit.map_or(split.len(), |l| l.min(split.len()));
        let images = device_images(&split.pixels[..n * pack.image_len()], pack, device);
        Self { images, labels: split.labels[..n].to_vec() }
    }
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Images and labels at `indices`.
    pub fn gather(&self, indices: &[usize]) -> (Tensor<4>, Tensor<1, Int>) {
        let device = self.images.device();
        let idx: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [indices.len()]), &device);
        let labels: Vec<i64> = indices.iter().map(|&i| self.labels[i] as i64).collect();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [indices.len()]), &device);
        (self.images.clone().select(0, idx), labels)
    }
    /// Labels as a device tensor.
    pub fn label_tensor(&self) -> Tensor<1, Int> {
        let labels: Vec<i64> = self.labels.iter().map(|&l| l as i64).collect();
        Tensor::from_data(TensorData::new(labels, [self.len()]), &self.images.device())
    }
}

/// Pick `per_class` labelled indices of every class, seeded; errors if a class has too few.
pub fn labelled_subset(labels: &[u8], n_classes: usize, per_class: usize, rng: &mut Rng) -> Result<Vec<usize>, String> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    let mut out = Vec::with_capacity(per_class * n_classes);
    for (class, mut members) in by_class.into_iter().enumerate() {
        if members.len() < per_class {
            return Err(format!(
                "class {class} has {} training images but {per_class} labels per class were asked for; lower --labels-per-class",
                members.len()
            ));
        }
        rng.shuffle(&mut members);
        out.extend_from_slice(&members[..per_class]);
    }
    out.sort_unstable();
    Ok(out)
}

/// Endless shuffled epochs over a pool of indices. Serialises with its position in the
/// current epoch, so a resumed run draws the same batches as an uninterrupted one.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sampler {
    pool: Vec<usize>,
    order: Vec<usize>,
    pos: usize,
}

impl Sampler {
    /// The indices it draws from.
    pub fn pool(&self) -> &[usize] {
        &self.pool
    }

    pub fn new(pool: Vec<usize>) -> Self {
        assert!(!pool.is_empty(), "a sampler needs at least one index");
        Self { order: pool.clone(), pool, pos: usize::MAX }
    }
    /// Whether every index it can draw is below `n` (a check on a sampler read from a file).
    pub fn indices_below(&self, n: usize) -> bool {
        !self.pool.is_empty() && self.pool.len() == self.order.len() && self.pool.iter().chain(&self.order).all(|&i| i < n)
    }

    /// `n` indices; reshuffles at each epoch boundary. Pools smaller than `n` repeat.
    pub fn next(&mut self, n: usize, rng: &mut Rng) -> Vec<usize> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            if self.pos >= self.order.len() {
                self.order.clone_from(&self.pool);
                rng.shuffle(&mut self.order);
                self.pos = 0;
            }
            out.push(self.order[self.pos]);
            self.pos += 1;
        }
        out
    }
}
