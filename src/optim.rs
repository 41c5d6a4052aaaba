//! Optimizers and the learning-rate schedule.
//!
//! SGD (momentum, Nesterov, weight decay), Adam, AdamW come from burn-optim; LARS (You et al.
//! 2017, arXiv:1708.03888), which SimCLR and BYOL train with, is implemented here on Burn's
//! per-tensor `Optimizer` trait. The schedule is linear warm-up then cosine decay to zero
//! (SimCLR §B.1; FixMatch's cos(7πk/16K) is a milder variant of the same shape).
use burn::optim::momentum::{Momentum, MomentumConfig};
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, Optimizer, SgdConfig, SgdState};
use burn::optim::decay::WeightDecayConfig;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimKind {
    Sgd,
    Adam,
    Adamw,
    Lars,
}

/// Optimizer and schedule of a run. Methods give their paper's choice as the default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    pub kind: OptimKind,
    /// Peak learning rate (after warm-up).
    pub lr: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    /// Linear warm-up steps, as a fraction of the run (0.1 = the first 10 %).
    pub warmup: f64,
    /// Cosine decay to zero over the run; constant learning rate if false.
    pub cosine: bool,
}

impl OptimConfig {
    pub fn sgd(lr: f64, weight_decay: f64) -> Self {
        Self { kind: OptimKind::Sgd, lr, momentum: 0.9, nesterov: true, weight_decay, warmup: 0.0, cosine: true }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 10.0) {
            return Err(format!("learning rate {} must be in (0, 10]", self.lr));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(format!("momentum {} must be in [0, 1)", self.momentum));
        }
        if !(0.0..=0.1).contains(&self.weight_decay) {
            return Err(format!("weight decay {} must be in [0, 0.1]", self.weight_decay));
        }
        if !(0.0..1.0).contains(&self.warmup) {
            return Err(format!("warm-up {} must be a fraction of the run in [0, 1)", self.warmup));
        }
        Ok(())
    }

    pub fn build(&self) -> ModuleOptimizer {
        let decay = (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        // PyTorch-style momentum: no dampening (burn's default dampening is 0.1).
        let momentum = MomentumConfig::new().with_momentum(self.momentum).with_dampening(0.0).with_nesterov(self.nesterov);
        match self.kind {
            OptimKind::Sgd => SgdConfig::new()
                .with_momentum((self.momentum > 0.0).then_some(momentum))
                .with_weight_decay(decay)
                .init(),
            OptimKind::Adam => AdamConfig::new().with_epsilon(1e-8).with_weight_decay(decay).init(),
            OptimKind::Adamw => AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(self.weight_decay as f32).init(),
            OptimKind::Lars => ModuleOptimizer::from(Lars {
                momentum: Momentum::new(&momentum),
                weight_decay: self.weight_decay as f32,
                trust_coefficient: 0.001,
            }),
        }
    }

    /// Learning rate at `step` (0-based) of `total` steps.
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        let total = total.max(1) as f64;
        let warm = (self.warmup * total).floor();
        let t = step as f64;
        if t < warm {
            return self.lr * (t + 1.0) / warm;
        }
        if !self.cosine {
            return self.lr;
        }
        let progress = ((t - warm) / (total - warm).max(1.0)).min(1.0);
        self.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

/// LARS: SGD with momentum whose step for each weight matrix is scaled by the trust ratio
/// η·‖w‖ / (‖g‖ + λ‖w‖). Biases and BatchNorm parameters (rank 1) get neither the ratio nor
/// weight decay, as in SimCLR's and BYOL's setups.
#[derive(Clone)]
pub struct Lars {
    momentum: Momentum,
    weight_decay: f32,
    /// η = 0.001 (You et al. 2017).
    trust_coefficient: f32,
}

impl Optimizer for Lars {
    type State<const D: usize> = SgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        weight: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let grad = if D > 1 {
            let w_norm = weight.clone().square().sum().sqrt(); // [1]
            let g_norm = grad.clone().square().sum().sqrt();
            let denom = g_norm + w_norm.clone() * self.weight_decay;
            let ratio = (w_norm.clone() * self.trust_coefficient) / denom.clone().clamp_min(1e-12);
            // A zero weight or zero gradient falls back to ratio 1 (plain SGD), without a host read.
            let degenerate = w_norm.lower_equal_elem(0.0).bool_or(denom.lower_equal_elem(0.0));
            let ratio = ratio.mask_fill(degenerate, 1.0);
            (grad + weight.clone() * self.weight_decay) * ratio.reshape([1; D])
        } else {
            grad
        };
        let (grad, momentum) = self.momentum.transform(grad, state.and_then(|s| s.momentum));
        (weight - grad * lr, Some(SgdState::new(Some(momentum))))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.momentum = state.momentum.map(|m| m.to_device(device));
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine_to_zero() {
        let c = OptimConfig { warmup: 0.1, ..OptimConfig::sgd(1.0, 0.0) };
        assert!((c.lr_at(0, 100) - 0.1).abs() < 1e-12); // first warm-up step: 1/10 of peak
        assert!((c.lr_at(9, 100) - 1.0).abs() < 1e-12); // end of warm-up: peak
        assert!((c.lr_at(10, 100) - 1.0).abs() < 1e-12); // cosine starts at peak
        assert!((c.lr_at(55, 100) - 0.5).abs() < 1e-12); // half way through the decay: cos(π/2) → 0.5
        assert!(c.lr_at(99, 100) < 0.001);
    }

    #[test]
    fn lars_scales_matrices_by_the_trust_ratio_and_leaves_vectors_alone() {
        let device = Device::flex();
        let lars = Lars {
            momentum: Momentum::new(&MomentumConfig::new().with_momentum(0.9).with_dampening(0.0).with_nesterov(false)),
            weight_decay: 0.0,
            trust_coefficient: 0.001,
        };
        // ‖w‖ = 5, ‖g‖ = 1 → trust ratio 0.001·5/1 = 0.005. First step: velocity = g, so
        // w' = w − lr·0.005·g = (3 − 0.003, 4 − 0.004) at lr 1.
        let w = Tensor::<2>::from_floats([[3.0, 4.0]], &device);
        let g = Tensor::<2>::from_floats([[0.6, 0.8]], &device);
        let (w2, state) = lars.step(1.0, w, g, None);
        let got = w2.into_data().try_into_vec_as::<f32>().unwrap();
        assert!((got[0] - 2.997).abs() < 1e-6 && (got[1] - 3.996).abs() < 1e-6, "{got:?}");
        assert!(state.is_some());
        // A bias (rank 1) takes the plain SGD step: w − lr·g.
        let b = Tensor::<1>::from_floats([1.0, 1.0], &device);
        let gb = Tensor::<1>::from_floats([0.5, -0.5], &device);
        let (b2, _) = lars.step(0.1, b, gb, None);
        let got = b2.into_data().try_into_vec_as::<f32>().unwrap();
        assert!((got[0] - 0.95).abs() < 1e-6 && (got[1] - 1.05).abs() < 1e-6, "{got:?}");
    }

    #[test]
    fn bad_settings_are_named() {
        let c = OptimConfig { lr: -1.0, ..OptimConfig::sgd(1.0, 0.0) };
        assert!(c.validate().unwrap_err().contains("learning rate"));
    }
}
