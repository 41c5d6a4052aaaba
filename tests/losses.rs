//! Tier 1: every loss against values worked out by hand.
mod common;
use burn::prelude::*;
use common::{close, cpu, floats};
use ssl_playground::loss::{
    barlow_twins, cross_entropy, dino_centre, dino_cross_entropy, distillation_cross_entropy, entropy, info_nce, kl_divergence, masked_cross_entropy, masked_kl_divergence, masked_softmax_mse, nce, neg_cosine, nt_xent,
    sharpen, soft_cross_entropy, softmax_mse,
};

#[test]
fn nt_xent_two_pairs_by_hand() {
    // z1 = [(1,0), (0,1)], z2 = [(3,4), (4,3)] → normalised a=(1,0) b=(0,1) a'=(.6,.8) b'=(.8,.6).
    // Cosines: a·b = 0, a·a' = .6, a·b' = .8, b·a' = .8, b·b' = .6, a'·b' = .96. With τ = 0.5:
    //   ℓ(a)  = −1.2 + ln(e^0 + e^1.2 + e^1.6)      (positive a', negatives b, b')
    //   ℓ(b)  = −1.2 + ln(e^0 + e^1.6 + e^1.2)
    //   ℓ(a') = −1.2 + ln(e^1.2 + e^1.6 + e^1.92)   (positive a, negatives b, b')
    //   ℓ(b') = −1.2 + ln(e^1.6 + e^1.2 + e^1.92)
    // mean = −1.2 + ½(2.2271231 + 2.7143045) = 1.2707138
    let d = cpu();
    let z1 = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &d);
    let z2 = Tensor::<2>::from_floats([[3.0, 4.0], [4.0, 3.0]], &d);
    let loss = floats(nt_xent(z1.clone(), z2.clone(), 0.5))[0];
    assert!(close(loss, 1.270_713_8, 1e-5), "{loss}");
    // Symmetric in its two arguments.
    let swapped = floats(nt_xent(z2, z1, 0.5))[0];
    assert!(close(loss, swapped, 1e-6));
}

#[test]
fn nt_xent_is_scale_invariant_and_lower_for_aligned_views() {
    let d = cpu();
    let z1 = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &d);
    let aligned = floats(nt_xent(z1.clone(), z1.clone() * 7.0, 0.5))[0];
    let crossed = floats(nt_xent(z1.clone(), Tensor::from_floats([[0.0, 1.0], [1.0, 0.0]], &d), 0.5))[0];
    // Aligned: every anchor has positive cos 1 and negatives cos 0,0 → ln(1 + 2e^{-2}) = 0.2395.
    assert!(close(aligned, (1.0 + 2.0 * (-2.0f32).exp()).ln(), 1e-5), "{aligned}");
    assert!(crossed > aligned);
}

#[test]
fn cross_entropy_by_hand() {
    // Row 1: logits (1,2,3), target 2 → −(3 − ln(e+e²+e³)) = 0.4076060
    // Row 2: logits (0,0,0), target 0 → ln 3 = 1.0986123. Mean 0.7531091.
    let d = cpu();
    let logits = Tensor::<2>::from_floats([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], &d);
    let targets = Tensor::<1, Int>::from_ints([2, 0], &d);
    let loss = floats(cross_entropy(logits.clone(), targets.clone()))[0];
    assert!(close(loss, 0.753_109_1, 1e-5), "{loss}");
    // FixMatch's mask keeps row 1 only, but still divides by the batch: 0.4076060 / 2.
    let mask = Tensor::<1>::from_floats([1.0, 0.0], &d);
    let masked = floats(masked_cross_entropy(logits, targets, mask))[0];
    assert!(close(masked, 0.203_803_0, 1e-5), "{masked}");
}

#[test]
fn entropy_by_hand() {
    // softmax(0,0) = (½,½): ln 2. softmax(ln 3, 0) = (¾,¼): −¾ln¾ − ¼ln¼ = 0.5623351. Mean 0.6277412.
    let d = cpu();
    let logits = Tensor::<2>::from_floats([[0.0, 0.0], [3f32.ln(), 0.0]], &d);
    let h = floats(entropy(logits))[0];
    assert!(close(h, 0.627_741_2, 1e-5), "{h}");
}

