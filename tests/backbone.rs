//! Backbones take 1- and 3-channel images of 28–64 px and return `[B, D]`.
mod common;
use burn::prelude::*;
use burn::tensor::Distribution;
use common::cpu;
use ssl_playground::backbone::{Backbone, BackboneKind};
use ssl_playground::heads::Mlp;

#[test]
fn both_backbones_accept_grey_and_colour_images_of_28_to_64_px() {
    let d = cpu();
    for kind in [BackboneKind::SmallCnn, BackboneKind::ResnetTiny] {
        for (c, side) in [(1, 28), (3, 32), (3, 64), (1, 64)] {
            let net = Backbone::new(kind, c, 16, &d);
            let x = Tensor::<4>::random([2, c, side, side], Distribution::Uniform(0.0, 1.0), &d);
            let stages = net.pooled_stages(x.clone());
            let out = net.forward(x);
            assert_eq!(out.dims(), [2, net.out_dim()], "{kind:?} {c}×{side}²");
            assert_eq!(stages.len(), net.stage_names().len());
            assert_eq!(stages.last().unwrap().dims(), [2, 64]);
        }
    }
}

#[test]
fn parameter_counts_match_the_descriptions() {
    let d = cpu();
    // small-cnn at width 32 on grey input: 3×3 convs 1→32→64→128 without bias, plus BN
    // (γ, β and the two running stats each). 288 + 18432 + 73728 + 4·(32+64+128) = 93,344.
    let small = Backbone::new(BackboneKind::SmallCnn, 1, 32, &d);
    assert_eq!(small.num_params(), 93_344);
    let resnet = Backbone::new(BackboneKind::ResnetTiny, 1, 32, &d);
    let n = resnet.num_params();
    assert!((250_000..400_000).contains(&n), "resnet-tiny has {n} parameters");
    // An MLP head from widths [128, 64, 10]: 128·64+64 + 4·64 (BN) + 64·10+10.
    assert_eq!(Mlp::new(&[128, 64, 10], &d).num_params(), 8256 + 256 + 650);
}

#[test]
fn size_formulas_match_the_built_backbones() {
    // The limits check counts parameters before building anything; it must agree with Burn.
    let d = cpu();
    for kind in [BackboneKind::SmallCnn, BackboneKind::ResnetTiny] {
        for (channels, width) in [(1, 8), (3, 32), (1, 48)] {
            let built = Backbone::new(kind, channels, width, &d).num_params();
            assert_eq!(kind.num_params(channels, width), built, "{kind:?} c={channels} w={width}");
        }
    }
    // small-cnn, width 8, 28 px: 3·8·784 + 8·196 + 3·16·196 + 16·49 + 3·32·49 = 35,280.
    assert_eq!(BackboneKind::SmallCnn.activations_per_image(8, 28, 28), 35_280);
}
