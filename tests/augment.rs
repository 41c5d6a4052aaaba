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

mod jigsaw_puzzles {
    use super::common::{cpu, floats};
    use burn::prelude::*;
    use ssl_playground::augment::jigsaw::{distances, permutation_set, shuffle_tiles, TILES};
    use ssl_playground::augment::patches::{cut, grid_maps, mosaic};
    use ssl_playground::rng::Rng;

    #[test]
    fn permutation_sets_are_distinct_bijections_far_apart() {
        // (size, minimum pairwise Hamming distance the greedy set keeps), measured.
        for (size, claimed_min) in [(10, 8), (100, 6), (1000, 5)] {
            let set = permutation_set(size);
            assert_eq!(set.len(), size);
            for p in set {
                let mut seen = [false; TILES];
                for &t in p {
                    seen[t as usize] = true;
                }
                assert!(seen.iter().all(|&s| s), "{p:?} is not a permutation of the 9 tiles");
            }
            let (min, mean) = distances(set);
            eprintln!("jigsaw set of {size}: minimum Hamming distance {min}, mean {mean:.2}");
            assert!(min >= claimed_min, "set of {size}: minimum distance {min} < {claimed_min}");
            assert!(min > 0, "duplicates in the set of {size}");
        }
    }

    /// A 27×27 image whose 3×3 cells (9 px each) are flat at (cell + 1) / 10.
    fn cells_image() -> Tensor<4> {
        let mut v = vec![0.0f32; 27 * 27];
        for y in 0..27 {
            for x in 0..27 {
                v[y * 27 + x] = ((y / 9) * 3 + x / 9 + 1) as f32 / 10.0;
            }
        }
        Tensor::from_data(TensorData::new(v, [1, 1, 27, 27]), &cpu())
    }

    /// The centre pixel of each of `n` tiles of side `t`.
    fn centres(tiles: Tensor<4>, t: usize) -> Vec<f32> {
        let n = tiles.dims()[0];
        floats(tiles.narrow(2, t / 2, 1).narrow(3, t / 2, 1).reshape([n]))
    }

    #[test]
    fn tiles_come_from_their_cells_and_shuffle_as_the_permutation_says() {
        let image = cells_image();
        let t = 11;
        let expected: Vec<f32> = (0..TILES).map(|c| (c + 1) as f32 / 10.0).collect();
        // Centred tiles lie inside their cell: every pixel has the cell's value.
        let centred = cut(image.clone(), &grid_maps(1, 3, 0.6, 1.0, None), t);
        assert_eq!(centred.dims(), [TILES, 1, t, t]);
        let all = floats(centred.clone().reshape([TILES, t * t]));
        for (cell, pixels) in all.chunks(t * t).enumerate() {
            assert!(pixels.iter().all(|&p| (p - expected[cell]).abs() < 1e-5), "cell {cell}: {pixels:?}");
        }
        // Jittered tiles (a random place in the cell) are still centred in their own cell.
        let mut rng = Rng::new(3);
        for _ in 0..5 {
            let jittered = cut(image.clone(), &grid_maps(1, 3, 0.85, 1.0, Some(&mut rng)), t);
            let got = centres(jittered, t);
            assert!(got.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-5), "{got:?}");
        }
        // Position i of a shuffled puzzle shows tile perm[i].
        let set = permutation_set(100);
        for label in [0, 1, 57, 99] {
            let shuffled = centres(shuffle_tiles(centred.clone(), set, &[label]), t);
            let want: Vec<f32> = set[label].iter().map(|&tile| expected[tile as usize]).collect();
            assert_eq!(shuffled, want, "permutation #{label}");
        }
        // The preview lays the 9 tiles out as a 3×3 image with 1-px gaps.
        assert_eq!(mosaic(centred, 3, 3).dims(), [1, 1, 3 * t + 2, 3 * t + 2]);
    }
}

