//! MixUp as MixMatch uses it.
//!
//! [0] Zhang et al. "mixup: Beyond Empirical Risk Minimization", ICLR 2018, arXiv:1710.09412.
//! [1] Berthelot et al. "MixMatch: A Holistic Approach to Semi-Supervised Learning", NeurIPS
//! 2019, arXiv:1905.02249, eq. 8–11: λ ~ Beta(α, α), λ' = max(λ, 1 − λ), and
//! x' = λ' x₁ + (1 − λ') x₂, p' = λ' p₁ + (1 − λ') p₂. Taking the larger weight keeps each
//! mixed image closer to its own original, so a labelled image stays mostly labelled.
use crate::rng::Rng;
use burn::prelude::*;

/// MixMatch's weights: `n` draws of max(λ, 1 − λ) with λ ~ Beta(`alpha`, `alpha`).
pub fn mixmatch_weights(n: usize, alpha: f32, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| rng.beta(alpha, alpha)).map(|l| l.max(1.0 - l)).collect()
}

/// Row i of `images` `[N, C, H, W]` and of `targets` `[N, K]` blended with row `partner[i]`:
/// `weights[i]` on row i and 1 − `weights[i]` on its partner.
pub fn mixup(images: Tensor<4>, targets: Tensor<2>, partner: &[usize], weights: &[f32]) -> (Tensor<4>, Tensor<2>) {
    let [n, k] = targets.dims();
    assert_eq!(partner.len(), n, "one partner per row");
    assert_eq!(weights.len(), n, "one weight per row");
    let device = images.device();
    let index = crate::methods::Batch::index_tensor(partner, &device);
    let w_img = super::ops::per_sample(weights.to_vec(), &device); // [N, 1, 1, 1]
    let w_tgt = Tensor::<2>::from_data(TensorData::new(weights.to_vec(), [n, 1]), &device); // [N, 1]
    let mixed_images = images.clone() * w_img.clone() + images.select(0, index.clone()) * (w_img.neg() + 1.0);
    let mixed_targets = targets.clone() * w_tgt.clone() + targets.select(0, index) * (w_tgt.neg() + 1.0);
    debug_assert_eq!(mixed_targets.dims(), [n, k]);
    (mixed_images, mixed_targets)
}
