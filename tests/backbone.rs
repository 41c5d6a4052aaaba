//! Backbones take 1- and 3-channel images of 28–64 px and return `[B, D]`.
mod common;
use burn::prelude::*;
use burn::tensor::Distribution;
use common::{cpu, floats};
use ssl_playground::backbone::{Backbone, BackboneKind};
use ssl_playground::backbone::vit_tiny::{self, VitTiny};
use ssl_playground::heads::Mlp;

const ALL_BACKBONES: [BackboneKind; 3] = [BackboneKind::SmallCnn, BackboneKind::ResnetTiny, BackboneKind::VitTiny];

#[test]
fn every_backbone_accepts_grey_and_colour_images_of_28_to_64_px() {
    let d = cpu();
    for kind in ALL_BACKBONES {
        for (c, side) in [(1, 28), (3, 32), (3, 64), (1, 64)] {
            let net = Backbone::new(kind, c, 16, &d);
            let x = Tensor::<4>::random([2, c, side, side], Distribution::Uniform(0.0, 1.0), &d);
            let stages = net.pooled_stages(x.clone());
            let out = net.forward(x);
            assert_eq!(out.dims(), [2, net.out_dim()], "{kind:?} {c}×{side}²");
            assert_eq!(stages.len(), net.stage_names().len());
            assert_eq!(stages.last().unwrap().dims(), [2, kind.out_dim(16)]);
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
    // vit-tiny at width 32 on grey input, D = 64: patch embedding 16·64+64 = 1,088, CLS 64,
    // positions 50·64 = 3,200; per block LayerNorms 4·64, qkv 64·192+192, projection 64·64+64,
    // MLP (ratio 1) 2·(64·64+64) = 25,216, three blocks 75,648; final LayerNorm 128.
    let vit = Backbone::new(BackboneKind::VitTiny, 1, 32, &d);
    assert_eq!(vit.num_params(), 1_088 + 64 + 3_200 + 75_648 + 128);
    // An MLP head from widths [128, 64, 10]: 128·64+64 + 4·64 (BN) + 64·10+10.
    assert_eq!(Mlp::new(&[128, 64, 10], &d).num_params(), 8256 + 256 + 650);
}

#[test]
fn size_formulas_match_the_built_backbones() {
    // The limits check counts parameters before building anything; it must agree with Burn.
    let d = cpu();
    for kind in ALL_BACKBONES {
        for (channels, width) in [(1, 8), (3, 32), (1, 48)] {
            let built = Backbone::new(kind, channels, width, &d).num_params();
            assert_eq!(kind.num_params(channels, width), built, "{kind:?} c={channels} w={width}");
        }
    }
    // small-cnn, width 8, 28 px: 3·8·784 + 8·196 + 3·16·196 + 16·49 + 3·32·49 = 35,280.
    assert_eq!(BackboneKind::SmallCnn.activations_per_image(8, 28, 28), 35_280);
}

#[test]
fn vit_tiny_gives_cls_features_per_block_and_attention_rows_that_sum_to_one() {
    let d = cpu();
    let vit = VitTiny::new(1, 16, &d);
    let x = Tensor::<4>::random([3, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &d);
    let per_block = vit.cls_per_block(x.clone());
    assert_eq!(per_block.len(), vit_tiny::DEPTH);
    assert!(per_block.iter().all(|t| t.dims() == [3, 32]));
    // The last block's CLS token (after the final LayerNorm) is the feature.
    let diff = floats((per_block.last().unwrap().clone() - vit.forward(x.clone())).abs().max())[0];
    assert!(diff < 1e-6, "{diff}");
    // 28 px → a 7×7 grid, 50 tokens; D = 32 → 2 heads.
    let (attention, grid) = vit.last_attention(x.clone());
    assert_eq!(grid, (7, 7));
    assert_eq!(attention.dims(), [3, 2, 50, 50]);
    let row_sums = floats(attention.sum_dim(3));
    assert!(row_sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "{row_sums:?}");
    let maps = vit.maps(x);
    assert_eq!(maps.last().unwrap().dims(), [3, 32, 7, 7]);
}

#[test]
fn vit_tiny_position_embeddings_resample_to_other_crop_sizes() {
    // Each output position is a convex blend of the 7×7 grid; the 7×7 → 7×7 blend is the identity.
    for (rows, cols) in [(3, 3), (4, 4), (8, 8), (16, 16), (7, 7)] {
        let m = ssl_playground::backbone::bilinear_matrix((7, 7), (rows, cols));
        for r in 0..rows * cols {
            let row = &m[r * 49..(r + 1) * 49];
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5 && row.iter().all(|&w| w >= 0.0));
            if (rows, cols) == (7, 7) {
                assert_eq!(row[r], 1.0);
            }
        }
    }
    // DINO's 12 px local crops (3×3 patches) and a 64 px pack (16×16) both run.
    let d = cpu();
    let vit = VitTiny::new(3, 8, &d);
    for side in [12, 16, 64] {
        let x = Tensor::<4>::random([2, 3, side, side], Distribution::Uniform(0.0, 1.0), &d);
        assert_eq!(vit.forward(x).dims(), [2, 16], "{side} px");
    }
}

/// MaskFeat's CNN variant resamples the last feature map to the patch grid with a matrix
/// product (Burn's wgpu backend has no backward pass for bilinear `interpolate`). By hand, a
/// row [0, 4] widened to 4 columns with half-pixel centres: source positions −0.25 (clamped
/// to 0), 0.25, 0.75 and 1.25 (clamped to 1) give [0, 1, 3, 4].
#[test]
fn feature_maps_resample_bilinearly_by_a_matrix_product() {
    let maps = Tensor::<4>::from_data(TensorData::new(vec![0.0f32, 4.0, 0.0, 4.0], [1, 1, 2, 2]), &cpu());
    let out = ssl_playground::backbone::resample_maps(maps.clone(), (2, 4));
    assert_eq!(out.dims(), [1, 1, 8]);
    assert_eq!(floats(out), vec![0.0, 1.0, 3.0, 4.0, 0.0, 1.0, 3.0, 4.0]);
    // The same grid passes through unchanged.
    assert_eq!(floats(ssl_playground::backbone::resample_maps(maps, (2, 2))), vec![0.0, 4.0, 0.0, 4.0]);
}
