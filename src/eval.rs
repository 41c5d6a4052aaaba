//! Evaluation on frozen backbone features, all on the device: weighted kNN (InstDisc),
//! top-k retrieval, a linear probe and PCA to 2-D.
//!
//! [0] Wu, Xiong, Yu, Lin. "Unsupervised Feature Learning via Non-Parametric Instance
//! Discrimination", CVPR 2018, arXiv:1805.01978, §3.4: the top-k neighbours by cosine
//! similarity s_i vote for their class with weight exp(s_i / τ).
use crate::backbone::Backbone;
use crate::loss::{cross_entropy, l2_normalize};
use burn::nn::LinearConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;

/// Queries per chunk when comparing against the bank; bounds the `[Q, N]` similarity block.
const QUERY_CHUNK: usize = 256;
/// Largest matrix whose spectrum [`effective_rank`] computes on the host (about 0.1 s at
/// 512). A wider embedding's rank is read from the Gram matrix of this many of its rows,
/// see [`collapse_stats`].
pub const MAX_RANK_DIM: usize = 512;
/// Images per forward pass when embedding a split.
pub const EMBED_CHUNK: usize = 500;

/// `f` over `images` `[N, C, H, W]` in chunks of `chunk` images, the `[n_i, K]` outputs
/// concatenated in order: one forward pass never holds more than a chunk's activations.
pub fn in_chunks(images: &Tensor<4>, chunk: usize, mut f: impl FnMut(Tensor<4>) -> Tensor<2>) -> Tensor<2> {
    let n = images.dims()[0];
    Tensor::cat((0..n).step_by(chunk).map(|s| f(images.clone().narrow(0, s, chunk.min(n - s)))).collect(), 0)
}

/// L2-normalised pooled features of every backbone stage, `[N, D_i]` each.
pub fn embed_stages(backbone: &Backbone, images: &Tensor<4>) -> Vec<Tensor<2>> {
    let n = images.dims()[0];
    let mut per_stage: Vec<Vec<Tensor<2>>> = Vec::new();
    let mut start = 0;
    while start < n {
        let len = EMBED_CHUNK.min(n - start);
        let stages = backbone.pooled_stages(images.clone().narrow(0, start, len));
        if per_stage.is_empty() {
            per_stage = vec![Vec::new(); stages.len()];
        }
        for (acc, s) in per_stage.iter_mut().zip(stages) {
            acc.push(s);
        }
        start += len;
    }
    per_stage.into_iter().map(|chunks| l2_normalize(Tensor::cat(chunks, 0))).collect()
}

/// The last block's attention from the CLS token to every patch, renormalised over the
/// patches (the CLS token's attention to itself left out), `[N, heads, rows·cols]`, with the
/// patch grid; `None` for a backbone without attention. DINO's paper draws these maps
/// (Caron et al. 2021, Fig. 1 and 3).
pub fn cls_attention(backbone: &Backbone, images: Tensor<4>) -> Option<(Tensor<3>, (usize, usize))> {
    let Backbone::VitTiny(vit) = backbone else { return None };
    let (attention, grid) = vit.last_attention(images); // [N, H, T, T]
    let [n, h, t, _] = attention.dims();
    let to_patches = attention.narrow(2, 0, 1).narrow(3, 1, t - 1).reshape([n, h, t - 1]); // CLS row, patch columns
    let total = to_patches.clone().sum_dim(2).clamp_min(1e-12); // [N, H, 1]
    Some((to_patches / total, grid))
}

/// Entropy in nats of each attention distribution `[N, H, P]` (rows summing to 1), `[N, H]`:
/// ln P for uniform attention, lower as it concentrates.
pub fn attention_entropy(attention: Tensor<3>) -> Tensor<2> {
    let [n, h, _] = attention.dims();
    (attention.clone() * attention.clamp_min(1e-12).log()).sum_dim(2).neg().reshape([n, h])
}

/// Final-stage features only (normalised), `[N, D]`.
pub fn embed(backbone: &Backbone, images: &Tensor<4>) -> Tensor<2> {
    l2_normalize(in_chunks(images, EMBED_CHUNK, |x| backbone.forward(x)))
}

