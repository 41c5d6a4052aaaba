//! Losses of pretext tasks that are not a plain classification.
use burn::prelude::*;

/// Counting's two terms ([0] Noroozi, Pirsiavash, Favaro, "Representation Learning by
/// Learning to Count", ICCV 2017, arXiv:1708.06734, eq. 5), each averaged over the batch:
/// - `equal` = ‖φ(D(x)) − Σ_j φ(T_j(x))‖²: the counts of the downsampled image equal the
///   sum of its tiles' counts;
/// - `contrast` = max(0, M − ‖φ(D(y)) − Σ_j φ(T_j(x))‖²): another image y's counts differ
///   from them by at least M, which rules out φ = 0.
///
/// `whole` `[B, K]` is φ(D(x)), `tile_sum` `[B, K]` is Σ_j φ(T_j(x)), `other` `[B, K]` is
/// φ(D(y)) for a different image y in each row.
pub fn counting(whole: Tensor<2>, tile_sum: Tensor<2>, other: Tensor<2>, margin: f64) -> (Tensor<1>, Tensor<1>) {
    let [b, _] = whole.dims();
    let equal = (whole - tile_sum.clone()).square().sum_dim(1).reshape([b]); // [B]
    let apart = (other - tile_sum).square().sum_dim(1).reshape([b]); // [B]
    let contrast = (apart.neg() + margin).clamp_min(0.0);
    (equal.mean(), contrast.mean())
}
