//! Dataset packs: the compact, validated image format the playground ships and loads.
//!
//! A pack is one gzip stream (a raw, uncompressed stream is accepted too) holding:
//!
//! ```text
//! offset  size            field
//! 0       8               magic  b"SSLPACK1"
//! 8       4   u32 LE      n_train
//! 12      4   u32 LE      n_test
//! 16      2   u16 LE      height
//! 18      2   u16 LE      width
//! 20      1   u8          channels (1 or 3)
//! 21      1   u8          n_classes (2..=255)
//! 22      2   u16 LE      names_len: bytes of the class-name block
//! 24      names_len       class names, UTF-8, separated by '\n'
//! ..      n_train*C*H*W   train pixels, u8, image-major, then C, H, W (CHW per image)
//! ..      n_train         train labels, u8, each < n_classes
//! ..      n_test*C*H*W    test pixels
//! ..      n_test          test labels
//! ```
//!
//! A pack with unlabelled images (your own images outside any class folder) has the magic
//! `SSLPACK2`, a fifth header field `u32 LE n_unlabelled` at offset 24 (so its names start
//! at 28), and their pixels, `n_unlabelled*C*H*W`, after the test labels. They join the
//! training pool, never the kNN bank or the test split. A pack without them is written as
//! `SSLPACK1`, which every earlier reader reads.
//!
//! Nothing follows the last block; trailing bytes are an error, as are a wrong magic, a
//! truncated body, a label out of range, or sizes past [`MAX_PIXELS`].
use std::io::Read;

/// Magic bytes at the start of a (decompressed) pack of labelled images only.
pub const MAGIC: &[u8; 8] = b"SSLPACK1";
/// Magic bytes of a pack that also holds unlabelled images.
pub const MAGIC_UNLABELLED: &[u8; 8] = b"SSLPACK2";
/// Upper bound on stored pixels (train + test, all channels): 256 Mi, which the device holds
/// as 1 GiB of f32, the most one tensor may take ([`crate::limits::MAX_TENSOR_BYTES`]).
/// A pack that claims more is corrupt or not meant for a browser tab.
pub const MAX_PIXELS: u64 = 1 << 28;
/// DEFLATE's largest expansion: a 258-byte match coded in about two bits gives 1032:1.
pub const MAX_DEFLATE_RATIO: u64 = 1032;
/// Header bytes of an `SSLPACK1` pack; an `SSLPACK2` pack has 4 more ([`HEADER_LEN_UNLABELLED`]).
const HEADER_LEN: usize = 24;
const HEADER_LEN_UNLABELLED: usize = 28;

/// The fixed header, checked field by field.
struct Header {
    n_train: u64,
    n_test: u64,
    n_unlabelled: u64,
    height: u16,
    width: u16,
    channels: u64,
    n_classes: u64,
    names_len: u16,
}

impl Header {
    /// Header bytes a pack starting with `b` has (24 or 28), or `BadMagic`.
    fn len_of(b: &[u8]) -> Result<usize, PackError> {
        match b.get(..8) {
            Some(m) if m == MAGIC => Ok(HEADER_LEN),
            Some(m) if m == MAGIC_UNLABELLED => Ok(HEADER_LEN_UNLABELLED),
            _ => Err(PackError::BadMagic),
        }
    }

    fn parse(b: &[u8]) -> Result<Header, PackError> {
        let len = Self::len_of(b)?;
        if b.len() < len {
            return Err(PackError::BadMagic);
        }
        let u32_at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as u64;
        let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        let h = Header {
            n_train: u32_at(8),
            n_test: u32_at(12),
            n_unlabelled: if len == HEADER_LEN_UNLABELLED { u32_at(24) } else { 0 },
            height: u16_at(16),
            width: u16_at(18),
            channels: b[20] as u64,
            n_classes: b[21] as u64,
            names_len: u16_at(22),
        };
        let (n_train, n_test, height, width, channels, n_classes) = (h.n_train, h.n_test, h.height, h.width, h.channels, h.n_classes);
        if !(channels == 1 || channels == 3) {
            return Err(PackError::BadHeader(format!("{channels} channels; only 1 (grey) or 3 (RGB) are supported")));
        }
        if height < 8 || width < 8 || height > MAX_SIDE || width > MAX_SIDE {
            return Err(PackError::BadHeader(format!("image size {height}×{width}; sides must be 8..={MAX_SIDE} px")));
        }
        if n_classes < 2 {
            return Err(PackError::BadHeader(format!("{n_classes} classes; at least 2 are needed")));
        }
        if n_train == 0 || n_test == 0 {
            return Err(PackError::BadHeader(format!("{n_train} train and {n_test} test images; both splits need images")));
        }
        if len == HEADER_LEN_UNLABELLED && h.n_unlabelled == 0 {
            return Err(PackError::BadHeader("an SSLPACK2 pack with no unlabelled image; write it as SSLPACK1".into()));
        }
        let pixels = (n_train + n_test + h.n_unlabelled) * channels * height as u64 * width as u64;
        if pixels > MAX_PIXELS {
            return Err(PackError::BadHeader(format!("{pixels} pixels is over the {MAX_PIXELS} limit")));
        }
        Ok(h)
    }