mod context_and_counting {
    use super::common::{close, cpu, floats};
    use super::real_batch;
    use burn::prelude::*;
    use ssl_playground::augment::ops::keep_one_channel;
    use ssl_playground::augment::patches::{cut, grid_maps, half_resolution, quadrant_maps};
    use ssl_playground::methods::pretext::context_prediction::{pair_features, NEIGHBOURS};
    use ssl_playground::rng::Rng;

    /// Context Prediction's pair k of an image is (its centre patch, the patch of cell
    /// NEIGHBOURS[k]), and that cell is where label k says: the eight cells around the centre,
    /// row by row, each once.
    #[test]
    fn context_pairs_come_from_the_positions_they_claim() {
        // A 27×27 image whose 3×3 cells are flat at cell + 1; jittered 9-px patches covering
        // 0.67 of a cell each read only their own cell.
        let mut v = vec![0.0f32; 27 * 27];
        for (i, p) in v.iter_mut().enumerate() {
            *p = ((i / 27 / 9) * 3 + (i % 27) / 9 + 1) as f32;
        }
        let image = Tensor::<4>::from_data(TensorData::new(v, [1, 1, 27, 27]), &cpu());
        let mut rng = Rng::new(5);
        for _ in 0..5 {
            let patches = cut(image.clone(), &grid_maps(1, 3, 0.67, 0.3, Some(&mut rng)), 9); // [9, 1, 9, 9]
            let means = patches.clone().mean_dim(3).mean_dim(2).reshape([9, 1]); // one value per patch
            let pairs = floats(pair_features(means)); // [8, 2]
            for (k, &cell) in NEIGHBOURS.iter().enumerate() {
                assert!(close(pairs[2 * k], 5.0, 1e-4), "pair {k}: centre {}", pairs[2 * k]);
                assert!(close(pairs[2 * k + 1], (cell + 1) as f32, 1e-4), "pair {k}: neighbour {} is not cell {cell}", pairs[2 * k + 1]);
            }
        }
        // The labels name the 8 cells around the centre, in reading order.
        let offsets: Vec<(i32, i32)> = NEIGHBOURS.iter().map(|&c| (c as i32 / 3 - 1, c as i32 % 3 - 1)).collect();
        assert_eq!(offsets, [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]);
    }

    /// Colour dropping keeps one plane of each image and copies it into every channel.
    #[test]
    fn one_colour_plane_is_kept_per_image() {
        let d = cpu();
        // Two 1×1 RGB images: (0.1, 0.5, 0.9) and (0.2, 0.4, 0.6).
        let x = Tensor::<4>::from_floats([[[[0.1]], [[0.5]], [[0.9]]], [[[0.2]], [[0.4]], [[0.6]]]], &d);
        let kept = floats(keep_one_channel(x, &[2, 0]));
        let want = [0.9, 0.9, 0.9, 0.2, 0.2, 0.2];
        assert!(kept.iter().zip(want).all(|(a, b)| close(*a, b, 1e-6)), "{kept:?}");
    }

    /// Counting's four tiles, cut at half the image's side, are its quadrants pixel for pixel;
    /// laid out 2×2 they give the image back. Its half-resolution image is the 2×2 means.
    #[test]
    fn counting_tiles_reassemble_into_the_image() {
        let x = real_batch(3); // [3, 1, 28, 28]
        let tiles = cut(x.clone(), &quadrant_maps(3, 28, 28), 14); // [12, 1, 14, 14]
        let back = tiles.reshape([3, 2, 2, 1, 14, 14]).permute([0, 3, 1, 4, 2, 5]).reshape([3, 1, 28, 28]);
        let (a, b) = (floats(x.clone()), floats(back));
        let worst = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "tiles differ from the image by up to {worst}");
        let half = floats(half_resolution(x.clone(), 14)); // [3, 1, 14, 14]
        let pixel = |img: usize, y: usize, xx: usize| a[img * 784 + y * 28 + xx];
        for (img, y, xx) in [(0, 0, 0), (1, 7, 3), (2, 13, 13)] {
            let mean = (pixel(img, 2 * y, 2 * xx) + pixel(img, 2 * y, 2 * xx + 1) + pixel(img, 2 * y + 1, 2 * xx) + pixel(img, 2 * y + 1, 2 * xx + 1)) / 4.0;
            assert!(close(half[img * 196 + y * 14 + xx], mean, 1e-5), "image {img} ({y}, {xx})");
        }
    }
}