/// Weighted kNN predictions `[Q]` for normalised `queries` `[Q, D]` against a normalised
/// `bank` `[N, D]` with labels `[N]`.
pub fn knn_predict(bank: &Tensor<2>, bank_labels: &Tensor<1, Int>, queries: &Tensor<2>, n_classes: usize, k: usize, temperature: f64) -> Tensor<1, Int> {
    let [q, _] = queries.dims();
    let k = k.min(bank.dims()[0]);
    let bank_t = bank.clone().transpose(); // [D, N]
    let mut preds = Vec::new();
    for start in (0..q).step_by(QUERY_CHUNK) {
        let len = QUERY_CHUNK.min(q - start);
        let sim = queries.clone().narrow(0, start, len).matmul(bank_t.clone()); // [Qc, N]
        let (top_sim, top_idx) = sim.topk_with_indices(k, 1); // [Qc, k] each
        let labels = bank_labels.clone().select(0, top_idx.reshape([len * k])).reshape([len, k]);
        // exp(s/τ) overflows f32 once s/τ > 88 (τ = 1e-4 did, and every vote became NaN);
        // exp((s − s_max)/τ) has the same ratios and tops out at 1. topk sorts, so column 0
        // holds each query's s_max.
        let top_first = top_sim.clone().narrow(1, 0, 1); // [Qc, 1]
        let weights = ((top_sim - top_first) / temperature).exp(); // [Qc, k]
        let votes = one_hot(labels, n_classes) * weights.unsqueeze_dim::<3>(2); // [Qc, k, K]
        preds.push(votes.sum_dim(1).reshape([len, n_classes]).argmax(1).reshape([len]));
    }
    Tensor::cat(preds, 0)
}

/// One-hot `[A, B, K]` of labels `[A, B]`. Not `Tensor::one_hot`: its range check reads the
/// tensor synchronously, which panics on WebGPU in a browser.
fn one_hot(labels: Tensor<2, Int>, n_classes: usize) -> Tensor<3> {
    let [a, b] = labels.dims();
    let classes = Tensor::<1, Int>::arange(0..n_classes as i64, &labels.device()).reshape([1, 1, n_classes]).expand([a, b, n_classes]);
    labels.unsqueeze_dim::<3>(2).expand([a, b, n_classes]).equal(classes).float()
}

/// One-hot rows `[N, K]` of labels `[N]`, safe on the web path (see [`one_hot`]).
pub fn one_hot_rows(labels: Tensor<1, Int>, n_classes: usize) -> Tensor<2> {
    let [n] = labels.dims();
    one_hot(labels.reshape([1, n]), n_classes).reshape([n, n_classes])
}

/// Fraction of `preds == labels`, as `[1]`.
pub fn agreement(preds: Tensor<1, Int>, labels: Tensor<1, Int>) -> Tensor<1> {
    preds.equal(labels).float().mean()
}

/// Counts of (true class, predicted class) pairs, `[K, K]` with rows the true class:
/// one-hot(labels)ᵀ · one-hot(preds).
pub fn confusion(preds: Tensor<1, Int>, labels: Tensor<1, Int>, n_classes: usize) -> Tensor<2> {
    one_hot_rows(labels, n_classes).transpose().matmul(one_hot_rows(preds, n_classes))
}

/// Top-k most similar bank rows to one normalised query `[1, D]`: (indices, cosine).
pub fn nearest(bank: &Tensor<2>, query: Tensor<2>, k: usize) -> (Tensor<1, Int>, Tensor<1>) {
    let k = k.min(bank.dims()[0]);
    let sim = query.matmul(bank.clone().transpose()); // [1, N]
    let (top_sim, top_idx) = sim.topk_with_indices(k, 1);
    (top_idx.reshape([k]), top_sim.reshape([k]))
}