    /// Bytes after the header: class names, pixels and labels of both splits, unlabelled pixels.
    fn body_len(&self) -> u64 {
        let image_len = self.channels * self.height as u64 * self.width as u64;
        self.names_len as u64 + (self.n_train + self.n_test) * (image_len + 1) + self.n_unlabelled * image_len
    }
}
/// Largest side we accept; the backbones are built for 28–64 px.
pub const MAX_SIDE: u16 = 256;

/// One split of a pack: `n` images of `channels × height × width` u8 pixels and their labels.
#[derive(Clone, Debug)]
pub struct Split {
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// A decoded, validated dataset pack.
#[derive(Clone, Debug)]
pub struct Pack {
    pub name: String,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub class_names: Vec<String>,
    pub train: Split,
    pub test: Split,
    /// Pixels of images without a class (`[n, C, H, W]` u8, image-major): training only.
    pub unlabelled: Vec<u8>,
}

/// Everything that can be wrong with a pack, each with what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub enum PackError {
    Gzip(String),
    BadMagic,
    Truncated { wanted: u64, got: u64 },
    TrailingBytes(u64),
    BadHeader(String),
    LabelOutOfRange { split: &'static str, index: usize, label: u8, n_classes: usize },
    EmptyClass { split: &'static str, class: usize },
    Io(String),
}

impl std::fmt::Display for PackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PackError::Gzip(e) => write!(f, "dataset pack is not valid gzip ({e}); re-download or rebuild it with scripts/build-packs.sh"),
            PackError::BadMagic => write!(f, "not an ssl-playground dataset pack (magic bytes are not SSLPACK1 or SSLPACK2); build packs with `sslp pack` or scripts/build-packs.sh"),
            PackError::Truncated { wanted, got } => write!(f, "dataset pack is truncated: header promises {wanted} bytes of body, file holds {got}; the file is damaged, rebuild it"),
            PackError::TrailingBytes(n) => write!(f, "dataset pack has {n} unexpected bytes after its last block; the file is damaged or of another version"),
            PackError::BadHeader(e) => write!(f, "dataset pack header is invalid: {e}"),
            PackError::LabelOutOfRange { split, index, label, n_classes } => write!(f, "dataset pack {split} label #{index} is {label}, but the pack has only {n_classes} classes; the file is damaged"),
            PackError::EmptyClass { split, class } => write!(f, "dataset pack {split} split has no image of class {class}; every class needs at least one train and one test image"),
            PackError::Io(e) => write!(f, "cannot read dataset pack: {e}"),
        }
    }
}
impl std::error::Error for PackError {}