mod exemplar_classes {
    use super::common::{close, cpu, floats};
    use super::real_batch;
    use burn::prelude::*;
    use ssl_playground::augment::exemplar::{busiest_windows, ExemplarViews};
    use ssl_playground::methods::pretext::exemplar::seed_indices;
    use ssl_playground::rng::Rng;

    /// The same run seed picks the same seed images, so the surrogate classes are the same;
    /// another seed picks others. Seeds are distinct and inside the pool.
    #[test]
    fn exemplar_classes_are_stable_for_a_given_seed() {
        let a = seed_indices(5000, 1000, 1);
        assert_eq!(a, seed_indices(5000, 1000, 1));
        assert_ne!(a, seed_indices(5000, 1000, 2));
        let mut sorted = a.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 1000);
        assert!(a.iter().all(|&i| i < 5000));
        assert_eq!(seed_indices(300, 1000, 1).len(), 300, "at most the pool");
    }

    /// The seed patch is cut where the gradients are: a flat image with one 8×8 checkerboard
    /// gets its 8-px window on the checkerboard.
    #[test]
    fn the_seed_patch_sits_on_the_busiest_region() {
        let mut v = vec![0.5f32; 28 * 28];
        for y in 4..12 {
            for x in 16..24 {
                v[y * 28 + x] = ((x + y) % 2) as f32;
            }
        }
        let image = Tensor::<4>::from_data(TensorData::new(v, [1, 1, 28, 28]), &cpu());
        let centre = floats(busiest_windows(image, 8));
        let to_px = |c: f32| (c + 1.0) * 27.0 / 2.0;
        // The checkerboard's centre is pixel (19.5, 7.5); a window may start one pixel early,
        // where the step into the checkerboard is as strong as the one out of it.
        assert!((to_px(centre[0]) - 19.5).abs() <= 1.0 && (to_px(centre[1]) - 7.5).abs() <= 1.0, "window centre at pixel {:?}", (to_px(centre[0]), to_px(centre[1])));
    }

    /// With no randomness a class's member is its seed patch; the whole-image patch centred
    /// is the image itself. Random members differ from the seed and stay in [0, 1].
    #[test]
    fn a_class_member_is_its_seed_patch_transformed() {
        let x = real_batch(4);
        let centres = Tensor::<2>::zeros([4, 2], &cpu());
        let views = ExemplarViews::default();
        let seed = floats(views.sample(x.clone(), centres.clone(), 1.0, None));
        let original = floats(x.clone());
        assert!(seed.iter().zip(&original).all(|(a, b)| close(*a, *b, 1e-5)), "the untransformed whole-image patch is the image");
        let member = floats(views.sample(x, centres, 0.75, Some(&mut Rng::new(3))));
        assert!(member.iter().all(|&v| (0.0..=1.0).contains(&v)));
        let moved = member.iter().zip(&original).filter(|(a, b)| (*a - *b).abs() > 0.05).count();
        assert!(moved > original.len() / 10, "only {moved} pixels changed");
    }
}

