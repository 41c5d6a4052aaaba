//! Losses as pure functions of tensors. Each is tested against values worked out by hand.
pub mod classification;
pub mod contrastive;
pub mod pretext;

pub use classification::{cross_entropy, distillation_cross_entropy, entropy, kl_divergence, masked_cross_entropy, masked_kl_divergence, masked_softmax_mse, sharpen, soft_cross_entropy, softmax_mse, weighted_cross_entropy};
pub use contrastive::{barlow_twins, dino_centre, dino_cross_entropy, info_nce, nce, neg_cosine, nt_xent};

use burn::prelude::*;

/// Rows scaled to unit L2 norm (`eps` keeps an all-zero row finite).
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().square().sum_dim(1).sqrt().clamp_min(1e-8); // [B, 1]
    x / norm
}
