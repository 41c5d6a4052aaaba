//! SimCLR v2: contrastive pretraining with a deeper projection head, fine-tuning on a few
//! labels from the head's first layer, then distillation into a student on unlabelled images.
//!
//! [0] Chen, Kornblith, Swersky, Norouzi, Hinton. "Big Self-Supervised Models are Strong
//! Semi-Supervised Learners", NeurIPS 2020, arXiv:2006.10029. Three steps: "unsupervised
//! pretraining of a big ResNet model using SimCLRv2, supervised fine-tuning on a few labeled
//! examples, and distillation with unlabeled examples for refining and transferring the
//! task-specific knowledge." The head is 3 layers, and fine-tuning starts "from the middle
//! layer of the projection head" (its first layer, here); distillation is eq. 2.
//!
//! The three steps are the method's three [`Stage`]s, in one run. Everything lives in one
//! model from the start (teacher backbone, projection head, fine-tuning classifier, student),
//! so checkpoints and snapshots carry every stage with no extra code; each stage trains only
//! what its loss reaches. kNN and retrieval use the teacher's backbone throughout; the
//! classifier test accuracy is the teacher's during fine-tuning and the student's during
//! distillation, and the teacher's is reported beside it as `teacher_test_acc`.
use super::super::{accuracy, Batch, BatchPlan, Curve, Family, Footprint, Losses, Method, MethodMeta, Setup, Stage, StepCtx, Tag};
use crate::augment::{self, SimclrViews};
use crate::backbone::Backbone;
use crate::heads::{Mlp, MAX_HEAD_WIDTH};
use crate::bounds::{in_range, in_range_f};
use crate::loss::{cross_entropy, distillation_cross_entropy};
use crate::optim::OptimConfig;
use crate::rng::Rng;
use burn::prelude::*;

#[derive(Config, Debug)]
pub struct SimclrV2Config {
    /// τ of NT-Xent in pretraining (paper: 0.1 on ImageNet; 0.2 measured best for SimCLR here).
    #[config(default = 0.2)]
    pub temperature: f64,
    /// Width of the head's two hidden layers (paper: 2048 on ResNet-50; 0 = the backbone's width).
    #[config(default = 0)]
    pub projector_hidden: usize,
    /// Projection size (paper: 128). 1..=4096.
    #[config(default = 64)]
    pub projector_out: usize,
    /// Share of the run spent on each stage; distillation takes the rest. The paper pretrains
    /// for hundreds of epochs and fine-tunes for tens. In one short run the student, which
    /// starts from random weights, needs the most room: at 600 steps (5,000 images) a 60 / 20
    /// / 20 split left it 16 points under its teacher, 50 / 20 / 30 with lr 0.1 under 2.
    #[config(default = 0.5)]
    pub pretrain_share: f64,
    #[config(default = 0.2)]
    pub finetune_share: f64,
    /// Fine-tuning learning rate (SGD with Nesterov momentum, weight decay 5e-4, cosine over
    /// the stage). 0.1 fine-tuned to 69.3 % where 0.03 reached 66.9 % (600 steps, 5,000 images).
    #[config(default = 0.1)]
    pub finetune_lr: f64,
    /// Distillation learning rate for the student (same optimizer).
    #[config(default = 0.1)]
    pub distil_lr: f64,
    /// τ of the distillation softmax, eq. 2 (1 = the teacher's plain probabilities).
    #[config(default = 1.0)]
    pub distil_temperature: f64,
    /// The student's backbone width (0 = the teacher's: self-distillation, which the paper
    /// also reports; a smaller width distils into a smaller network).
    #[config(default = 0)]
    pub student_width: usize,
    /// Pretraining views (SimCLR's); fine-tuning and distillation use flip + shift.
    #[config(default = "SimclrViews::default()")]
    pub views: SimclrViews,
}

impl Default for SimclrV2Config {
    fn default() -> Self {
        Self::new()
    }
}

/// The student: a backbone and a linear classifier, trained only in the distillation stage.
#[derive(Module, Debug)]
pub struct Student {
    pub backbone: Backbone,
    pub classifier: Mlp,
}

#[derive(Module, Debug)]
pub struct SimclrV2Model {
    pub backbone: Backbone,
    /// Three layers: D → H → H → P.
    pub projector: Mlp,
    /// Linear classifier on the projector's first hidden layer (H → classes).
    pub classifier: Mlp,
    pub student: Student,
}

