//! Contrastive and non-contrastive losses on embeddings.
//!
//! NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR
//! ([0] Chen et al. 2020, arXiv:2002.05709, eq. 1): for a positive pair (i, j) among 2N views,
//! ℓ(i,j) = −log( exp(sim(z_i,z_j)/τ) / Σ_{k≠i} exp(sim(z_i,z_k)/τ) ), averaged over all 2N anchors.
//! InfoNCE with a queue (MoCo), the negative cosine (BYOL), the Barlow Twins loss and DINO's
//! cross-entropy between centred, sharpened teacher outputs and the student's follow.
use super::l2_normalize;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};

/// `z1`, `z2`: `[N, D]` projections of two views of the same N images (row i ↔ row i).
pub fn nt_xent(z1: Tensor<2>, z2: Tensor<2>, temperature: f64) -> Tensor<1> {
    let [n, _] = z1.dims();
    let device = z1.device();
    let z = l2_normalize(Tensor::cat(vec![z1, z2], 0)); // [2N, D]
    let sim = z.clone().matmul(z.transpose()) / temperature; // [2N, 2N] cosine / τ
    // Exclude k = i by pushing the diagonal far below every other logit.
    let eye = Tensor::<2>::eye(2 * n, &device);
    let logits = sim - eye * 1e9;
    let log_prob = log_softmax(logits, 1); // [2N, 2N]
    // The positive of anchor i is i+N (first half) or i−N (second half).
    let positives: Vec<i64> = (0..2 * n as i64).map(|i| (i + n as i64) % (2 * n as i64)).collect();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(positives, [2 * n]), &device).reshape([2 * n, 1]);
    log_prob.gather(1, idx).mean().neg() // [1]
}

/// InfoNCE with a queue of negatives, MoCo's loss ([1] He et al. 2020, arXiv:1911.05722,
/// eq. 1): for query q and its positive key k⁺, −log( exp(q·k⁺/τ) / (exp(q·k⁺/τ) + Σ_queue exp(q·k/τ)) ),
/// averaged over the batch. `q`, `k`: `[B, D]` (normalised here); `queue`: `[K, D]` unit rows.
pub fn info_nce(q: Tensor<2>, k: Tensor<2>, queue: Tensor<2>, temperature: f64) -> Tensor<1> {
    let [b, _] = q.dims();
    let (q, k) = (l2_normalize(q), l2_normalize(k));
    let positive = (q.clone() * k).sum_dim(1); // [B, 1]
    let negatives = q.matmul(queue.transpose()); // [B, K]
    let logits = Tensor::cat(vec![positive, negatives], 1) / temperature; // [B, 1 + K]
    // The positive is column 0 of every row.
    log_softmax(logits, 1).narrow(1, 0, 1).reshape([b]).mean().neg()
}

/// BYOL's regression loss ([2] Grill et al. 2020, arXiv:2006.07733, eq. 2): the mean over rows
/// of ‖p̄ − z̄‖² = 2 − 2·cos(p, z), with p̄, z̄ the L2-normalised prediction and target.
pub fn neg_cosine(prediction: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
    let cos = (l2_normalize(prediction) * l2_normalize(target)).sum_dim(1); // [B, 1]
    cos.mean().mul_scalar(-2.0).add_scalar(2.0)
}

/// The Barlow Twins loss ([3] Zbontar et al. 2021, arXiv:2103.03230, eq. 1–2): with each
/// embedding dimension standardised over the batch, C = z̃₁ᵀz̃₂ / N is the `[D, D]`
/// cross-correlation; the loss is Σᵢ(1 − Cᵢᵢ)² + λ·Σᵢ≠ⱼ Cᵢⱼ². Returns (loss, on-diagonal
/// term, off-diagonal term before λ, C).
pub fn barlow_twins(z1: Tensor<2>, z2: Tensor<2>, lambda: f64) -> (Tensor<1>, Tensor<1>, Tensor<1>, Tensor<2>) {
    let [n, d] = z1.dims();
    let standardise = |z: Tensor<2>| {
        let centred = z.clone() - z.mean_dim(0); // [N, D]
        let std = centred.clone().square().mean_dim(0).add_scalar(1e-5).sqrt(); // [1, D], biased, as BatchNorm
        centred / std
    };
    let c = standardise(z1).transpose().matmul(standardise(z2)) / n as f64; // [D, D]
    let eye = Tensor::<2>::eye(d, &c.device());
    let on = (c.clone() * eye.clone()).sum_dim(1).reshape([d]).neg().add_scalar(1.0).square().sum(); // [1]
    let off = (c.clone() * (eye.neg().add_scalar(1.0))).square().sum(); // [1]
    (on.clone() + off.clone() * lambda, on, off, c)
}

