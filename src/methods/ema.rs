//! Exponential moving averages of a module: the teacher (MoCo's key encoder, BYOL's target,
//! DINO's teacher, Mean Teacher) follows the student as teacher ← m·teacher + (1 − m)·student.
//!
//! [0] He et al. "Momentum Contrast for Unsupervised Visual Representation Learning", CVPR 2020,
//! arXiv:1911.05722: a constant m = 0.999. [1] Grill et al. "Bootstrap Your Own Latent", NeurIPS
//! 2020, arXiv:2006.07733, §3.2: "τ = 1 − (1 − τ_base)·(cos(πk/K) + 1)/2", from τ_base to 1.
//!
//! The teacher is a field of the method's model whose parameters carry no gradient, so the
//! optimizer never touches it and checkpoints, page snapshots and "Resume on CPU" carry it.
//! Every float tensor is blended, BatchNorm's running statistics included (lightly blends
//! parameters only and lets the teacher's own forward passes move its statistics; blending
//! them too keeps a teacher that never runs a forward, such as an evaluation copy, in step).
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// The momentum m of the EMA at each step: constant, or cosine-increased from `base` to 1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmaSchedule {
    /// m at step 0 (MoCo: 0.999; BYOL: 0.996; 0 makes the teacher a copy of the student).
    pub base: f64,
    /// Raise m to 1 along a half cosine over the run, as BYOL does.
    pub cosine: bool,
}

impl EmaSchedule {
    /// m after `step` of `total` steps (0-based).
    pub fn momentum(&self, step: usize, total: usize) -> f64 {
        if !self.cosine {
            return self.base;
        }
        let progress = step as f64 / total.max(1) as f64;
        1.0 - (1.0 - self.base) * ((std::f64::consts::PI * progress).cos() + 1.0) / 2.0
    }

    pub fn check(&self) -> Result<(), String> {
        crate::bounds::in_range_f("ema.base", self.base, 0.0, 1.0)
    }
}

/// Every float tensor of a module, flattened, in visit order.
struct Flatten(Vec<Tensor<1>>);
impl ModuleVisitor for Flatten {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().detach().reshape([-1])); // [numel]
    }
}

/// Replaces each float tensor of the teacher with the blend, in the same visit order.
struct Blend {
    student: std::vec::IntoIter<Tensor<1>>,
    momentum: f64,
}
impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let student = self.student.next().expect("teacher and student have the same layers");
        let m = self.momentum;
        param
            .map(|teacher| {
                let shape = teacher.shape();
                let blended = if m == 0.0 { student.reshape(shape) } else { teacher.detach() * m + student.reshape(shape) * (1.0 - m) };
                blended.detach()
            })
            .set_require_grad(false)
    }
}

/// teacher ← m·teacher + (1 − m)·student, for two modules of the same architecture. The
/// teacher keeps its own parameter ids and carries no gradient afterwards.
pub fn ema_update<M: Module>(teacher: M, student: &M, momentum: f64) -> M {
    let mut flat = Flatten(Vec::new());
    student.visit(&mut flat);
    teacher.map(&mut Blend { student: flat.0.into_iter(), momentum })
}

/// A teacher that starts as a copy of `student`: `fresh` is a newly built module of the same
/// architecture (so its parameter ids differ from the student's, which the optimizer's state
/// and checkpoints key on), overwritten with the student's values and frozen.
pub fn frozen_copy<M: Module>(fresh: M, student: &M) -> M {
    ema_update(fresh.no_grad(), student, 0.0)
}