impl SimclrV2Model {
    /// The fine-tuned network's logits: backbone, the head's first layer, the classifier.
    fn teacher_logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.classifier.forward(self.projector.forward_hidden(self.backbone.forward(x), 1))
    }
    fn student_logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.student.classifier.forward(self.student.backbone.forward(x))
    }
}

const PRETRAIN: usize = 0;
const FINETUNE: usize = 1;
const DISTIL: usize = 2;

pub struct SimclrV2 {
    config: SimclrV2Config,
    flip: bool,
    stage: usize,
}

/// SGD with Nesterov momentum, weight decay 5e-4 and a cosine schedule over the stage.
fn stage_sgd(lr: f64) -> OptimConfig {
    OptimConfig::sgd(lr, 5e-4)
}

impl Method for SimclrV2 {
    const META: MethodMeta = MethodMeta {
        id: "simclr-v2",
        family: Family::Contrastive,
        name: "SimCLR v2",
        paper: "Chen, Kornblith, Swersky, Norouzi, Hinton. Big Self-Supervised Models are Strong Semi-Supervised Learners. NeurIPS 2020",
        link: "https://arxiv.org/abs/2006.10029",
        explanation: "Three stages in one run. First, SimCLR pretraining with a deeper, three-layer projection head, on \
            every image without labels. Second, fine-tuning on the few labelled images: a classifier is put on the head's \
            first layer and trained together with the backbone. Third, distillation: a fresh student network learns to \
            match the fine-tuned teacher's predicted class probabilities on all the unlabelled images, so the unlabelled \
            data is used a second time, now for the task. Scaled here: 50 / 20 / 30 % of the steps per stage, and a \
            student as wide as the teacher.",
        curves: &[
            Curve::loss("total"),
            Curve::ratio("positive_sim"),
            Curve::ratio("negative_sim"),
            Curve::loss("sup"),
            Curve::accuracy("train_acc"),
            Curve::loss("distil"),
            Curve::accuracy("teacher_agreement"),
        ],
        uses_labels: true,
        optimizer: super::small_batch_sgd,
    };

    type Config = SimclrV2Config;
    type Model = SimclrV2Model;

    fn check(config: &SimclrV2Config) -> Result<(), String> {
        in_range_f("temperature", config.temperature, 1e-3, 10.0)?;
        in_range("projector_hidden", config.projector_hidden, 0, MAX_HEAD_WIDTH)?;
        in_range("projector_out", config.projector_out, 1, MAX_HEAD_WIDTH)?;
        in_range_f("pretrain_share", config.pretrain_share, 0.01, 0.98)?;
        in_range_f("finetune_share", config.finetune_share, 0.01, 0.98)?;
        if config.pretrain_share + config.finetune_share > 0.99 {
            return Err(format!(
                "pretrain_share {} + finetune_share {} leave no steps to distil; keep their sum at most 0.99",
                config.pretrain_share, config.finetune_share
            ));
        }
        in_range_f("finetune_lr", config.finetune_lr, 1e-6, 10.0)?;
        in_range_f("distil_lr", config.distil_lr, 1e-6, 10.0)?;
        in_range_f("distil_temperature", config.distil_temperature, 0.05, 20.0)?;
        in_range("student_width", config.student_width, 0, 512)?;
        config.views.check()
    }

    fn footprint(config: &SimclrV2Config, batch_size: usize, feature_dim: usize, n_classes: usize) -> Footprint {
        let hidden = if config.projector_hidden == 0 { feature_dim } else { config.projector_hidden };
        // Pretraining is the largest stage: both views through the backbone and the head.
        Footprint {
            extra_values: 0,
            forward_images: 2 * batch_size,
            heads: vec![vec![feature_dim, hidden, hidden, config.projector_out], vec![hidden, n_classes], vec![feature_dim, n_classes]],
        }
    }

    fn new(mut config: SimclrV2Config, setup: &Setup) -> Result<(Self, SimclrV2Model), String> {
        if !setup.flip_invariant {
            config.views.flip_p = 0.0; // a mirrored digit is another symbol
        }
        let backbone = setup.backbone();
        let d = backbone.out_dim();
        let hidden = if config.projector_hidden == 0 { d } else { config.projector_hidden };
        let projector = Mlp::new(&[d, hidden, hidden, config.projector_out], &setup.device);
        let classifier = Mlp::new(&[hidden, setup.n_classes], &setup.device);
        let student_width = if config.student_width == 0 { setup.width } else { config.student_width };
        let student_backbone = Backbone::new(setup.backbone, setup.channels, student_width, &setup.device);
        let student_classifier = Mlp::new(&[student_backbone.out_dim(), setup.n_classes], &setup.device);
        let model = SimclrV2Model { backbone, projector, classifier, student: Student { backbone: student_backbone, classifier: student_classifier } };
        Ok((SimclrV2 { config, flip: setup.flip_invariant, stage: PRETRAIN }, model))
    }