#[test]
fn info_nce_with_a_queue_by_hand() {
    // q = (1,0), its key (3,4) → (.6,.8); queue (0,1), (−1,0). τ = 0.5: logits 1.2, 0, −2.
    // ℓ = −1.2 + ln(e^1.2 + e^0 + e^−2) = 0.2941286
    let d = cpu();
    let q = Tensor::<2>::from_floats([[1.0, 0.0]], &d);
    let k = Tensor::<2>::from_floats([[3.0, 4.0]], &d);
    let queue = Tensor::<2>::from_floats([[0.0, 1.0], [-1.0, 0.0]], &d);
    let loss = floats(info_nce(q.clone(), k.clone(), queue, 0.5))[0];
    assert!(close(loss, 0.294_128_6, 1e-5), "{loss}");
    // A queue full of copies of the positive is as hard as it gets: ln(1 + K).
    let hard = floats(info_nce(q, k.clone(), Tensor::cat(vec![k.clone() / 5.0, k / 5.0], 0), 0.5))[0];
    assert!(close(hard, 3f32.ln(), 1e-5), "{hard}");
}

#[test]
fn negative_cosine_by_hand() {
    // cos((1,0),(1,1)) = 1/√2, cos((0,2),(0,−1)) = −1: 2 − 2·mean = 2 − (1/√2 − 1) = 2.2928932.
    let d = cpu();
    let p = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 2.0]], &d);
    let z = Tensor::<2>::from_floats([[1.0, 1.0], [0.0, -1.0]], &d);
    assert!(close(floats(neg_cosine(p.clone(), z))[0], 2.292_893_2, 1e-5));
    // Identical directions give 0, whatever the lengths.
    assert!(close(floats(neg_cosine(p.clone(), p * 3.0))[0], 0.0, 1e-6));
}

#[test]
fn barlow_twins_by_hand() {
    // Standardised over the batch (N = 2): z1 → columns (1,−1), (1,−1); z2 → (1,−1), (−1,1).
    // C = z̃1ᵀz̃2 / 2 = [[1, −1], [1, −1]]: on-diagonal (1−1)² + (1+1)² = 4, off-diagonal
    // (−1)² + 1² = 2; with λ = 0.5 the loss is 4 + 0.5·2 = 5 (the 1e-5 in the std shifts it by 1e-4).
    let d = cpu();
    let z1 = Tensor::<2>::from_floats([[1.0, 2.0], [-1.0, 0.0]], &d);
    let z2 = Tensor::<2>::from_floats([[1.0, -1.0], [-1.0, 1.0]], &d);
    let (loss, on, off, c) = barlow_twins(z1.clone(), z2, 0.5);
    assert!(close(floats(on)[0], 4.0, 1e-3) && close(floats(off)[0], 2.0, 1e-3), "on/off");
    assert!(close(floats(loss)[0], 5.0, 1e-3));
    let c = floats(c);
    for (got, want) in c.iter().zip([1.0, -1.0, 1.0, -1.0]) {
        assert!(close(*got, want, 1e-4), "{c:?}");
    }
    // Two identical views of decorrelated dimensions: C = I and the loss is 0.
    let decorrelated = Tensor::<2>::from_floats([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], &d);
    let (zero, ..) = barlow_twins(decorrelated.clone(), decorrelated, 1.0);
    assert!(close(floats(zero)[0], 0.0, 1e-3));
}

#[test]
fn nce_by_hand() {
    // τ = 1, N = 4, m = 2. exp(s): positive 2, noise 1 and 3 → Z = 4·mean(1, 3) = 8, so
    // P = 1/4, 1/8, 3/8 and m/N = 1/2. h(pos) = (1/4)/(3/4) = 1/3; 1 − h(noise) = (1/2)/(1/8 + 1/2)
    // = 0.8 and (1/2)/(3/8 + 1/2) = 4/7. Loss = −(ln 1/3 + ln 0.8 + ln 4/7) = 1.8813716.
    let d = cpu();
    let positive = Tensor::<2>::from_floats([[2f32.ln()]], &d);
    let noise = Tensor::<2>::from_floats([[0.0, 3f32.ln()]], &d);
    let loss = floats(nce(positive, noise, 1.0, 4))[0];
    assert!(close(loss, 1.881_371_6, 1e-5), "{loss}");
}

