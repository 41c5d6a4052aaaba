//! Feature memories that live in a method's model without gradient: a FIFO queue of keys
//! (MoCo) and a memory bank with one row per training image (NPID).
//!
//! [0] He et al. "Momentum Contrast for Unsupervised Visual Representation Learning", CVPR 2020,
//! arXiv:1911.05722, §3.2: "we maintain the dictionary as a queue of data samples: the encoded
//! representations of the current mini-batch are enqueued, and the oldest are dequeued".
//! [1] Wu et al. "Unsupervised Feature Learning via Non-Parametric Instance Discrimination",
//! CVPR 2018, arXiv:1805.01978, §3.1: a memory bank V = {v_j} updated as v_i ← f_i after each
//! visit (here with momentum, as in the authors' code).
//!
//! Both are parameters with `require_grad` off, so the optimizer skips them while checkpoints,
//! the page's snapshots and "Resume on CPU" carry them like any weight. Neither keeps a host
//! pointer: the queue shifts instead of wrapping, so nothing needs reading back to the host.
use crate::loss::l2_normalize;
use burn::module::Param;
use burn::prelude::*;
use burn::tensor::{Distribution, IndexingUpdateOp};

/// A fixed-size queue of L2-normalised features `[K, D]`, newest first.
#[derive(Module, Debug)]
pub struct Queue {
    pub keys: Param<Tensor<2>>,
}

fn frozen<const D: usize>(t: Tensor<D>) -> Param<Tensor<D>> {
    Param::from_tensor(t).set_require_grad(false)
}

impl Queue {
    /// `size` random unit vectors, as MoCo starts (random keys are uninformative negatives).
    pub fn new(size: usize, dim: usize, device: &Device) -> Self {
        let keys = l2_normalize(Tensor::random([size, dim], Distribution::Normal(0.0, 1.0), device));
        Queue { keys: frozen(keys) }
    }

    pub fn len(&self) -> usize {
        self.keys.val().dims()[0]
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The queued keys `[K, D]`, detached.
    pub fn keys(&self) -> Tensor<2> {
        self.keys.val().detach()
    }

    /// Enqueue `new` `[B, D]` (normalised here) at the front and drop the oldest B.
    pub fn enqueue(self, new: Tensor<2>) -> Self {
        let k = self.len();
        let b = new.dims()[0].min(k);
        let new = l2_normalize(new.detach()).narrow(0, 0, b);
        let keys = self.keys.map(|old| if b == k { new } else { Tensor::cat(vec![new, old.narrow(0, 0, k - b)], 0).detach() }); // [K, D]
        Queue { keys: keys.set_require_grad(false) }
    }
}

/// One L2-normalised feature per training image `[N, D]`, addressed by the batch's indices.
#[derive(Module, Debug)]
pub struct MemoryBank {
    pub features: Param<Tensor<2>>,
}

impl MemoryBank {
    /// Random unit vectors (NPID initialises its bank at random too).
    pub fn new(n: usize, dim: usize, device: &Device) -> Self {
        MemoryBank { features: frozen(l2_normalize(Tensor::random([n, dim], Distribution::Normal(0.0, 1.0), device))) }
    }

    /// A bank holding `features` `[N, D]` (normalised here).
    pub fn from_features(features: Tensor<2>) -> Self {
        MemoryBank { features: frozen(l2_normalize(features.detach())) }
    }

    /// All rows `[N, D]`, detached.
    pub fn all(&self) -> Tensor<2> {
        self.features.val().detach()
    }

    /// The rows at `index` `[B]` → `[B, D]`, detached.
    pub fn rows(&self, index: Tensor<1, Int>) -> Tensor<2> {
        self.all().select(0, index)
    }

    /// v_i ← normalise(m·v_i + (1 − m)·f_i) for each row i in `index`. An index that appears
    /// twice in one batch adds both changes (batches repeat an image only across an epoch
    /// boundary).
    pub fn update(self, index: Tensor<1, Int>, new: Tensor<2>, momentum: f64) -> Self {
        let old = self.rows(index.clone()); // [B, D]
        let blended = l2_normalize(old.clone() * momentum + l2_normalize(new.detach()) * (1.0 - momentum));
        let features = self.features.map(|bank| bank.detach().select_assign(0, index, blended - old, IndexingUpdateOp::Add).detach());
        MemoryBank { features: features.set_require_grad(false) }
    }
}

/// One running number per training image `[N]`, addressed by the batch's indices: Decoupled
/// RotNet's per-image weight. Unlike [`MemoryBank`] rows, values are blended, not normalised.
#[derive(Module, Debug)]
pub struct PerSample {
    pub values: Param<Tensor<1>>,
}

impl PerSample {
    /// `n` values, all `init`.
    pub fn new(n: usize, init: f32, device: &Device) -> Self {
        PerSample { values: frozen(Tensor::full([n], init, device)) }
    }

    /// All values `[N]`, detached.
    pub fn all(&self) -> Tensor<1> {
        self.values.val().detach()
    }

    /// The values at `index` `[B]` → `[B]`, detached.
    pub fn rows(&self, index: Tensor<1, Int>) -> Tensor<1> {
        self.all().select(0, index)
    }

    /// u_i ← m·u_i + (1 − m)·x_i for each i in `index` (`new` `[B]`).
    pub fn update(self, index: Tensor<1, Int>, new: Tensor<1>, momentum: f64) -> Self {
        let old = self.rows(index.clone());
        let step = (new.detach() - old) * (1.0 - momentum); // [B]
        let values = self.values.map(|v| v.detach().select_assign(0, index, step, IndexingUpdateOp::Add).detach());
        PerSample { values: values.set_require_grad(false) }
    }
}

/// One running vector per training image `[N, K]`, blended like [`PerSample`]'s numbers, not
/// normalised: Temporal Ensembling's ensemble of past class probabilities.
#[derive(Module, Debug)]
pub struct PerSampleRows {
    pub values: Param<Tensor<2>>,
}

impl PerSampleRows {
    /// `n` rows of `k` zeros.
    pub fn zeros(n: usize, k: usize, device: &Device) -> Self {
        PerSampleRows { values: frozen(Tensor::zeros([n, k], device)) }
    }

    /// The rows at `index` `[B]` → `[B, K]`, detached.
    pub fn rows(&self, index: Tensor<1, Int>) -> Tensor<2> {
        self.values.val().detach().select(0, index)
    }

    /// r_i ← m·r_i + (1 − m)·x_i for each row i in `index` (`new` `[B, K]`).
    pub fn update(self, index: Tensor<1, Int>, new: Tensor<2>, momentum: f64) -> Self {
        let old = self.rows(index.clone());
        let step = (new.detach() - old) * (1.0 - momentum); // [B, K]
        let values = self.values.map(|v| v.detach().select_assign(0, index, step, IndexingUpdateOp::Add).detach());
        PerSampleRows { values: values.set_require_grad(false) }
    }
}
