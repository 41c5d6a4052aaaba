//! Tier 2: augmentation invariants.
mod common;
use burn::prelude::*;
use common::{close, cpu, floats, pack};
use ssl_playground::augment::ops::{self, rot90, Affine};
use ssl_playground::augment::{weak, RandAugment, SimclrViews};
use ssl_playground::data::DeviceSplit;
use ssl_playground::rng::Rng;

fn real_batch(n: usize) -> Tensor<4> {
    let p = pack("fashion-mnist");
    DeviceSplit::new(&p.train, &p, Some(n), &cpu()).images
}

#[test]
fn four_quarter_turns_are_the_identity_and_one_turn_is_a_known_permutation() {
    let x = real_batch(8);
    let back = rot90(rot90(rot90(rot90(x.clone(), 1), 1), 1), 1);
    assert_eq!(floats(x.clone()), floats(back));
    assert_eq!(floats(rot90(x.clone(), 2)), floats(rot90(rot90(x, 1), 1)));
    // [[1,2],[3,4]] turned 90° counter-clockwise is [[2,4],[1,3]].
    let d = cpu();
    let small = Tensor::<4>::from_floats([[[[1.0, 2.0], [3.0, 4.0]]]], &d);
    assert_eq!(floats(rot90(small, 1)), vec![2.0, 4.0, 1.0, 3.0]);
}

#[test]
fn per_image_rotation_matches_whole_batch_rotation() {
    let x = real_batch(4);
    let each = ops::rot90_each(x.clone(), &[0, 1, 2, 3]);
    for k in 0..4 {
        let want = floats(rot90(x.clone().narrow(0, k, 1), k));
        let got = floats(each.clone().narrow(0, k, 1));
        assert_eq!(want, got, "image {k}");
    }
}

#[test]
fn identity_warp_and_mirror_warp_are_exact() {
    let x = real_batch(3);
    let same = ops::warp(x.clone(), &[Affine::crop(1.0, 1.0, 0.0, 0.0, false); 3]);
    for (a, b) in floats(x.clone()).iter().zip(floats(same)) {
        assert!(close(*a, b, 1e-5));
    }
    let mirrored = ops::warp(x.clone(), &[Affine::crop(1.0, 1.0, 0.0, 0.0, true); 3]);
    for (a, b) in floats(x.flip([3])).iter().zip(floats(mirrored)) {
        assert!(close(*a, b, 1e-5));
    }
}

#[test]
fn views_keep_shape_and_range() {
    let x = real_batch(16);
    let dims = x.dims();
    let mut rng = Rng::new(3);
    for (name, v) in [
        ("simclr", SimclrViews::default().view(x.clone(), &mut rng)),
        ("weak", weak(x.clone(), true, &mut rng)),
        ("strong", RandAugment::default().view(x.clone(), &mut rng)),
        ("blur", ops::gaussian_blur(x.clone(), &[1.0; 16])),
        ("hue", ops::hue(Tensor::cat(vec![x.clone(), x.clone(), x.clone()], 1), vec![0.3; 16])),
    ] {
        assert_eq!(v.dims()[0], dims[0], "{name}");
        assert_eq!(&v.dims()[2..], &dims[2..], "{name}");
        let vals = floats(v);
        let (lo, hi) = vals.iter().fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(lo >= -1e-5 && hi <= 1.0 + 1e-5, "{name}: range [{lo}, {hi}]");
    }
}

#[test]
fn same_seed_same_views_other_seed_other_views() {
    let x = real_batch(8);
    let views = |seed| floats(SimclrViews::default().view(x.clone(), &mut Rng::new(seed)));
    let strong = |seed| floats(RandAugment::default().view(x.clone(), &mut Rng::new(seed)));
    assert_eq!(views(5), views(5));
    assert_ne!(views(5), views(6));
    assert_eq!(strong(5), strong(5));
    assert_ne!(strong(5), strong(6));
}

#[test]
fn blur_keeps_mean_brightness_and_cutout_fills_its_box() {
    let d = cpu();
    // A flat grey image stays flat under blur (rows of the band matrix sum to 1).
    let flat = Tensor::<4>::full([1, 1, 28, 28], 0.4, &d);
    for v in floats(ops::gaussian_blur(flat, &[2.0])) {
        assert!(close(v, 0.4, 1e-5));
    }
    // A centred box of side ½ on a 28-px image covers exactly 14×14 pixels.
    let zeros = Tensor::<4>::zeros([1, 1, 28, 28], &d);
    let cut = floats(ops::cutout(zeros, &[(0.5, 0.5, 0.5)], 1.0));
    assert_eq!(cut.iter().filter(|&&v| v == 1.0).count(), 14 * 14);
    assert_eq!(cut[14 * 28 + 14], 1.0);
    assert_eq!(cut[0], 0.0);
}

#[test]
fn colour_ops_by_hand() {
    let d = cpu();
    let x = Tensor::<4>::from_floats([[[[0.2, 0.8]]]], &d).expand([1, 1, 8, 2]).reshape([1, 1, 4, 4]);
    // Contrast 0 collapses to the mean (0.5); solarize at 0.5 inverts only 0.8 → 0.2.
    for v in floats(ops::contrast(x.clone(), vec![0.0])) {
        assert!(close(v, 0.5, 1e-6));
    }
    for v in floats(ops::solarize(x.clone(), vec![0.5])) {
        assert!(close(v, 0.2, 1e-6));
    }
    // Posterize to 1 bit: 0.2·255 = 51 → 0; 0.8·255 = 204 → 128/255.
    let p = floats(ops::posterize(x, vec![1]));
    assert!(p.iter().all(|&v| close(v, 0.0, 1e-6) || close(v, 128.0 / 255.0, 1e-6)));
}