#[test]
fn distillation_cross_entropy_by_hand() {
    // τ = 1. Row 1: teacher (0, 0) → P_T = (½, ½); student (0, ln 3) → P_S = (¼, ¾):
    //   −(½ ln ¼ + ½ ln ¾) = 0.8369882. Row 2: both (0, 0): ln 2 = 0.6931472. Mean 0.7650677.
    let d = cpu();
    let ln3 = 3f32.ln();
    let teacher = Tensor::<2>::from_floats([[0.0, 0.0], [0.0, 0.0]], &d);
    let student = Tensor::<2>::from_floats([[0.0, ln3], [0.0, 0.0]], &d);
    let loss = floats(distillation_cross_entropy(student, teacher, 1.0))[0];
    assert!(close(loss, 0.765_067_7, 1e-5), "{loss}");
    // τ = 2 divides every logit by 2. Teacher (2 ln 3, 0) → P_T = (¾, ¼). Row 1: student
    // (0, 0) → ln 2 = 0.6931472. Row 2: student (0, 2 ln 3) → P_S = (¼, ¾):
    //   −(¾ ln ¼ + ¼ ln ¾) = 1.1116416. Mean 0.9023944.
    let teacher = Tensor::<2>::from_floats([[2.0 * ln3, 0.0], [2.0 * ln3, 0.0]], &d);
    let student = Tensor::<2>::from_floats([[0.0, 0.0], [0.0, 2.0 * ln3]], &d);
    let loss = floats(distillation_cross_entropy(student, teacher, 2.0))[0];
    assert!(close(loss, 0.902_394_4, 1e-5), "{loss}");
}

#[test]
fn counting_terms_by_hand() {
    // M = 10. Row 1: φ(D(x)) = (1, 2), tiles sum to (1, 0): ‖(0, 2)‖² = 4; the other image
    //   (4, 0) is ‖(3, 0)‖² = 9 away: max(0, 10 − 9) = 1.
    // Row 2: φ(D(x)) = (3, 3) = the tiles' sum: 0; the other image (0, 7) is 9 + 16 = 25 away
    //   from (3, 3): max(0, 10 − 25) = 0.
    // Means: equal (4 + 0)/2 = 2, contrast (1 + 0)/2 = 0.5.
    let d = cpu();
    let whole = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 3.0]], &d);
    let tile_sum = Tensor::<2>::from_floats([[1.0, 0.0], [3.0, 3.0]], &d);
    let other = Tensor::<2>::from_floats([[4.0, 0.0], [0.0, 7.0]], &d);
    let (equal, contrast) = ssl_playground::loss::pretext::counting(whole, tile_sum, other, 10.0);
    assert!(close(floats(equal)[0], 2.0, 1e-6));
    assert!(close(floats(contrast)[0], 0.5, 1e-6));
}

#[test]
fn weighted_cross_entropy_by_hand() {
    // Row 1: logits (0, 0), target 0: ln 2 = 0.6931472, weight 1.
    // Row 2: logits (0, ln 3), target 0: P = ¼, −ln ¼ = 1.3862944, weight 0.5.
    // (0.6931472 + 0.5 · 1.3862944) / 1.5 = 0.9241963. Weight 0 on row 2 gives ln 2.
    let d = cpu();
    let logits = Tensor::<2>::from_floats([[0.0, 0.0], [0.0, 3f32.ln()]], &d);
    let targets = Tensor::<1, Int>::from_ints([0, 0], &d);
    let w = Tensor::<1>::from_floats([1.0, 0.5], &d);
    let loss = floats(ssl_playground::loss::weighted_cross_entropy(logits.clone(), targets.clone(), w))[0];
    assert!(close(loss, 0.924_196_3, 1e-5), "{loss}");
    let only_first = floats(ssl_playground::loss::weighted_cross_entropy(logits, targets, Tensor::<1>::from_floats([1.0, 0.0], &d)))[0];
    assert!(close(only_first, 2f32.ln(), 1e-6), "{only_first}");
}

