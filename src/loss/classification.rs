//! Classification losses shared by the pretext, supervised and semi-supervised methods.
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};

/// Mean cross-entropy of `logits` `[B, K]` against class indices `targets` `[B]`.
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let [b, _] = logits.dims();
    let log_p = log_softmax(logits, 1);
    log_p.gather(1, targets.reshape([b, 1])).mean().neg()
}

/// FixMatch's unsupervised term (Sohn et al. 2020, arXiv:2001.07685, eq. 4):
/// (1/B) Σ_b 1[max q_b ≥ τ] · H(argmax q_b, p_b). The mean runs over *all* rows, masked rows
/// contribute zero, so the term shrinks when few pseudo-labels pass the threshold.
/// `mask` is `[B]` of 0/1.
pub fn masked_cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>, mask: Tensor<1>) -> Tensor<1> {
    let [b, _] = logits.dims();
    let log_p = log_softmax(logits, 1);
    let nll = log_p.gather(1, targets.reshape([b, 1])).reshape([b]).neg(); // [B]
    (nll * mask).mean()
}

/// Cross-entropy weighted per row: Σ_b w_b · H(y_b, p_b) / Σ_b w_b, with `weights` `[B]`
/// (detached, ≥ 0). Normalised by the weights' sum, so the term keeps its scale when many
/// rows are down-weighted (Decoupled RotNet's rotation term, Feng et al. 2019, eq. 3).
pub fn weighted_cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>, weights: Tensor<1>) -> Tensor<1> {
    let [b, _] = logits.dims();
    let log_p = log_softmax(logits, 1);
    let nll = log_p.gather(1, targets.reshape([b, 1])).reshape([b]).neg(); // [B]
    (nll * weights.clone()).sum() / weights.sum().clamp_min(1e-8)
}

/// Mean Shannon entropy (nats) of the softmax of `logits` `[B, K]`.
pub fn entropy(logits: Tensor<2>) -> Tensor<1> {
    let p = softmax(logits.clone(), 1);
    let log_p = log_softmax(logits, 1);
    (p * log_p).sum_dim(1).mean().neg()
}

/// SimCLR v2's distillation loss (Chen et al. 2020, arXiv:2006.10029, eq. 2):
/// −(1/B) Σ_b Σ_k P_T(k | x_b; τ) · log P_S(k | x_b; τ), where P(k | x; τ) is the softmax of
/// the logits divided by τ. `teacher` `[B, K]` should be detached; `student` `[B, K]`.
pub fn distillation_cross_entropy(student: Tensor<2>, teacher: Tensor<2>, temperature: f64) -> Tensor<1> {
    let teacher_p = softmax(teacher / temperature, 1);
    let student_log_p = log_softmax(student / temperature, 1);
    (teacher_p * student_log_p).sum_dim(1).mean().neg()
}

/// The consistency cost of the Π-model and Mean Teacher (Laine & Aila 2017, arXiv:1610.02242;
/// Tarvainen & Valpola 2017, arXiv:1703.01780): the squared difference between the student's
/// class probabilities, softmax(`student` `[B, K]`), and the target's `target` `[B, K]`
/// (probabilities, detached), averaged over classes and rows, as USB computes it.
pub fn softmax_mse(student: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
    let diff = softmax(student, 1) - target;
    (diff.clone() * diff).mean()
}

/// [`softmax_mse`] over the rows where `mask` `[B]` is 1: rows without a target (Temporal
/// Ensembling's images not seen yet) count as 0, and the mean still runs over all B rows, as
/// [`masked_cross_entropy`]'s does.
pub fn masked_softmax_mse(student: Tensor<2>, target: Tensor<2>, mask: Tensor<1>) -> Tensor<1> {
    let [b, _] = student.dims();
    let diff = softmax(student, 1) - target;
    let per_row = (diff.clone() * diff).mean_dim(1).reshape([b]); // [B]
    (per_row * mask).mean()
}

/// Temperature sharpening of class distributions (MixMatch, Berthelot et al. 2019,
/// arXiv:1905.02249, eq. 7): p_k^{1/T} / Σ_j p_j^{1/T} for each row of `probs` `[B, K]`.
/// T < 1 pushes each row towards its argmax; T = 1 leaves it as it is.
pub fn sharpen(probs: Tensor<2>, temperature: f64) -> Tensor<2> {
    let powered = probs.clamp_min(1e-12).powf_scalar(1.0 / temperature);
    let sum = powered.clone().sum_dim(1); // [B, 1]
    powered / sum
}

/// Cross-entropy against soft targets: −(1/B) Σ_b Σ_k t_bk · log softmax(`logits`)_bk, with
/// `targets` `[B, K]` rows of probabilities (detached): MixMatch's labelled term on mixed labels.
pub fn soft_cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    (targets * log_softmax(logits, 1)).sum_dim(1).mean().neg()
}

/// KL(t_b ‖ softmax(`logits`)_b) per row, masked and averaged over all B rows as
/// [`masked_cross_entropy`] is: UDA's consistency term (Xie et al. 2020, arXiv:1904.12848,
/// eq. 1) with `targets` `[B, K]` the sharpened weak-view prediction (detached) and `mask`
/// `[B]` of 0/1 the rows confident enough to count.
pub fn masked_kl_divergence(logits: Tensor<2>, targets: Tensor<2>, mask: Tensor<1>) -> Tensor<1> {
    (kl_per_row(logits, targets) * mask).mean()
}

/// KL(t_b ‖ softmax(`logits`)_b) averaged over the B rows, for fixed `targets` `[B, K]`: VAT's
/// local distributional smoothness (Miyato et al. 2018, arXiv:1704.03976, eq. 2) with the
/// targets the clean prediction.
pub fn kl_divergence(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    kl_per_row(logits, targets).mean()
}

/// KL(t_b ‖ softmax(`logits`)_b) of each row `[B]`.
fn kl_per_row(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let [b, _] = logits.dims();
    // t · log t is 0 at t = 0; the clamp keeps log finite there.
    let target_log = targets.clone().clamp_min(1e-12).log();
    (targets * (target_log - log_softmax(logits, 1))).sum_dim(1).reshape([b]) // [B]
}