/// NCE for instance discrimination ([4] Wu et al. 2018, arXiv:1805.01978, eq. 5–7, after
/// Gutmann & Hyvärinen 2010): with uniform noise over N items and m noise samples, an item's
/// probability is P = exp(s/τ)/Z and h = P / (P + m/N); the loss is
/// −log h(positive) − Σ_noise log(1 − h(noise)), averaged over the batch. Z ≈ N·mean exp(s/τ)
/// over this batch's noise (detached). `positive_sim` `[B, 1]`, `noise_sim` `[B, m]`: cosines.
pub fn nce(positive_sim: Tensor<2>, noise_sim: Tensor<2>, temperature: f64, n: usize) -> Tensor<1> {
    let m = noise_sim.dims()[1];
    let noise_exp = (noise_sim / temperature).exp(); // [B, m]
    let z = noise_exp.clone().mean().detach().mul_scalar(n as f64).reshape([1, 1]); // [1, 1]
    let positive = (positive_sim / temperature).exp() / z.clone(); // [B, 1]
    let noise = noise_exp / z; // [B, m]
    let noise_mass = m as f64 / n as f64;
    // log h for the positive; log(1 − h) = log((m/N) / (P + m/N)) for each noise sample.
    let log_h = (positive.clone() / (positive + noise_mass)).clamp_min(1e-12).log(); // [B, 1]
    let log_not_h = (noise + noise_mass).recip().mul_scalar(noise_mass).clamp_min(1e-12).log(); // [B, m]
    (log_h.sum_dim(1) + log_not_h.sum_dim(1)).mean().neg()
}

/// DINO's loss ([5] Caron et al. 2021, arXiv:2104.14294, Algorithm 1, eq. 2–3): the teacher's
/// output on global view i, centred and sharpened, P_t = softmax((t_i − c)/τ_t), is the target
/// for the student's P_s = softmax(s_j/τ_s) on every other view j; the loss is the mean of
/// −Σ_k P_t(k)·log P_s(k) over images and over all pairs i ≠ j. `teacher[i]` and `student[i]`
/// are the same global view, so those pairs are skipped; `student` holds the global views
/// first, then the local ones. Each `[B, K]`; `centre` `[1, K]`. No gradient reaches the teacher.
pub fn dino_cross_entropy(student: &[Tensor<2>], teacher: &[Tensor<2>], centre: Tensor<2>, student_temp: f64, teacher_temp: f64) -> Tensor<1> {
    let targets: Vec<Tensor<2>> = teacher.iter().map(|t| softmax((t.clone().detach() - centre.clone()) / teacher_temp, 1)).collect();
    let log_probs: Vec<Tensor<2>> = student.iter().map(|s| log_softmax(s.clone() / student_temp, 1)).collect();
    let mut terms = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        for (j, log_prob) in log_probs.iter().enumerate() {
            if i != j {
                terms.push((target.clone() * log_prob.clone()).sum_dim(1).mean().neg()); // [1]
            }
        }
    }
    assert!(!terms.is_empty(), "DINO needs at least two views");
    let pairs = terms.len() as f64;
    Tensor::cat(terms, 0).sum() / pairs
}

/// DINO's centre update (ibid., Algorithm 1): c ← m·c + (1 − m)·mean of the teacher's outputs
/// over every image of every global view. `teacher`: `[B, K]` each; returns `[1, K]`, detached.
pub fn dino_centre(centre: Tensor<2>, teacher: &[Tensor<2>], momentum: f64) -> Tensor<2> {
    let batch_mean = Tensor::cat(teacher.to_vec(), 0).detach().mean_dim(0); // [1, K]
    (centre * momentum + batch_mean * (1.0 - momentum)).detach()
}
