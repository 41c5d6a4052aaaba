//! `small-cnn`: three 3×3 conv blocks (conv → BatchNorm → ReLU), max-pool between them.
//! With width 32 it has 32→64→128 channels and about 93k parameters for grey input.
use super::conv::conv_forward;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;

#[derive(Module, Debug)]
pub struct ConvBnRelu {
    conv: Conv2d,
    bn: BatchNorm,
}

impl ConvBnRelu {
    pub fn new(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false) // BatchNorm's beta is the bias
                .init(device),
            bn: BatchNormConfig::new(c_out).init(device),
        }
    }
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(conv_forward(&self.conv, x)))
    }
}

#[derive(Module, Debug)]
pub struct SmallCnn {
    blocks: Vec<ConvBnRelu>,
    width: usize,
}

impl SmallCnn {
    pub fn new(in_channels: usize, width: usize, device: &Device) -> Self {
        let widths = [width, width * 2, width * 4];
        let mut c_in = in_channels;
        let blocks = widths
            .iter()
            .map(|&c| {
                let block = ConvBnRelu::new(c_in, c, 1, device);
                c_in = c;
                block
            })
            .collect();
        Self { blocks, width }
    }

    pub fn out_dim(&self) -> usize {
        self.width * 4
    }

    pub fn stages(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut out = Vec::with_capacity(self.blocks.len());
        let mut x = x;
        for (i, block) in self.blocks.iter().enumerate() {
            if i > 0 {
                // 2×2 max-pool halves the map between blocks: 28 → 14 → 7.
                x = max_pool2d(x, MaxPoolOptions::new([2, 2]));
            }
            x = block.forward(x);
            out.push(x.clone());
        }
        out
    }
}