#[test]
fn rotation_ambiguity_by_hand() {
    // Two images, rows k·2 + i. Image 0: every copy confidently its own rotation, except the
    // 180° copy, whose logits (ln 3, 0, 0, 0) give "upright" 3/6 = 0.5. Image 1: its 90° copy
    // gives "upright" 1/4 (all logits 0), the others 0 → max 0.25. The upright copies
    // themselves (k = 0) do not count, however they are classified.
    let d = cpu();
    let sure = |k: usize| {
        let mut row = [-30.0f32; 4];
        row[k] = 0.0;
        row
    };
    let ln3 = 3f32.ln();
    let rows = [sure(1), sure(0), sure(1), [0.0, 0.0, 0.0, 0.0], [ln3, 0.0, 0.0, 0.0], sure(2), sure(3), sure(3)];
    let logits = Tensor::<2>::from_data(TensorData::new(rows.concat(), [8, 4]), &d);
    let a = floats(ssl_playground::methods::pretext::decoupled_rotnet::rotation_ambiguity(logits));
    assert!(close(a[0], 0.5, 1e-5) && close(a[1], 0.25, 1e-5), "{a:?}");
}

/// Π-model and Mean Teacher's consistency cost. Row 1: logits (0, ln 3) → probabilities
/// (1/4, 3/4) against the target (1/2, 1/2): squared differences 1/16 and 1/16. Row 2: (0, 0)
/// → (1/2, 1/2) against (1, 0): 1/4 and 1/4. Mean of the four: (1/8 + 1/2) / 4 = 0.15625.
#[test]
fn softmax_mse_by_hand() {
    let d = cpu();
    let student = Tensor::<2>::from_floats([[0.0, 3f32.ln()], [0.0, 0.0]], &d);
    let target = Tensor::<2>::from_floats([[0.5, 0.5], [1.0, 0.0]], &d);
    let loss = floats(softmax_mse(student, target))[0];
    assert!(close(loss, 0.15625, 1e-6), "{loss}");
}

/// The masked form: with row 2 masked out, row 1's 1/16 is averaged over both rows (1/32).
#[test]
fn masked_softmax_mse_by_hand() {
    let d = cpu();
    let student = Tensor::<2>::from_floats([[0.0, 3f32.ln()], [0.0, 0.0]], &d);
    let target = Tensor::<2>::from_floats([[0.5, 0.5], [1.0, 0.0]], &d);
    let loss = floats(masked_softmax_mse(student, target, Tensor::from_floats([1.0, 0.0], &d)))[0];
    assert!(close(loss, 1.0 / 32.0, 1e-6), "{loss}");
}

/// MixMatch's sharpening. (0.6, 0.4) at T = 0.5 squares each entry: (0.36, 0.16)/0.52 =
/// (0.6923077, 0.3076923). (0.2, 0.3, 0.5) at T = 1 is unchanged. A uniform row stays uniform
/// at any T.
#[test]
fn sharpen_by_hand() {
    let d = cpu();
    let halved = floats(sharpen(Tensor::<2>::from_floats([[0.6, 0.4]], &d), 0.5));
    assert!(close(halved[0], 0.692_307_7, 1e-6) && close(halved[1], 0.307_692_3, 1e-6), "{halved:?}");
    let same = floats(sharpen(Tensor::<2>::from_floats([[0.2, 0.3, 0.5]], &d), 1.0));
    assert!(same.iter().zip([0.2, 0.3, 0.5]).all(|(a, b)| close(*a, b, 1e-6)), "{same:?}");
    let uniform = floats(sharpen(Tensor::<2>::from_floats([[0.25; 4]], &d), 0.1));
    assert!(uniform.iter().all(|v| close(*v, 0.25, 1e-6)), "{uniform:?}");
}

/// Cross-entropy against soft targets. Row 1: logits (0, ln 3) → log-probabilities (ln ¼, ln ¾),
/// target (½, ½): −½(ln ¼ + ln ¾) = 0.8369882. Row 2: logits (0, 0), target (1, 0): ln 2 =
/// 0.6931472. Mean 0.7650677. With a one-hot target it is the ordinary cross-entropy.
#[test]
fn soft_cross_entropy_by_hand() {
    let d = cpu();
    let logits = Tensor::<2>::from_floats([[0.0, 3f32.ln()], [0.0, 0.0]], &d);
    let targets = Tensor::<2>::from_floats([[0.5, 0.5], [1.0, 0.0]], &d);
    let loss = floats(soft_cross_entropy(logits.clone(), targets))[0];
    assert!(close(loss, 0.765_067_7, 1e-6), "{loss}");
    let one_hot = floats(soft_cross_entropy(logits.clone(), Tensor::from_floats([[0.0, 1.0], [1.0, 0.0]], &d)))[0];
    let hard = floats(cross_entropy(logits, Tensor::from_ints([1, 0], &d)))[0];
    assert!(close(one_hot, hard, 1e-6), "{one_hot} vs {hard}");
}