/// Colour classes by hand. Luma Y = 0.299 R + 0.587 G + 0.114 B; Cb = (B − Y)/0.886 and
/// Cr = (R − Y)/0.701 in [−1, 1], each cut into 8 steps of 0.25: class = 8·cb_step + cr_step.
/// Red (1, 0, 0): Y = 0.299, Cb = −0.3375 → step 2, Cr = 1 → step 7 (the top), class 23.
/// Blue (0, 0, 1): Y = 0.114, Cb = 1 → 7, Cr = −0.1626 → step 3, class 59. Grey: Cb = Cr = 0
/// → steps 4 and 4, class 36.
#[test]
fn colour_classes_match_hand_computed_bins() {
    use ssl_playground::augment::colour::chroma_classes;
    let d = cpu();
    // One 2×4 image: left half red, right half blue; one 2×4 image of mid grey.
    let plane = |left: f32, right: f32| [[left, left, right, right], [left, left, right, right]];
    let colour = Tensor::<4>::from_floats([[plane(1.0, 0.0), plane(0.0, 0.0), plane(0.0, 1.0)]], &d);
    let grey = Tensor::<4>::full([1, 3, 2, 4], 0.5, &d);
    let classes = chroma_classes(Tensor::cat(vec![colour, grey], 0), [1, 2], 8);
    assert_eq!(classes.into_data().convert::<i64>().try_to_vec::<i64>().unwrap(), vec![23, 59, 36, 36]);
}

/// Painting the classes back over the grey image and classing the painting again gives the
/// same classes: the preview shows exactly what the head is asked to predict.
#[test]
fn painted_colour_classes_read_back_as_the_same_classes() {
    use ssl_playground::augment::colour::{chroma_classes, paint};
    let d = cpu();
    let mut rng = Rng::new(3);
    // 4 images of 8×8 px, each 4×4 cell one random mid-range colour (so painting never clips).
    let cell_colours: Vec<f32> = (0..4 * 3 * 2 * 2).map(|_| rng.range(0.3, 0.7)).collect(); // [4, 3, 2, 2]
    let pixels: Vec<f32> = (0..4 * 3 * 8 * 8)
        .map(|i| {
            let (image_channel, y, x) = (i / 64, i / 8 % 8, i % 8);
            cell_colours[image_channel * 4 + (y / 4) * 2 + x / 4]
        })
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(pixels, [4, 3, 8, 8]), &d);
    let classes = chroma_classes(x.clone(), [2, 2], 8);
    let mut distinct = classes.clone().into_data().convert::<i64>().try_to_vec::<i64>().unwrap();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() > 4, "random colours fall in more than a few classes: {distinct:?}");
    let painted = paint(ops::luma(x), classes.clone(), [2, 2], 8);
    assert_eq!(painted.dims(), [4, 3, 8, 8]);
    let again = chroma_classes(painted, [2, 2], 8);
    assert_eq!(classes.into_data().convert::<i64>().try_to_vec::<i64>().unwrap(), again.into_data().convert::<i64>().try_to_vec::<i64>().unwrap());
}

/// MixUp by hand: three constant images (0, 1, 2) with one-hot targets, each mixed with the
/// next (the last with the first) by weights ¾, ½ and 1: pixels ¾·0 + ¼·1 = ¼, ½·1 + ½·2 = 1.5
/// and 2; targets blend the same way. MixMatch's weights max(λ, 1 − λ) never fall below ½.
#[test]
fn mixup_by_hand() {
    use ssl_playground::augment::mix::{mixmatch_weights, mixup};
    let d = cpu();
    let images = Tensor::<1>::from_floats([0.0, 1.0, 2.0], &d).reshape([3, 1, 1, 1]).expand([3, 1, 2, 2]);
    let targets = Tensor::<2>::from_floats([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], &d);
    let (mixed, mixed_targets) = mixup(images, targets, &[1, 2, 0], &[0.75, 0.5, 1.0]);
    let pixels = floats(mixed);
    for (i, want) in [0.25, 1.5, 2.0].into_iter().enumerate() {
        assert!(pixels[4 * i..4 * i + 4].iter().all(|p| close(*p, want, 1e-6)), "image {i}: {pixels:?}");
    }
    let t = floats(mixed_targets);
    let want = [0.75, 0.25, 0.0, 0.0, 0.5, 0.5, 0.0, 0.0, 1.0];
    assert!(t.iter().zip(want).all(|(a, b)| close(*a, b, 1e-6)), "{t:?}");
    let weights = mixmatch_weights(1000, 0.75, &mut Rng::new(1));
    assert!(weights.iter().all(|w| (0.5..=1.0).contains(w)), "{weights:?}");
}