impl Pack {
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }
    /// Images without a class (training only).
    pub fn n_unlabelled(&self) -> usize {
        self.unlabelled.len() / self.image_len()
    }

    /// Decode a pack from bytes (gzip or raw). `name` is only for messages and reports.
    ///
    /// A gzip pack's header is read and checked first, and the body is only inflated when
    /// the compressed file could hold what the header claims: DEFLATE expands at most
    /// [`MAX_DEFLATE_RATIO`]:1, so a small file that claims a billion pixels is refused
    /// before any of them is allocated.
    pub fn decode(name: &str, bytes: &[u8]) -> Result<Pack, PackError> {
        if !bytes.starts_with(&[0x1f, 0x8b]) {
            return Self::decode_raw(name, bytes);
        }
        let gz_error = |e: std::io::Error| PackError::Gzip(e.to_string());
        let mut inflater = flate2::read::GzDecoder::new(bytes);
        let mut header = vec![0u8; HEADER_LEN];
        inflater.read_exact(&mut header).map_err(gz_error)?;
        header.resize(Header::len_of(&header)?, 0);
        inflater.read_exact(&mut header[HEADER_LEN..]).map_err(gz_error)?;
        let body_len = Header::parse(&header)?.body_len();
        let total = header.len() as u64 + body_len;
        let holdable = (bytes.len() as u64).saturating_mul(MAX_DEFLATE_RATIO);
        if total > holdable {
            return Err(PackError::BadHeader(format!(
                "the header claims {total} bytes, more than a {}-byte gzip file can hold; the file is damaged",
                bytes.len()
            )));
        }
        let mut raw = Vec::with_capacity(total as usize);
        raw.extend_from_slice(&header);
        // One byte past the claimed size, to notice trailing bytes without keeping them all.
        (&mut inflater).take(body_len + 1).read_to_end(&mut raw).map_err(gz_error)?;
        if raw.len() as u64 != total {
            // Before blaming the layout, let gzip check its CRC over the rest (read, not kept).
            std::io::copy(&mut (&mut inflater).take(holdable), &mut std::io::sink()).map_err(gz_error)?;
        }
        Self::decode_raw(name, &raw)
    }

    fn decode_raw(name: &str, b: &[u8]) -> Result<Pack, PackError> {
        let header_len = Header::len_of(b)?;
        if b.len() < header_len {
            return Err(PackError::BadMagic);
        }
        let header = Header::parse(&b[..header_len])?;
        let Header { n_train, n_test, n_unlabelled, height, width, channels, n_classes, names_len } = header;
        let image_len = channels * height as u64 * width as u64;
        let wanted = header.body_len();
        let got = (b.len() - header_len) as u64;
        if got < wanted {
            return Err(PackError::Truncated { wanted, got });
        }
        if got > wanted {
            return Err(PackError::TrailingBytes(got - wanted));
        }
        let names_len = names_len as usize;
        let names = std::str::from_utf8(&b[header_len..header_len + names_len])
            .map_err(|_| PackError::BadHeader("class names are not UTF-8".into()))?;
        let class_names: Vec<String> = names.split('\n').map(str::to_owned).collect();
        if class_names.len() != n_classes as usize {
            return Err(PackError::BadHeader(format!("{} class names for {n_classes} classes", class_names.len())));
        }
        let mut at = header_len + names_len;
        let mut take = |n: u64| {
            let s = &b[at..at + n as usize];
            at += n as usize;
            s.to_vec()
        };
        let train = Split { pixels: take(n_train * image_len), labels: take(n_train) };
        let test = Split { pixels: take(n_test * image_len), labels: take(n_test) };
        let unlabelled = take(n_unlabelled * image_len);
        let pack = Pack {
            name: name.to_owned(),
            height: height as usize,
            width: width as usize,
            channels: channels as usize,
            class_names,
            train,
            test,
            unlabelled,
        };
        pack.validate()?;
        Ok(pack)
    }

    /// Label range and class coverage; also used for packs built in memory.
    pub fn validate(&self) -> Result<(), PackError> {
        let n = self.n_classes();
        for (split_name, split) in [("train", &self.train), ("test", &self.test)] {
            if split.pixels.len() != split.len() * self.image_len() {
                return Err(PackError::BadHeader(format!("{split_name} pixel count does not match its labels")));
            }
            let mut seen = vec![false; n];
            for (index, &label) in split.labels.iter().enumerate() {
                if label as usize >= n {
                    return Err(PackError::LabelOutOfRange { split: split_name, index, label, n_classes: n });
                }
                seen[label as usize] = true;
            }
            if let Some(class) = seen.iter().position(|s| !s) {
                return Err(PackError::EmptyClass { split: split_name, class });
            }
        }
        if !self.unlabelled.len().is_multiple_of(self.image_len()) {
            return Err(PackError::BadHeader("unlabelled pixels are not a whole number of images".into()));
        }
        Ok(())
    }

    /// Encode as raw bytes (callers gzip them; see [`Pack::encode_gz`]): `SSLPACK1`, or
    /// `SSLPACK2` when the pack has unlabelled images.
    pub fn encode_raw(&self) -> Vec<u8> {
        let names = self.class_names.join("\n");
        let mut out = Vec::with_capacity(HEADER_LEN_UNLABELLED + names.len() + self.train.pixels.len() * 2 + self.test.pixels.len() + self.unlabelled.len());
        let with_unlabelled = !self.unlabelled.is_empty();
        out.extend_from_slice(if with_unlabelled { MAGIC_UNLABELLED } else { MAGIC });
        out.extend_from_slice(&(self.train.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.test.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.height as u16).to_le_bytes());
        out.extend_from_slice(&(self.width as u16).to_le_bytes());
        out.push(self.channels as u8);
        out.push(self.n_classes() as u8);
        out.extend_from_slice(&(names.len() as u16).to_le_bytes());
        if with_unlabelled {
            out.extend_from_slice(&(self.n_unlabelled() as u32).to_le_bytes());
        }
        out.extend_from_slice(names.as_bytes());
        for split in [&self.train, &self.test] {
            out.extend_from_slice(&split.pixels);
            out.extend_from_slice(&split.labels);
        }
        out.extend_from_slice(&self.unlabelled);
        out
    }

    pub fn encode_gz(&self) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&self.encode_raw()).expect("writing to a Vec cannot fail");
        enc.finish().expect("writing to a Vec cannot fail")
    }

    /// Keep the first `per_class` images of each class, in their original order.
    pub fn class_balanced(split: &Split, image_len: usize, n_classes: usize, per_class: usize) -> Split {
        let mut counts = vec![0usize; n_classes];
        let mut out = Split { pixels: Vec::new(), labels: Vec::new() };
        for (i, &label) in split.labels.iter().enumerate() {
            let c = &mut counts[label as usize];
            if *c < per_class {
                *c += 1;
                out.labels.push(label);
                out.pixels.extend_from_slice(&split.pixels[i * image_len..(i + 1) * image_len]);
            }
        }
        out
    }
}