/// UDA's masked KL. Row 1: target (½, ½) against (¼, ¾): ½ ln 2 + ½ ln(2/3) = 0.1438410.
/// Row 2: target (1, 0) against (½, ½): ln 2 (the 0 · log 0 term is 0) = 0.6931472. Mask
/// (1, 1): mean 0.4184941; mask (1, 0): row 1 over both rows, 0.0719205. VAT's unmasked KL
/// is the (1, 1) mean.
#[test]
fn masked_kl_divergence_by_hand() {
    let d = cpu();
    let logits = Tensor::<2>::from_floats([[0.0, 3f32.ln()], [0.0, 0.0]], &d);
    let targets = Tensor::<2>::from_floats([[0.5, 0.5], [1.0, 0.0]], &d);
    let both = floats(masked_kl_divergence(logits.clone(), targets.clone(), Tensor::from_floats([1.0, 1.0], &d)))[0];
    assert!(close(both, 0.418_494_1, 1e-6), "{both}");
    let unmasked = floats(kl_divergence(logits.clone(), targets.clone()))[0];
    assert!(close(unmasked, 0.418_494_1, 1e-6), "{unmasked}");
    let first = floats(masked_kl_divergence(logits, targets, Tensor::from_floats([1.0, 0.0], &d)))[0];
    assert!(close(first, 0.071_920_5, 1e-6), "{first}");
}

#[test]
fn dino_cross_entropy_with_centring_by_hand() {
    // K = 2, one image. Teacher (2 global views) t1 = (1, 0), t2 = (0, 1), centre c = (0.5, −0.5),
    // τ_t = 0.5: P_t1 = softmax((1, 1)) = (½, ½); P_t2 = softmax((−1, 3)) = (σ(−4), σ(4))
    // = (0.0179862, 0.9820138). Student (τ_s = 1) on global 1, global 2, one local:
    // s1 = (0, 0) → log P = (−ln 2, −ln 2); s2 = (1, 0) → (−0.3132617, −1.3132617); s3 = (0, 1)
    // → (−1.3132617, −0.3132617). Pairs i ≠ j:
    //   (t1, s2) = ½(0.3132617 + 1.3132617) = 0.8132617, (t1, s3) = 0.8132617,
    //   (t2, s1) = ln 2 = 0.6931472, (t2, s3) = 0.0179862·1.3132617 + 0.9820138·0.3132617 = 0.3312479.
    // Mean of the four: 0.6627296. With no centre, P_t2 = (σ(−2), σ(2)) and the mean is 0.6880338.
    let d = cpu();
    let row = |a: f32, b: f32| Tensor::<2>::from_floats([[a, b]], &d);
    let teacher = [row(1.0, 0.0), row(0.0, 1.0)];
    let student = [row(0.0, 0.0), row(1.0, 0.0), row(0.0, 1.0)];
    let centred = floats(dino_cross_entropy(&student, &teacher, row(0.5, -0.5), 1.0, 0.5))[0];
    assert!(close(centred, 0.662_729_6, 1e-5), "{centred}");
    let plain = floats(dino_cross_entropy(&student, &teacher, row(0.0, 0.0), 1.0, 0.5))[0];
    assert!(close(plain, 0.688_033_8, 1e-5), "{plain}");
    // A centre that is the same in every dimension changes nothing (softmax is shift-invariant).
    let uniform = floats(dino_cross_entropy(&student, &teacher, row(3.0, 3.0), 1.0, 0.5))[0];
    assert!(close(uniform, plain, 1e-5), "{uniform}");
}

#[test]
fn dino_centre_moves_towards_the_teachers_batch_mean() {
    // Teacher outputs (1, 0), (0, 1) in view 1 and (1, 1), (2, 0) in view 2: the mean over all
    // four rows is (1, 0.5). From c = (1, −1) with m = 0.9: 0.9·(1, −1) + 0.1·(1, 0.5) = (1, −0.85).
    let d = cpu();
    let teacher = [Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &d), Tensor::<2>::from_floats([[1.0, 1.0], [2.0, 0.0]], &d)];
    let c = floats(dino_centre(Tensor::from_floats([[1.0, -1.0]], &d), &teacher, 0.9));
    assert!(close(c[0], 1.0, 1e-6) && close(c[1], -0.85, 1e-6), "{c:?}");
}

