//! SimCLR: two augmented views per image, an MLP projector, and the NT-Xent loss.
//!
//! [0] Chen, Kornblith, Norouzi, Hinton. "A Simple Framework for Contrastive Learning of
//! Visual Representations", ICML 2020, arXiv:2002.05709. "SimCLR learns representations by
//! maximizing agreement between differently augmented views of the same data example via a
//! contrastive loss in the latent space."
use super::super::{Curve, Family, MethodMeta, Batch, Footprint, Losses, Method, Setup, StepCtx};
use crate::heads::MAX_HEAD_WIDTH;
use crate::bounds::in_range;
use crate::augment::SimclrViews;
use crate::backbone::Backbone;
use crate::heads::Mlp;
use crate::loss::{l2_normalize, nt_xent};
use crate::rng::Rng;
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct SimclrConfig {
    /// τ in NT-Xent. The paper uses 0.5 on CIFAR-10 and 0.1 on ImageNet (Table 5 compares
    /// 0.05–1.0). With batches of 64 on Fashion-MNIST, 0.2 gave the best kNN in our runs.
    #[config(default = 0.2)]
    pub temperature: f64,
    /// Projector hidden width (paper: 2048 on ResNet-50's 2048-d features; we keep it equal
    /// to the backbone width, so 0 means "same as the backbone"). Range 0..=4096.
    #[config(default = 0)]
    pub projector_hidden: usize,
    /// Projection size (paper: 128). Range 1..=4096.
    #[config(default = 64)]
    pub projector_out: usize,
    #[config(default = "SimclrViews::default()")]
    pub views: SimclrViews,
}

impl Default for SimclrConfig {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Module, Debug)]
pub struct SimclrModel {
    pub backbone: Backbone,
    pub projector: Mlp,
}

pub struct Simclr {
    config: SimclrConfig,
}

/// NT-Xent of the projections `z` `[2N, P]` of two views stacked (view 1 rows first), with the
/// mean cosine of positive pairs and of all cross-image pairs as diagnostics. SimCLR v2's
/// pretraining uses it too.
pub fn nt_xent_losses(z: Tensor<2>, n: usize, temperature: f64) -> Losses {
    let (z1, z2) = (z.clone().narrow(0, 0, n), z.narrow(0, n, n));
    let (u1, u2) = (l2_normalize(z1.clone().detach()), l2_normalize(z2.clone().detach()));
    let cos = u1.matmul(u2.transpose()); // [N, N]
    let positive = cos.clone().mul(Tensor::eye(n, &cos.device())).sum() / n as f64;
    let negative = (cos.sum() - positive.clone() * n as f64) / ((n * n - n).max(1) as f64);
    Losses::new(nt_xent(z1, z2, temperature)).with("positive_sim", positive).with("negative_sim", negative)
}

impl Method for Simclr {
    const META: MethodMeta = MethodMeta {
        id: "simclr",
        family: Family::Contrastive,
        name: "SimCLR",
        paper: "Chen, Kornblith, Norouzi, Hinton. A Simple Framework for Contrastive Learning of Visual Representations. ICML 2020",
        link: "https://arxiv.org/abs/2002.05709",
        explanation: "Each image is augmented twice (crop, flip, colour jitter). A projection head maps both views to a \
                    vector, and the NT-Xent loss pulls the two views of the same image together while pushing them away from \
                    every other image in the batch. The temperature sets how hard the negatives are weighted. After training \
                    the head is dropped and the backbone's features are used.",
        curves: &[Curve::loss("total"), Curve::ratio("positive_sim"), Curve::ratio("negative_sim")],
        uses_labels: false,
        // SimCLR trains with LARS (lr 0.3·B/256, wd 1e-6) on batches of 256–8192. At our batch of
        // 64, LARS (lr 0.3) measured 75.0 % kNN against 77.2 % for plain SGD with momentum (lr 0.05,
        // wd 5e-4) after 300 steps, so SGD is the default and LARS a choice.
        optimizer: super::small_batch_sgd,
    };


    type Config = SimclrConfig;
    type Model = SimclrModel;

    fn check(config: &SimclrConfig) -> Result<(), String> {
        if !(config.temperature > 0.0 && config.temperature <= 10.0) {
            return Err(format!("temperature {} must be in (0, 10]", config.temperature));
        }
        in_range("projector_hidden", config.projector_hidden, 0, MAX_HEAD_WIDTH)?;
        in_range("projector_out", config.projector_out, 1, MAX_HEAD_WIDTH)?;
        config.views.check()
    }

    fn footprint(config: &SimclrConfig, batch_size: usize, feature_dim: usize, _n_classes: usize) -> Footprint {
        let hidden = if config.projector_hidden == 0 { feature_dim } else { config.projector_hidden };
        Footprint { extra_values: 0, forward_images: 2 * batch_size, heads: vec![vec![feature_dim, hidden, config.projector_out]] }
    }

    fn new(mut config: SimclrConfig, setup: &Setup) -> Result<(Self, SimclrModel), String> {
        if !setup.flip_invariant {
            config.views.flip_p = 0.0; // a mirrored digit is another symbol
        }
        let backbone = setup.backbone();
        let d = backbone.out_dim();
        let hidden = if config.projector_hidden == 0 { d } else { config.projector_hidden };
        let projector = Mlp::new(&[d, hidden, config.projector_out], &setup.device);
        Ok((Simclr { config }, SimclrModel { backbone, projector }))
    }

    fn loss(&mut self, model: &SimclrModel, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        let x = batch.unlabelled.clone().expect("SimCLR draws unlabelled images");
        let n = x.dims()[0];
        let v1 = self.config.views.view(x.clone(), ctx.rng);
        let v2 = self.config.views.view(x, ctx.rng);
        // One forward over both views, so BatchNorm sees 2N images as in the paper.
        let views = ctx.to_model(Tensor::cat(vec![v1, v2], 0)); // [2N, C, H, W]
        let z = model.projector.forward(model.backbone.forward(views)); // [2N, P]
        nt_xent_losses(z, n, self.config.temperature)
    }

    fn backbone(model: &SimclrModel) -> &Backbone {
        &model.backbone
    }

    fn embedding(model: &SimclrModel, images: Tensor<4>) -> Option<Tensor<2>> {
        Some(model.projector.forward(model.backbone.forward(images)))
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        super::two_views(&self.config.views, images, rng)
    }
}