/// Read an IDX file (raw or gzipped) as used by MNIST and Fashion-MNIST: returns (dims, bytes).
pub fn read_idx(bytes: &[u8]) -> Result<(Vec<usize>, Vec<u8>), PackError> {
    let mut raw = Vec::new();
    let b: &[u8] = if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_PIXELS)
            .read_to_end(&mut raw)
            .map_err(|e| PackError::Gzip(e.to_string()))?;
        &raw
    } else {
        bytes
    };
    // IDX: 0x00 0x00 <type 0x08 = u8> <ndim>, then ndim big-endian u32 sizes.
    if b.len() < 4 || b[0] != 0 || b[1] != 0 || b[2] != 0x08 {
        return Err(PackError::BadHeader("not an unsigned-byte IDX file".into()));
    }
    let ndim = b[3] as usize;
    if ndim == 0 || ndim > 4 || b.len() < 4 + 4 * ndim {
        return Err(PackError::BadHeader(format!("IDX file with {ndim} dimensions")));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| u32::from_be_bytes([b[4 + 4 * i], b[5 + 4 * i], b[6 + 4 * i], b[7 + 4 * i]]) as usize)
        .collect();
    let n = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n as u64 <= MAX_PIXELS)
        .ok_or_else(|| PackError::BadHeader(format!("IDX dimensions {dims:?} ask for more than {MAX_PIXELS} values")))?;
    let body = &b[4 + 4 * ndim..];
    if body.len() != n {
        return Err(PackError::Truncated { wanted: n as u64, got: body.len() as u64 });
    }
    Ok((dims, body.to_vec()))
}

/// Build a pack from an MNIST-layout IDX directory (file names `train-images-idx3-ubyte[.gz]` etc).
pub fn pack_from_idx_dir(
    name: &str,
    dir: &std::path::Path,
    class_names: Vec<String>,
    train_per_class: Option<usize>,
    test_per_class: Option<usize>,
) -> Result<Pack, PackError> {
    let read = |stem: &str| -> Result<(Vec<usize>, Vec<u8>), PackError> {
        for candidate in [format!("{stem}.gz"), stem.to_owned()] {
            let path = dir.join(&candidate);
            if path.exists() {
                let bytes = std::fs::read(&path).map_err(|e| PackError::Io(format!("{}: {e}", path.display())))?;
                return read_idx(&bytes);
            }
        }
        Err(PackError::Io(format!("{} has no {stem}[.gz]", dir.display())))
    };
    let (tr_dims, tr_px) = read("train-images-idx3-ubyte")?;
    let (_, tr_lb) = read("train-labels-idx1-ubyte")?;
    let (te_dims, te_px) = read("t10k-images-idx3-ubyte")?;
    let (_, te_lb) = read("t10k-labels-idx1-ubyte")?;
    if tr_dims.len() != 3 || te_dims.len() != 3 || tr_dims[1..] != te_dims[1..] {
        return Err(PackError::BadHeader(format!("IDX image dims {tr_dims:?} / {te_dims:?}")));
    }
    let (h, w) = (tr_dims[1], tr_dims[2]);
    if !(8..=MAX_SIDE as usize).contains(&h) || !(8..=MAX_SIDE as usize).contains(&w) {
        return Err(PackError::BadHeader(format!("IDX images are {h}×{w}; packs hold sides of 8..={MAX_SIDE} px")));
    }
    let n_classes = class_names.len();
    for (split, n_images, labels) in [("train", tr_dims[0], &tr_lb), ("test", te_dims[0], &te_lb)] {
        if labels.len() != n_images {
            return Err(PackError::BadHeader(format!("{split}: {n_images} images but {} labels", labels.len())));
        }
        if let Some((index, &label)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= n_classes) {
            return Err(PackError::LabelOutOfRange { split, index, label, n_classes });
        }
    }
    let image_len = h * w;
    let train = Split { pixels: tr_px, labels: tr_lb };
    let test = Split { pixels: te_px, labels: te_lb };
    let train = match train_per_class {
        Some(k) => Pack::class_balanced(&train, image_len, n_classes, k),
        None => train,
    };
    let test = match test_per_class {
        Some(k) => Pack::class_balanced(&test, image_len, n_classes, k),
        None => test,
    };
    let pack = Pack { name: name.to_owned(), height: h, width: w, channels: 1, class_names, train, test, unlabelled: Vec::new() };
    pack.validate()?;
    Ok(pack)
}

pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
pub const MNIST_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