/// An embedding wider than `MAX_RANK_DIM` (DINO's K = 1,024) has its effective rank read from
/// the Gram matrix of its rows: the same non-zero spectrum as the covariance. Here only the
/// first 40 of 600 dimensions vary, so the narrow copy's covariance must give the same rank.
/// The embedding is a sum of 12 rank-one parts of falling weight, so its rank is known to be
/// between 1 and 12, and the other eigenvalues are zero up to rounding.
#[test]
fn a_wide_embedding_has_the_same_effective_rank_through_its_gram_matrix() {
    use ssl_playground::eval::{collapse_stats, effective_rank, rank_limit, MAX_RANK_DIM};
    let (n, d, live, parts) = (300, 600, 40, 12);
    let values: Vec<f32> = (0..n * d)
        .map(|k| {
            let (i, j) = ((k / d) as f32, k % d);
            if j >= live {
                return 0.0;
            }
            (0..parts).map(|p| {
                let p = p as f32;
                0.8f32.powf(p) * (0.37 * (p + 1.0) * i + 1.3 * p).sin() * (0.91 * (p + 2.0) * j as f32 + 0.5 * p).cos()
            }).sum()
        })
        .collect();
    let z = Tensor::<2>::from_data(TensorData::new(values, [n, d]), &cpu());
    let (std_wide, gram) = collapse_stats(z.clone());
    let (std_narrow, cov) = collapse_stats(z.narrow(1, 0, live));
    assert_eq!(gram.dims(), [n, n], "the wide embedding gives its Gram matrix");
    assert_eq!(cov.dims(), [live, live], "the narrow one its covariance");
    let rank_wide = effective_rank(&floats(gram.reshape([-1])), n).unwrap();
    let rank_narrow = effective_rank(&floats(cov.reshape([-1])), live).unwrap();
    assert!((rank_wide - rank_narrow).abs() < 1e-3 * rank_narrow, "{rank_wide} vs {rank_narrow}");
    assert!(rank_narrow > 3.0 && rank_narrow < parts as f64, "{rank_narrow}");
    // The std is a mean over all D dimensions, so the 560 constant ones dilute it.
    let (std_wide, std_narrow) = (floats(std_wide)[0], floats(std_narrow)[0]);
    assert!(close(std_wide, std_narrow * live as f32 / d as f32, 1e-5), "{std_wide} vs {std_narrow}");
    // The Gram matrix of 512 centred rows has rank at most 511.
    assert_eq!(rank_limit(1000, 1024), MAX_RANK_DIM - 1);
    assert_eq!(rank_limit(64, 128), 63);
    assert_eq!(rank_limit(1000, 64), 64);
}

/// The embedding map's PCA by hand: points on a line along (1, 1, 0)/√2 with a small spread
/// along z project onto that line first (up to sign) and z second, centred.
#[test]
fn pca_2d_finds_the_principal_axes_by_hand() {
    use ssl_playground::eval::pca_2d;
    let d = cpu();
    // x_i = t_i·(1, 1, 0) + s_i·(0, 0, 1) + (5, −2, 1): t = ±2, ±1; s = ±0.1.
    let (t, s) = ([2.0f32, -2.0, 1.0, -1.0], [0.1f32, 0.1, -0.1, -0.1]);
    let rows: Vec<f32> = (0..4).flat_map(|i| [t[i] + 5.0, t[i] - 2.0, s[i] + 1.0]).collect();
    let xy = floats(pca_2d(Tensor::<2>::from_data(TensorData::new(rows, [4, 3]), &d), 100));
    let sign = (xy[0] / (2.0 * 2f32.sqrt())).signum();
    let sign_z = (xy[1] / 0.1).signum();
    for i in 0..4 {
        // On the first axis the point sits at t·√2 (|(1, 1, 0)·t| / |(1, 1, 0)/√2|), on the second at s.
        assert!(close(sign * xy[2 * i], t[i] * 2f32.sqrt(), 1e-4), "point {i}: {xy:?}");
        assert!(close(sign_z * xy[2 * i + 1], s[i], 1e-4), "point {i}: {xy:?}");
    }
}
