//! The serde types that cross to JavaScript or to stdout as JSON lines.
//!
//! Non-finite numbers are written as `null` (serde_json does this for `f64::NAN`), so a NaN
//! loss never produces text that `JSON.parse` rejects.
use serde::{Deserialize, Serialize};

/// How a reported number reads: a loss (lower is better, any scale), a ratio (a similarity
/// in [-1, 1], a mask rate in [0, 1]), or an accuracy in [0, 1]. The page plots losses on one
/// chart and ratios and accuracies on another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tag {
    Loss,
    Ratio,
    Accuracy,
}

/// A curve a method reports, as the registry lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurveInfo {
    pub name: String,
    pub tag: Tag,
}

impl From<&crate::methods::Curve> for CurveInfo {
    fn from(c: &crate::methods::Curve) -> Self {
        CurveInfo { name: c.name.into(), tag: c.tag }
    }
}

/// A named, tagged number from an evaluation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    pub tag: Tag,
    pub value: f64,
}

/// One training step: every loss term by name, the learning rate and the throughput.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepReport {
    pub kind: &'static str, // "step"
    pub step: usize,
    /// The stage the step belongs to (`train` for single-stage methods).
    pub stage: String,
    /// Loss terms and diagnostics in a stable order (`total` first).
    pub terms: Vec<(String, f64)>,
    pub lr: f64,
    pub images_per_s: f64,
}

impl StepReport {
    pub fn term(&self, name: &str) -> Option<f64> {
        self.terms.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
    /// JSON object with the terms flattened next to `step`, `lr`, `images_per_s`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("kind".into(), "step".into());
        m.insert("step".into(), self.step.into());
        m.insert("stage".into(), self.stage.clone().into());
        for (name, v) in &self.terms {
            m.insert(name.clone(), finite(*v));
        }
        m.insert("lr".into(), finite(self.lr));
        m.insert("images_per_s".into(), finite(self.images_per_s));
        serde_json::Value::Object(m)
    }
}

pub fn finite(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::json!(v)
    } else {
        serde_json::Value::Null
    }
}

/// A periodic evaluation on the held-out split.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalReport {
    pub kind: String, // "eval"
    pub step: usize,
    pub knn_acc: f64,
    /// kNN accuracy of every backbone stage, in [`crate::session::SessionInfo::layers`]
    /// order; the last is `knn_acc`. Pretext features are often best in a middle stage.
    pub knn_by_layer: Vec<f64>,
    /// Classifier accuracy on the test split, for methods that train one (semi-supervised).
    pub test_acc: Option<f64>,
    /// Held-out accuracy on the pretext task, for pretext methods.
    pub pretext_acc: Option<f64>,
    /// Collapse diagnostics of the method's normalised embedding (its projection head's
    /// output; the backbone's features for methods without one) of up to 1,000 test images:
    /// the mean per-dimension std (≈ 1/√D when spread, 0 when collapsed) and the effective
    /// rank (1 when collapsed, up to `rank_limit`), see [`crate::eval::collapse_stats`].
    pub embedding_std: f64,
    pub effective_rank: Option<f64>,
    /// The largest effective rank these embeddings can have: min(D, images − 1), with at
    /// most 512 images when D > 512 (see [`crate::eval::rank_limit`]).
    pub rank_limit: usize,
    /// D, the embedding's width: a spread embedding has std ≈ 1/√D and rank up to D.
    pub embedding_dim: usize,
    /// The stage the run is in.
    pub stage: String,
    /// The method's own numbers ([`crate::methods::Method::eval_metrics`]), each tagged.
    pub metrics: Vec<Metric>,
    /// For methods with a classifier: test images per (true class, predicted class), row-major
    /// `[K × K]`, rows the true class.
    pub confusion: Option<Vec<u32>>,
}

/// The classifier's guess for one unlabelled training image, beside its hidden true class:
/// the page's pseudo-label gallery.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PseudoLabel {
    /// Index in the train split.
    pub index: usize,
    pub predicted: u8,
    /// Softmax probability of the predicted class.
    pub confidence: f32,
    /// The true class, which training never saw.
    pub truth: u8,
}

/// kNN accuracy of one backbone stage, trained and untrained.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerKnn {
    pub layer: String,
    pub trained: f64,
    pub untrained: f64,
}

/// The last line of `sslp train --json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub kind: String, // "summary"
    pub method: String,
    pub dataset: String,
    pub backbone: String,
    /// Steps done (fewer than the run's length when it stopped early).
    pub steps: usize,
    /// Why the run stopped before its last step (`interrupted`, `non-finite loss`), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<String>,
    /// Where the run's checkpoint was written, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    pub seconds: f64,
    pub knn_acc: f64,
    pub random_init_knn_acc: f64,
    pub knn_by_layer: Vec<LayerKnn>,
    pub test_acc: Option<f64>,
    pub supervised_only_acc: Option<f64>,
    pub pretext_acc: Option<f64>,
    /// The final evaluation's collapse diagnostics (see [`EvalReport`]).
    pub embedding_std: f64,
    pub effective_rank: Option<f64>,
    pub rank_limit: usize,
    pub final_loss: Option<f64>,
    pub images_per_s: f64,
    /// The final evaluation's method-specific numbers (SimCLR v2's fine-tuned teacher).
    pub metrics: Vec<Metric>,
}

/// A method's diagnostic matrix (Barlow Twins' cross-correlation), row-major.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Matrix {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
}

/// Where one test image's CLS token looks, in the last transformer block (`vit-tiny` only).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AttentionMaps {
    /// Test-split index of the image.
    pub index: usize,
    /// The patch grid the maps lie on.
    pub rows: usize,
    pub cols: usize,
    /// One map per head, `rows·cols` values in row-major order, each summing to 1.
    pub heads: Vec<Vec<f32>>,
    /// The mean of the heads' maps.
    pub mean: Vec<f32>,
    /// Mean entropy of the heads' maps in nats; ln(rows·cols) is uniform attention.
    pub entropy: f32,
}

/// One retrieved neighbour.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Neighbour {
    pub index: usize,
    pub label: u8,
    pub similarity: f32,
}

/// Registry metadata for the UI and `sslp methods`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MethodInfo {
    pub id: String,
    pub family: String,
    pub name: String,
    pub paper: String,
    pub link: String,
    pub explanation: String,
    /// Whether runs draw a labelled subset.
    pub uses_labels: bool,
    /// The curves its steps report, each tagged (`total` first).
    pub curves: Vec<CurveInfo>,
    pub defaults: serde_json::Value,
    pub optimizer: serde_json::Value,
}