/// HOG by hand. A 4×4 image, dark left half and bright right half, one 4×4 cell. With zero
/// padding the centred differences are, per row, gx = [0, 1, 1, −1], and gy = I(row 1) on row
/// 0 and −I(row 2) on row 3 (columns 2–3 only). Rows 1–2: three votes of 1 at 0°. Row 0:
/// (1, 0) at 0°, (1, 1) at 45° and (−1, 1) at 135°, each √2. Row 3: (1, 0), then (1, −1) and
/// (−1, −1), which fold to 135° and 45°. So bin 0 (0–20°) = 8, bin 2 (40–60°) = 2√2, bin 6
/// (120–140°) = 2√2; over the norm √80: 0.894427, 0.316228, 0.316228.
#[test]
fn hog_of_a_known_edge_fills_the_expected_bins() {
    use ssl_playground::augment::hog::{hog, BINS};
    let device = cpu();
    let edge: Vec<f32> = (0..16).map(|i| if i % 4 >= 2 { 1.0 } else { 0.0 }).collect();
    let h = floats(hog(Tensor::<4>::from_data(TensorData::new(edge, [1, 1, 4, 4]), &device), 4));
    let mut expected = vec![0.0; BINS];
    expected[0] = 8.0 / 80f32.sqrt();
    expected[2] = 8f32.sqrt() / 80f32.sqrt();
    expected[6] = 8f32.sqrt() / 80f32.sqrt();
    assert_eq!(h.len(), BINS);
    for (k, (got, want)) in h.iter().zip(&expected).enumerate() {
        assert!(close(*got, *want, 1e-5), "bin {k}: {got} vs {want} (all {h:?})");
    }

    // A horizontal edge (bright below row 3) in a 6×6 image of 2×2 cells: the middle cell
    // (rows 2–3, columns 2–3) sees only vertical gradients, 90°, which is bin 4 (80–100°); its
    // first channel is flat, so channel 1's bins (9..18) hold the whole unit vector.
    let flat = vec![0.5f32; 36];
    let below: Vec<f32> = (0..36).map(|i| if i / 6 >= 3 { 1.0 } else { 0.0 }).collect();
    let two_channels = Tensor::<4>::from_data(TensorData::new([flat, below].concat(), [1, 2, 6, 6]), &device);
    let cells = hog(two_channels, 2); // [1, 9, 18]
    assert_eq!(cells.dims(), [1, 9, 2 * BINS]);
    let middle = floats(cells.narrow(1, 4, 1).reshape([2 * BINS]));
    for (k, v) in middle.iter().enumerate() {
        let want = if k == BINS + 4 { 1.0 } else { 0.0 };
        assert!(close(*v, want, 1e-6), "middle cell, entry {k}: {v} (all {middle:?})");
    }
}

/// Counting's and Jigsaw's jitter: one brightness and one contrast draw per group, so the four
/// tiles of an image change alike and images of other groups differently; strength 0 is the
/// identity, and the output stays in [0, 1].
#[test]
fn group_jitter_draws_once_per_group() {
    let one = real_batch(1);
    // Eight copies of one image in two groups of four.
    let x = Tensor::cat(vec![one; 8], 0);
    assert_eq!(floats(ops::group_jitter(x.clone(), 4, 0.0, &mut Rng::new(3))), floats(x.clone()));
    let y = ops::group_jitter(x.clone(), 4, 0.8, &mut Rng::new(3));
    let image = |i: usize| floats(y.clone().narrow(0, i, 1));
    for i in 1..4 {
        assert_eq!(image(0), image(i), "tile {i} of group 0");
        assert_eq!(image(4), image(4 + i), "tile {i} of group 1");
    }
    assert_ne!(image(0), image(4), "two groups drew the same factors");
    assert_ne!(image(0), floats(x.narrow(0, 0, 1)), "strength 0.8 left the image unchanged");
    assert!(floats(y).iter().all(|v| (0.0..=1.0).contains(v)));
}