    fn stages(&self) -> Vec<Stage> {
        let c = &self.config;
        vec![
            Stage { name: "pretrain", fraction: c.pretrain_share, optimizer: None },
            Stage { name: "fine-tune", fraction: c.finetune_share, optimizer: Some(stage_sgd(c.finetune_lr)) },
            Stage { name: "distil", fraction: 1.0 - c.pretrain_share - c.finetune_share, optimizer: Some(stage_sgd(c.distil_lr)) },
        ]
    }

    fn enter_stage(&mut self, index: usize) {
        self.stage = index;
    }

    fn batch_plan(&self, batch_size: usize) -> BatchPlan {
        match self.stage {
            FINETUNE => BatchPlan { labelled: batch_size, unlabelled: 0 },
            _ => BatchPlan { labelled: 0, unlabelled: batch_size },
        }
    }

    fn loss(&mut self, model: &SimclrV2Model, batch: &Batch, ctx: &mut StepCtx) -> Losses {
        match self.stage {
            PRETRAIN => {
                let x = batch.unlabelled.clone().expect("pretraining draws unlabelled images");
                let n = x.dims()[0];
                let v1 = self.config.views.view(x.clone(), ctx.rng);
                let v2 = self.config.views.view(x, ctx.rng);
                let views = ctx.to_model(Tensor::cat(vec![v1, v2], 0)); // [2N, C, H, W]
                let z = model.projector.forward(model.backbone.forward(views)); // [2N, P]
                super::simclr::nt_xent_losses(z, n, self.config.temperature)
            }
            FINETUNE => {
                let (x, y) = batch.labelled.clone().expect("fine-tuning draws labelled images");
                let x = augment::weak(x, self.flip, ctx.rng);
                let logits = model.teacher_logits(ctx.to_model(x));
                let y = y.autodiff();
                let acc = accuracy(logits.clone().detach(), y.clone());
                let sup = cross_entropy(logits, y);
                Losses::new(sup.clone()).with("sup", sup).with("train_acc", acc)
            }
            _ => {
                let x = batch.unlabelled.clone().expect("distillation draws unlabelled images");
                let x = augment::weak(x, self.flip, ctx.rng);
                // The teacher predicts in evaluation mode (BatchNorm on running statistics),
                // as a fine-tuned network is used; it gets no gradient.
                let teacher = model.valid().teacher_logits(x.clone()).autodiff(); // [B, K]
                let student = model.student_logits(ctx.to_model(x)); // [B, K]
                let [b, _] = student.dims();
                let agreement = student.clone().detach().argmax(1).reshape([b]).equal(teacher.clone().argmax(1).reshape([b])).float().mean();
                let distil = distillation_cross_entropy(student, teacher, self.config.distil_temperature);
                Losses::new(distil.clone()).with("distil", distil).with("teacher_agreement", agreement)
            }
        }
    }

    fn backbone(model: &SimclrV2Model) -> &Backbone {
        &model.backbone
    }

    fn test_logits(&self, model: &SimclrV2Model, images: Tensor<4>) -> Option<Tensor<2>> {
        match self.stage {
            PRETRAIN => None, // the classifier is still untrained
            FINETUNE => Some(model.teacher_logits(images)),
            _ => Some(model.student_logits(images)),
        }
    }

    fn eval_metrics(&self, model: &SimclrV2Model, images: Tensor<4>, labels: Tensor<1, Int>) -> Vec<(&'static str, Tag, Tensor<1>)> {
        if self.stage != DISTIL {
            return Vec::new();
        }
        // The teacher is frozen while the student learns: its accuracy is the fine-tuned one.
        let logits = crate::eval::in_chunks(&images, crate::eval::EMBED_CHUNK, |x| model.teacher_logits(x));
        vec![("teacher_test_acc", Tag::Accuracy, accuracy(logits, labels))]
    }

    fn embedding(model: &SimclrV2Model, images: Tensor<4>) -> Option<Tensor<2>> {
        Some(model.projector.forward(model.backbone.forward(images)))
    }

    fn views(&self, images: Tensor<4>, rng: &mut Rng) -> Vec<(String, Tensor<4>)> {
        match self.stage {
            PRETRAIN => super::two_views(&self.config.views, images, rng),
            _ => vec![("flip + shift".into(), augment::weak(images, self.flip, rng))],
        }
    }
}
