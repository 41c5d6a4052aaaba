//! `resnet-tiny`: a CIFAR-style ResNet (He et al. 2016, arXiv:1512.03385) cut down to a 3×3
//! stem and three stages of one BasicBlock each (width, 2·width, 4·width channels, strides
//! 1, 2, 2), BatchNorm throughout. With width 32 it has about 0.3M parameters.
use super::small_cnn::ConvBnRelu;
use super::conv::conv_forward;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Two 3×3 convs with an identity (or 1×1 projection) shortcut.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    shortcut: Option<ConvShortcut>,
}

#[derive(Module, Debug)]
pub struct ConvShortcut {
    conv: Conv2d,
    bn: BatchNorm,
}

impl BasicBlock {
    pub fn new(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Self {
        let conv3 = |a, b, s| {
            Conv2dConfig::new([a, b], [3, 3])
                .with_stride([s, s])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device)
        };
        let shortcut = (stride != 1 || c_in != c_out).then(|| ConvShortcut {
            conv: Conv2dConfig::new([c_in, c_out], [1, 1]).with_stride([stride, stride]).with_bias(false).init(device),
            bn: BatchNormConfig::new(c_out).init(device),
        });
        Self {
            conv1: conv3(c_in, c_out, stride),
            bn1: BatchNormConfig::new(c_out).init(device),
            conv2: conv3(c_out, c_out, 1),
            bn2: BatchNormConfig::new(c_out).init(device),
            shortcut,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let skip = match &self.shortcut {
            Some(s) => s.bn.forward(conv_forward(&s.conv, x.clone())),
            None => x.clone(),
        };
        let y = relu(self.bn1.forward(conv_forward(&self.conv1, x)));
        let y = self.bn2.forward(conv_forward(&self.conv2, y));
        relu(y + skip)
    }
}

#[derive(Module, Debug)]
pub struct ResnetTiny {
    stem: ConvBnRelu,
    blocks: Vec<BasicBlock>,
    width: usize,
}

impl ResnetTiny {
    pub fn new(in_channels: usize, width: usize, device: &Device) -> Self {
        let blocks = vec![
            BasicBlock::new(width, width, 1, device),
            BasicBlock::new(width, width * 2, 2, device),
            BasicBlock::new(width * 2, width * 4, 2, device),
        ];
        Self { stem: ConvBnRelu::new(in_channels, width, 1, device), blocks, width }
    }

    pub fn out_dim(&self) -> usize {
        self.width * 4
    }

    /// Stem and the three stages: 28 px maps are 28, 28, 14, 7 px.
    pub fn stages(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut x = self.stem.forward(x);
        let mut out = vec![x.clone()];
        for block in &self.blocks {
            x = block.forward(x);
            out.push(x.clone());
        }
        out
    }
}
