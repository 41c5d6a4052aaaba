//! RotNet: predict which of four rotations (0°, 90°, 180°, 270°) an image was turned by.
//!
//! [0] Gidaris, Singh, Komodakis. "Unsupervised Representation Learning by Predicting Image
//! Rotations", ICLR 2018, arXiv:1803.07728. "We propose to learn image features by training
//! ConvNets to recognize the 2d rotation that is applied to the image that it gets as input."
//! As in the paper, all four rotations of every image go into the same batch (§3.2: this
//! "results in a significant improvement").
use super::super::{Curve, Family, MethodMeta, accuracy, Batch, Footprint, Losses, Method, Setup, StepCtx};
use crate::heads::check_hidden;
use crate::augment::{self, ops::rot90};
use crate::backbone::Backbone;
use crate::heads::Mlp;
use crate::loss::cross_entropy;
use crate::rng::Rng;
use crate::optim::OptimConfig;
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct RotNetConfig {
    /// Hidden widths of the rotation head on the backbone features (empty = linear head).
    /// At most 4 layers of 1..=4096.
    #[config(default = "vec![128]")]
    pub head_hidden: Vec<usize>,
    /// Flip and shift each image before rotating it (the paper trains with standard
    /// crop + flip augmentation).
    #[config(default = true)]
    pub augment: bool,
}

impl Default for RotNetConfig {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Module, Debug)]
pub struct RotNetModel {
    pub backbone: Backbone,
    pub head: Mlp,
}

pub struct RotNet {
    config: RotNetConfig,
    flip: bool,
}

/// All four rotations of `x` `[B, C, H, W]` stacked as `[4B, C, H, W]`, with labels `[4B]`.
pub fn four_rotations(x: Tensor<4>) -> (Tensor<4>, Tensor<1, Int>) {
    let b = x.dims()[0];
    let device = x.device();
    let rotated = Tensor::cat((0..4).map(|k| rot90(x.clone(), k)).collect(), 0); // [4B, C, H, W]
    let labels: Vec<i64> = (0..4).flat_map(|k| std::iter::repeat_n(k as i64, b)).collect();
    (rotated, Tensor::from_data(TensorData::new(labels, [4 * b]), &device))
}

/// The four rotations of `images`, named by angle, for the page's preview.
pub fn rotation_views(images: Tensor<4>) -> Vec<(String, Tensor<4>)> {
    (0..4).map(|k| (format!("{}°", k * 90), rot90(images.clone(), k))).collect()
}

/// The rotation head's widths on backbone features of width `feature_dim`.
pub fn head_widths(config: &RotNetConfig, feature_dim: usize) -> Vec<usize> {
    let mut widths = vec![feature_dim];
    widths.extend(&config.head_hidden);
    widths.push(4);
    widths
}

/// A step's inputs: the images flipped and shifted when `config.augment` says (and
/// `flip` allows), then all four rotations of each `[4B, C, H, W]`, with their labels `[4B]`.
pub fn training_rotations(config: &RotNetConfig, x: Tensor<4>, flip: bool, rng: &mut Rng) -> (Tensor<4>, Tensor<1, Int>) {
    four_rotations(if config.augment { augment::weak(x, flip, rng) } else { x })
}

impl RotNet {
    fn logits(model: &RotNetModel, x: Tensor<4>) -> Tensor<2> {
        model.head.forward(model.backbone.forward(x))
    }
}

/// RotNet: SGD, Nesterov momentum 0.9, weight decay 5e-4, lr 0.1.
fn paper_optimizer() -> OptimConfig {
    OptimConfig::sgd(0.1, 5e-4)
}

impl Method for RotNet {
    const META: MethodMeta = MethodMeta {
        id: "rotnet",
        family: Family::Pretext,
        name: "RotNet",
        paper: "Gidaris, Singh, Komodakis. Unsupervised Representation Learning by Predicting Image Rotations. ICLR 2018",
        link: "https://arxiv.org/abs/1803.07728",
        explanation: "Every image is shown at 0°, 90°, 180° and 270°, and the network must say which rotation it sees. \
                    To tell which way is up, it has to recognise what the object is and where its parts are, so the features it \
                    learns for this made-up task also separate the real classes. The last layers specialise in rotation; \
                    the paper finds the best features in the middle blocks, which is why the kNN probe is reported per layer.",
        curves: &[Curve::loss("total"), Curve::accuracy("rotation_acc")],
        uses_labels: false,
        optimizer: paper_optimizer,
    };


    type Config = RotNetConfig;
    type Model = RotNetModel;

    fn check(config: &RotNetConfig) -> Result<(), String> {
        check_hidden(&config.head_hidden, 4)
    }

    fn footprint(config: &RotNetConfig, batch_size: usize, feature_dim: usize, _n_classes: usize) -> Footprint {
        Footprint { extra_values: 0, forward_images: 4 * batch_size, heads: vec![head_widths(config, feature_dim)] }
    }

    fn new(config: RotNetConfig, setup: &Setup) -> Result<(Self, RotNetModel), String> {
        if setup.height != setup.width_px {
            return Err(format!("RotNet needs square images, got {}×{}", setup.height, setup.width_px));
        }
        let backbone = setup.backbone();
        let head = Mlp::new(&head_widths(&config, backbone.out_dim()), &setup.device);
        Ok((RotNet { config, flip: setup.flip_invariant }, RotNetModel { backbone, head }))
    }

    fn loss(&mut self, model: &RotNetModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let x = batch.unlabelled.clone().expect("RotNet draws unlabelled images");
        let (rotated, labels) = training_rotations(&self.config, x, self.flip, ctx.rng);
        let logits = Self::logits(model, ctx.to_model(rotated));
        let labels = labels.autodiff();
        let acc = accuracy(logits.clone().detach(), labels.clone());
        Losses::new(cross_entropy(logits, labels)).with("rotation_acc", acc)
    }

    fn backbone(model: &RotNetModel) -> &Backbone {
        &model.backbone
    }

    fn pretext_accuracy(&self, model: &RotNetModel, images: Tensor<4>) -> Option<Tensor<1>> {
        let (rotated, labels) = four_rotations(images);
        Some(accuracy(Self::logits(model, rotated), labels))
    }

    fn views(&self, images: Tensor<4>, _rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        rotation_views(images)
    }
}
