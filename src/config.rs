//! RunConfig: everything that defines a run, as JSON both ways (the page's URL, the CLI flags
//! and saved runs all map to it). Method hyper-parameters travel in `params`, overriding the
//! method's own defaults; the optimizer defaults to the method's paper choice.
use crate::backbone::BackboneKind;
use crate::registry::MethodKind;
use crate::bounds::{in_range, in_range_f};
use crate::optim::OptimConfig;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Bundled dataset id (`fashion-mnist`, `mnist`) or a path to a `.sslp.gz` pack.
    pub dataset: String,
    pub backbone: BackboneKind,
    /// Channels of the backbone's first stage; later stages double it.
    pub width: usize,
    pub method: String,
    /// Method hyper-parameters overriding its defaults (see `sslp methods`).
    pub params: serde_json::Value,
    /// `None` → the method's default optimizer.
    pub optimizer: Option<OptimConfig>,
    pub steps: usize,
    /// Images per step: unlabelled images for self-supervised methods, labelled images for
    /// semi-supervised ones (which add μ× as many unlabelled).
    pub batch_size: usize,
    /// Labelled images per class, for semi-supervised methods and the supervised baseline.
    pub labels_per_class: usize,
    pub seed: u64,
    /// Evaluate every N steps (0 = only at the end).
    pub eval_every: usize,
    /// Weighted kNN: neighbours and temperature. InstDisc (Wu et al. 2018) weights votes by
    /// exp(s/τ) with τ = 0.07 and k = 200 on ImageNet; with 1,000 images per class we use
    /// DINO's k = 20 (Caron et al. 2021), which scored the untrained and trained backbones
    /// higher and separated them no less in our runs.
    pub knn_k: usize,
    pub knn_temperature: f64,
    /// Use only the first N train images (the kNN bank and the unlabelled pool) / test images.
    pub train_limit: Option<usize>,
    pub test_limit: Option<usize>,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            dataset: "fashion-mnist".into(),
            backbone: BackboneKind::SmallCnn,
            width: 32,
            method: "simclr".into(),
            params: serde_json::json!({}),
            optimizer: None,
            steps: 600,
            batch_size: 128,
            labels_per_class: 10,
            seed: 1,
            eval_every: 0,
            knn_k: 20,
            knn_temperature: 0.07,
            train_limit: None,
            test_limit: None,
        }
    }
}

/// Most label counts one label-efficiency sweep runs (each is two runs).
pub const MAX_SWEEP_POINTS: usize = 8;

impl RunConfig {
    pub fn from_json(text: &str) -> Result<Self, String> {
        let config: RunConfig = serde_json::from_str(text).map_err(|e| format!("run config is not valid: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("RunConfig serialises")
    }

    pub fn method_kind(&self) -> Result<MethodKind, String> {
        MethodKind::parse(&self.method)
    }

    pub fn optimizer(&self) -> Result<OptimConfig, String> {
        Ok(self.optimizer.clone().unwrap_or(self.method_kind()?.default_optimizer()))
    }

    /// The supervised-only baseline of this run: the same data, labels, backbone, seed and
    /// steps, trained on the labelled images alone with its own default optimizer.
    pub fn supervised_twin(&self) -> RunConfig {
        RunConfig { method: "supervised".into(), params: serde_json::json!({}), optimizer: None, ..self.clone() }
    }

    /// The label-efficiency sweep of this run: for each count in `labels_per_class`, the run at
    /// that count and its supervised twin, in that order. Counts must be distinct and ≥ 1, and
    /// at most [`MAX_SWEEP_POINTS`] of them.
    pub fn label_sweep(&self, labels_per_class: &[usize]) -> Result<Vec<(RunConfig, RunConfig)>, String> {
        if self.method == "supervised" {
            return Err("supervised is the baseline each point is compared with; choose a semi-supervised method".into());
        }
        if labels_per_class.is_empty() || labels_per_class.len() > MAX_SWEEP_POINTS {
            return Err(format!("give 1 to {MAX_SWEEP_POINTS} label counts, e.g. 1,4,10; got {}", labels_per_class.len()));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(n) = labels_per_class.iter().find(|n| !seen.insert(**n)) {
            return Err(format!("label count {n} is given twice"));
        }
        labels_per_class
            .iter()
            .map(|&n| {
                let run = RunConfig { labels_per_class: n, ..self.clone() };
                run.validate()?;
                Ok((run.clone(), run.supervised_twin()))
            })
            .collect()
    }

    /// Checks that need no data; the Session adds the ones that do (labels per class, size).
    pub fn validate(&self) -> Result<(), String> {
        self.method_kind()?;
        self.optimizer()?.validate()?;
        if self.steps == 0 || self.steps > 10_000_000 {
            return Err(format!("steps = {}: give a number of steps in 1..=10000000", self.steps));
        }
        if !(2..=4096).contains(&self.batch_size) {
            return Err(format!("batch size {} must be in 2..=4096 (contrastive losses need at least 2 images)", self.batch_size));
        }
        if !(4..=256).contains(&self.width) {
            return Err(format!("backbone width {} must be in 4..=256", self.width));
        }
        in_range("knn_k", self.knn_k, 1, 1000)?;
        // Votes are weighted exp((s − s_max)/τ), which stays finite for any τ; below 1e-6
        // the vote is plain 1-NN and τ itself no longer fits in an f32.
        in_range_f("knn_temperature", self.knn_temperature, 1e-6, 100.0)?;
        in_range("labels_per_class", self.labels_per_class, 0, 100_000)?;
        if self.labels_per_class == 0 && self.method_kind()?.uses_labels() {
            return Err(format!("{} needs labels: set labels_per_class to at least 1", self.method));
        }
        for (name, limit) in [("train_limit", self.train_limit), ("test_limit", self.test_limit)] {
            if limit == Some(0) {
                return Err(format!("{name} = 0 leaves no images; omit it to use the whole split"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_defaults_fill_in() {
        let c = RunConfig::from_json(r#"{"method":"rotnet","steps":5}"#).unwrap();
        assert_eq!(c.method, "rotnet");
        assert_eq!(c.steps, 5);
        assert_eq!(c.batch_size, RunConfig::default().batch_size);
        assert_eq!(RunConfig::from_json(&c.to_json()).unwrap(), c);
    }

    #[test]
    fn bad_configs_get_named_errors() {
        let e = RunConfig::from_json(r#"{"method":"nope"}"#).unwrap_err();
        assert!(e.contains("unknown method 'nope'") && e.contains("simclr"), "{e}");
        let e = RunConfig::from_json(r#"{"batch_size":1}"#).unwrap_err();
        assert!(e.contains("batch size 1"), "{e}");
        let e = RunConfig::from_json(r#"{"stepz":10}"#).unwrap_err();
        assert!(e.contains("unknown field `stepz`"), "{e}");
        let e = RunConfig::from_json(r#"{"backbone":"vgg"}"#).unwrap_err();
        assert!(e.contains("vgg"), "{e}");
        let e = RunConfig::from_json(r#"{"optimizer":{"kind":"sgd","lr":-1,"momentum":0.9,"nesterov":true,"weight_decay":0,"warmup":0,"cosine":true}}"#).unwrap_err();
        assert!(e.contains("learning rate"), "{e}");
        let e = RunConfig::from_json(r#"{"method":"fixmatch","labels_per_class":0}"#).unwrap_err();
        assert!(e.contains("labels_per_class"), "{e}");
    }
}