/// Linear probe: logistic regression on frozen features, full-batch Adam for `epochs`, then
/// test accuracy `[1]`. Features come in on the plain device; the probe trains on `ad`.
pub fn linear_probe(train: Tensor<2>, train_labels: Tensor<1, Int>, test: Tensor<2>, test_labels: Tensor<1, Int>, n_classes: usize, epochs: usize, ad: &Device) -> Tensor<1> {
    let d = train.dims()[1];
    let mut probe = LinearConfig::new(d, n_classes).init(ad);
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let (x, y) = (train.autodiff(), train_labels.autodiff());
    for _ in 0..epochs {
        let loss = cross_entropy(probe.forward(x.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &probe);
        probe = optim.step(0.01, probe, grads);
    }
    let probe = probe.valid();
    let preds = probe.forward(test).argmax(1);
    let n = preds.dims()[0];
    agreement(preds.reshape([n]), test_labels)
}

/// Project `x` `[N, D]` onto its top two principal components, `[N, 2]` (power iteration
/// with deflation on the D×D covariance; D ≤ 512 here, so this is cheap on any device).
pub fn pca_2d(x: Tensor<2>, iterations: usize) -> Tensor<2> {
    let [n, d] = x.dims();
    let device = x.device();
    let centred = x.clone() - x.mean_dim(0); // [N, D]
    let mut cov = centred.clone().transpose().matmul(centred.clone()) / (n.max(2) - 1) as f64; // [D, D]
    let mut components = Vec::with_capacity(2);
    for c in 0..2 {
        // Deterministic, non-degenerate start: 1, 1/2, 1/3, … alternating in sign per component.
        let start: Vec<f32> = (0..d).map(|i| (if (i + c) % 2 == 0 { 1.0 } else { -1.0 }) / (i + 1) as f32).collect();
        let mut v = Tensor::<2>::from_data(TensorData::new(start, [d, 1]), &device);
        for _ in 0..iterations {
            let w = cov.clone().matmul(v);
            v = w.clone() / w.square().sum().sqrt().clamp_min(1e-12).reshape([1, 1]);
        }
        // Deflate: cov −= λ v vᵀ with λ = vᵀ cov v.
        let lambda = v.clone().transpose().matmul(cov.clone().matmul(v.clone())); // [1, 1]
        cov = cov - v.clone().matmul(v.clone().transpose()) * lambda;
        components.push(v);
    }
    centred.matmul(Tensor::cat(components, 1)) // [N, 2]
}

/// Collapse diagnostics of L2-normalised embeddings `z` `[N, D]`: the mean over dimensions of
/// each dimension's standard deviation, `[1]`, and a symmetric matrix `[R, R]` with the
/// embedding's covariance spectrum, for [`effective_rank`] (read it back on the host):
/// - D ≤ [`MAX_RANK_DIM`]: the covariance `[D, D]`;
/// - wider (DINO's K = 1,024 outputs): the Gram matrix `Z_c Z_cᵀ / (S − 1)` of the first
///   S = min(N, `MAX_RANK_DIM`) rows, centred on their own mean. It has the same non-zero
///   eigenvalues as those rows' covariance, at a fraction of the cost.
///
/// The rank can reach at most `min(D, rows − 1)`: see [`rank_limit`].
///
/// [1] Chen & He. "Exploring Simple Siamese Representation Learning", CVPR 2021,
/// arXiv:2011.10566, §4.1: for unit vectors spread evenly the std is about 1/√D; a collapsed
/// embedding has std 0.
pub fn collapse_stats(z: Tensor<2>) -> (Tensor<1>, Tensor<2>) {
    let [n, d] = z.dims();
    let centred = z.clone() - z.clone().mean_dim(0); // [N, D]
    let variance = centred.clone().square().sum_dim(0) / (n.max(2) - 1) as f64; // [1, D]
    let std = variance.clamp_min(0.0).sqrt().mean().reshape([1]); // [1]
    if d <= MAX_RANK_DIM {
        let cov = centred.clone().transpose().matmul(centred) / (n.max(2) - 1) as f64; // [D, D]
        return (std, cov);
    }
    let s = n.min(MAX_RANK_DIM);
    let rows = z.narrow(0, 0, s);
    let rows = rows.clone() - rows.mean_dim(0); // [S, D]
    let gram = rows.clone().matmul(rows.transpose()) / (s.max(2) - 1) as f64; // [S, S]
    (std, gram)
}

/// The largest effective rank [`collapse_stats`] can show for `n` embeddings of width `d`:
/// `min(d, rows − 1)` (at least 1), where `rows` are the rows its matrix is built from, all
/// `n` for the covariance and at most [`MAX_RANK_DIM`] for the Gram matrix, less one for the
/// centring. The page scales the rank by it.
pub fn rank_limit(n: usize, d: usize) -> usize {
    let rows = if d <= MAX_RANK_DIM { n } else { n.min(MAX_RANK_DIM) };
    d.min(rows.saturating_sub(1)).max(1)
}

/// The effective rank of an embedding from a symmetric matrix `[R, R]` (row-major, host
/// values) with its covariance spectrum: exp of the entropy of its normalised singular values
/// (Roy & Vetterli, "The effective rank: a measure of effective dimensionality", EUSIPCO
/// 2007; RankMe, Garrido et al. 2023, uses it for self-supervised embeddings). 1 for a
/// collapsed embedding, R for a perfectly spread one. `None` above [`MAX_RANK_DIM`].
pub fn effective_rank(matrix: &[f32], r: usize) -> Option<f64> {
    if r == 0 || r > MAX_RANK_DIM || matrix.len() != r * r {
        return None;
    }
    let eigenvalues = symmetric_eigenvalues(matrix.iter().map(|&v| v as f64).collect(), r);
    // The matrix was summed in f32, so eigenvalues below r·ε·λ_max are rounding, not spread
    // (the usual numerical-rank tolerance); their square roots would add up to a spurious rank.
    let largest = eigenvalues.iter().copied().fold(0.0, f64::max);
    let floor = largest * r as f64 * f32::EPSILON as f64;
    // Singular values of the centred embedding are √(eigenvalues of its covariance).
    let sigma: Vec<f64> = eigenvalues.iter().map(|&l| if l > floor { l.sqrt() } else { 0.0 }).collect();
    let total: f64 = sigma.iter().sum();
    if total <= 0.0 {
        return Some(1.0);
    }
    let entropy: f64 = sigma.iter().map(|s| s / total).filter(|&p| p > 0.0).map(|p| -p * p.ln()).sum();
    Some(entropy.exp())
}

/// The eigenvalues of a symmetric matrix `a` `[r, r]` (row-major), in no set order.
///
/// Householder reflections bring it to tridiagonal form (about r³ multiply-adds, along rows);
/// each eigenvalue of the tridiagonal matrix is then found by bisection on its Sturm count
/// (the number of negative pivots of `T − xI`). Golub & Van Loan, "Matrix Computations",
/// §8.3.1 and §8.4.1. This replaced cyclic Jacobi sweeps, which took seconds at r = 512.
fn symmetric_eigenvalues(mut a: Vec<f64>, r: usize) -> Vec<f64> {
    let mut v = vec![0.0; r];
    let mut p = vec![0.0; r];
    for k in 0..r.saturating_sub(2) {
        // The reflection H = I − 2vvᵀ maps column k below the diagonal onto its first entry.
        let below = k + 1;
        let norm = (below..r).map(|i| a[i * r + k].powi(2)).sum::<f64>().sqrt();
        if norm == 0.0 {
            continue;
        }
        let x0 = a[below * r + k];
        let alpha = if x0 > 0.0 { -norm } else { norm };
        for i in below..r {
            v[i] = a[i * r + k];
        }
        v[below] -= alpha;
        let v_norm = (below..r).map(|i| v[i] * v[i]).sum::<f64>().sqrt();
        if v_norm == 0.0 {
            continue;
        }
        for i in below..r {
            v[i] /= v_norm;
        }
        // HAH = A − 2vwᵀ − 2wvᵀ on the trailing block, with p = Av and w = p − (vᵀp)v.
        for i in below..r {
            p[i] = (below..r).map(|j| a[i * r + j] * v[j]).sum();
        }
        let vp: f64 = (below..r).map(|i| v[i] * p[i]).sum();
        for i in below..r {
            p[i] -= vp * v[i];
        }
        for i in below..r {
            for j in below..r {
                a[i * r + j] -= 2.0 * (v[i] * p[j] + p[i] * v[j]);
            }
        }
        a[below * r + k] = alpha;
        a[k * r + below] = alpha;
        for i in below + 1..r {
            a[i * r + k] = 0.0;
            a[k * r + i] = 0.0;
        }
    }
    let diag: Vec<f64> = (0..r).map(|i| a[i * r + i]).collect();
    let off_sq: Vec<f64> = (0..r.saturating_sub(1)).map(|i| a[(i + 1) * r + i].powi(2)).collect();
    // Gershgorin's discs bound every eigenvalue.
    let radius = |i: usize| (if i > 0 { off_sq[i - 1].sqrt() } else { 0.0 }) + (if i + 1 < r { off_sq[i].sqrt() } else { 0.0 });
    let lo = (0..r).map(|i| diag[i] - radius(i)).fold(f64::INFINITY, f64::min);
    let hi = (0..r).map(|i| diag[i] + radius(i)).fold(f64::NEG_INFINITY, f64::max);
    let width = (hi - lo).max(f64::MIN_POSITIVE);
    // Eigenvalues of T below x: the negative pivots of the LDLᵀ factorisation of T − xI.
    let below_count = |x: f64| {
        let mut count = 0;
        let mut pivot = 1.0;
        for i in 0..r {
            let coupling = if i > 0 { off_sq[i - 1] / pivot } else { 0.0 };
            pivot = diag[i] - x - coupling;
            if pivot == 0.0 {
                pivot = -1e-300 * width; // a zero pivot counts as just below x
            }
            if pivot < 0.0 {
                count += 1;
            }
        }
        count
    };
    (0..r)
        .map(|index| {
            // The (index+1)-th smallest: the least x with more than `index` eigenvalues below it.
            let (mut low, mut high) = (lo - 1e-9 * width, hi + 1e-9 * width);
            for _ in 0..64 {
                let mid = 0.5 * (low + high);
                if mid <= low || mid >= high {
                    break;
                }
                if below_count(mid) > index {
                    high = mid;
                } else {
                    low = mid;
                }
            }
            0.5 * (low + high)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{effective_rank, symmetric_eigenvalues};

    #[test]
    fn effective_rank_by_hand() {
        // diag(4, 4, 0): singular values 2, 2, 0 → p = (½, ½) → exp(ln 2) = 2.
        let r = effective_rank(&[4.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0], 3).unwrap();
        assert!((r - 2.0).abs() < 1e-9, "{r}");
        // A rotated copy of the same spectrum gives the same rank: [[2, 2], [2, 2]] has
        // eigenvalues 4 and 0 → rank 1; [[2, 1], [1, 2]] has 3 and 1 → σ = √3, 1.
        let r = effective_rank(&[2.0, 2.0, 2.0, 2.0], 2).unwrap();
        assert!((r - 1.0).abs() < 1e-6, "{r}");
        let (s1, s2) = (3f64.sqrt(), 1.0);
        let (p1, p2) = (s1 / (s1 + s2), s2 / (s1 + s2));
        let want = (-(p1 * p1.ln()) - p2 * p2.ln()).exp();
        let r = effective_rank(&[2.0, 1.0, 1.0, 2.0], 2).unwrap();
        assert!((r - want).abs() < 1e-6, "{r} vs {want}");
    }

    /// A dense symmetric matrix with a known spectrum: diag(λ) turned by a chain of Givens
    /// rotations, Q diag(λ) Qᵀ. Repeated and zero eigenvalues included.
    #[test]
    fn eigenvalues_of_a_rotated_diagonal() {
        let r = 40;
        let want: Vec<f64> = (0..r).map(|i| if i < 5 { 0.0 } else if i < 9 { 2.5 } else { (i * i) as f64 / 7.0 }).collect();
        let mut a = vec![0.0; r * r];
        for i in 0..r {
            a[i * r + i] = want[i];
        }
        // Rotate rows and columns (p, q) by θ: A ← G A Gᵀ keeps the spectrum.
        for step in 0..3 * r {
            let (p, q) = (step % r, (step * 7 + 3) % r);
            if p == q {
                continue;
            }
            let theta = 0.3 + step as f64 * 0.77;
            let (c, s) = (theta.cos(), theta.sin());
            for k in 0..r {
                let (x, y) = (a[p * r + k], a[q * r + k]);
                a[p * r + k] = c * x - s * y;
                a[q * r + k] = s * x + c * y;
            }
            for k in 0..r {
                let (x, y) = (a[k * r + p], a[k * r + q]);
                a[k * r + p] = c * x - s * y;
                a[k * r + q] = s * x + c * y;
            }
        }
        let off: f64 = (0..r * r).filter(|k| k / r != k % r).map(|k| a[k] * a[k]).sum();
        let all: f64 = a.iter().map(|v| v * v).sum();
        assert!(off > 0.1 * all, "the rotations left the matrix nearly diagonal: {off} of {all}");
        let mut got = symmetric_eigenvalues(a, r);
        got.sort_by(f64::total_cmp);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-9 * want[r - 1], "{got:?}\nvs {want:?}");
        }
    }
}
