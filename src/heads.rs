//! Heads built from a list of layer widths, as lightly does: `[128, 128, 64]` is
//! Linear(128→128) → BatchNorm → ReLU → Linear(128→64). One type serves SimCLR's projector,
//! BYOL's predictor and a linear classifier (`[D, n_classes]`).
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Widest layer a head may have (checked by each method before it builds one): a
/// 4096-wide layer on 4096 inputs is already 16.8M parameters, far past these small backbones.
pub const MAX_HEAD_WIDTH: usize = 4096;

/// Check a config's `head_hidden` widths: at most `max_layers` layers of 1..=4096.
pub fn check_hidden(head_hidden: &[usize], max_layers: usize) -> Result<(), String> {
    crate::bounds::in_range("head_hidden's length", head_hidden.len(), 0, max_layers)?;
    head_hidden.iter().try_for_each(|&w| crate::bounds::in_range("head_hidden width", w, 1, MAX_HEAD_WIDTH))
}

#[derive(Module, Debug)]
pub struct Mlp {
    linears: Vec<Linear>,
    norms: Vec<BatchNorm>,
}

impl Mlp {
    /// `widths[0]` is the input width; every hidden layer gets BatchNorm + ReLU, the last none.
    pub fn new(widths: &[usize], device: &Device) -> Self {
        assert!(widths.len() >= 2, "an MLP head needs an input and an output width");
        let linears = widths.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect();
        let norms = widths[1..widths.len() - 1].iter().map(|&w| BatchNormConfig::new(w).init(device)).collect();
        Self { linears, norms }
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.linears.len() - 1;
        self.linears[last].forward(self.forward_hidden(x, last))
    }

    /// The activations after the first `layers` hidden layers (each Linear → BatchNorm →
    /// ReLU): SimCLR v2 fine-tunes from the projection head's first layer.
    pub fn forward_hidden(&self, x: Tensor<2>, layers: usize) -> Tensor<2> {
        assert!(layers < self.linears.len(), "an MLP of {} layers has {} hidden ones", self.linears.len(), self.linears.len() - 1);
        let mut x = x;
        for (linear, norm) in self.linears.iter().zip(&self.norms).take(layers) {
            x = relu(norm.forward(linear.forward(x)));
        }
        x
    }
}
