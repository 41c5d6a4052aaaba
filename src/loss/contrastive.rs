//! NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR
//! ([0] Chen et al. 2020, arXiv:2002.05709, eq. 1): for a positive pair (i, j) among 2N views,
//! ℓ(i,j) = −log( exp(sim(z_i,z_j)/τ) / Σ_{k≠i} exp(sim(z_i,z_k)/τ) ), averaged over all 2N anchors.
use super::l2_normalize;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

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
