//! Tier 3: the state a method keeps without gradient does exactly what it claims: the EMA
//! update and its schedule, the queue's enqueue/dequeue, the memory bank's update and NPID's rolling refresh, and the
//! teacher and queue living in the model where checkpoints and snapshots reach them; and the
//! semi-supervised steps that are not losses: VAT's adversarial direction, label propagation
//! and its weights, ReMixMatch's distribution alignment.
mod common;
use burn::prelude::*;
use common::{close, cpu, floats};
use ssl_playground::heads::Mlp;
use ssl_playground::methods::ema::{ema_update, frozen_copy, EmaSchedule};
use ssl_playground::methods::memory::{MemoryBank, PerSample, PerSampleRows, Queue};
use ssl_playground::methods::Batch;

/// Every float tensor of a module, flattened, in visit order.
fn values<M: burn::module::Module>(m: &M) -> Vec<f32> {
    struct All(Vec<f32>);
    impl burn::module::ModuleVisitor for All {
        fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
            self.0.extend(floats(p.val()));
        }
    }
    let mut all = All(Vec::new());
    m.visit(&mut all);
    all.0
}

#[test]
fn ema_blends_every_tensor_and_follows_its_schedule() {
    let d = cpu();
    let student = Mlp::new(&[3, 4, 2], &d);
    let teacher = Mlp::new(&[3, 4, 2], &d);
    let (s, t) = (values(&student), values(&teacher));
    let blended = ema_update(teacher, &student, 0.9);
    let b = values(&blended);
    assert_eq!(b.len(), s.len());
    for i in 0..b.len() {
        assert!(close(b[i], 0.9 * t[i] + 0.1 * s[i], 1e-6), "tensor value {i}: {} vs 0.9·{} + 0.1·{}", b[i], t[i], s[i]);
    }
    // A frozen copy equals the student, keeps its own parameter ids, and takes no gradient
    // (on the autodiff device, where the student's parameters do).
    let ad = d.clone().autodiff();
    let student = Mlp::new(&[3, 4, 2], &ad);
    let copy = frozen_copy(Mlp::new(&[3, 4, 2], &ad), &student);
    assert_eq!(values(&copy), values(&student));
    struct Ids(Vec<(burn::module::ParamId, bool)>);
    impl burn::module::ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
            self.0.push((p.id, p.val().is_require_grad()));
        }
    }
    let (mut a, mut b) = (Ids(Vec::new()), Ids(Vec::new()));
    student.visit(&mut a);
    copy.visit(&mut b);
    assert!(a.0.iter().zip(&b.0).all(|(x, y)| x.0 != y.0), "the copy has ids of its own");
    assert!(a.0.iter().any(|(_, grad)| *grad), "the student trains (its weights; BatchNorm statistics never take gradients)");
    assert!(b.0.iter().all(|(_, grad)| !grad), "the copy carries no gradient");
    // Schedules: MoCo's constant m; BYOL's 1 − (1 − τ₀)(cos(πk/K) + 1)/2.
    let moco = EmaSchedule { base: 0.999, cosine: false };
    assert_eq!(moco.momentum(500, 1000), 0.999);
    let byol = EmaSchedule { base: 0.99, cosine: true };
    assert!((byol.momentum(0, 1000) - 0.99).abs() < 1e-12);
    assert!((byol.momentum(500, 1000) - 0.995).abs() < 1e-12);
    assert!((byol.momentum(1000, 1000) - 1.0).abs() < 1e-12);
}

#[test]
fn the_queue_holds_the_last_keys_newest_first() {
    let d = cpu();
    let q = Queue::new(4, 2, &d);
    let initial = floats(q.keys());
    // Random start: unit rows.
    for row in initial.chunks(2) {
        assert!(close(row[0] * row[0] + row[1] * row[1], 1.0, 1e-5));
    }
    let q = q.enqueue(Tensor::from_floats([[3.0, 4.0]], &d));
    let keys = floats(q.keys());
    assert_eq!(keys[..2], [0.6, 0.8], "the new key, normalised, comes first");
    assert_eq!(keys[2..], initial[..6], "the oldest key left");
    let q = q.enqueue(Tensor::from_floats([[0.0, 2.0], [-5.0, 0.0]], &d));
    let keys = floats(q.keys());
    assert_eq!(keys, [0.0, 1.0, -1.0, 0.0, 0.6, 0.8, initial[0], initial[1]]);
    // A batch as large as the queue replaces it whole.
    let q = q.enqueue(Tensor::from_floats([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]], &d));
    assert_eq!(floats(q.keys()), [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
}

#[test]
fn per_sample_values_blend_only_the_rows_given() {
    let d = cpu();
    let values = PerSample::new(4, 1.0, &d);
    // u₂ ← 0.75·1 + 0.25·0.2 = 0.8; u₀ ← 0.75·1 + 0.25·0 = 0.75; rows 1 and 3 stay 1.
    let values = values.update(Batch::index_tensor(&[2, 0], &d), Tensor::from_floats([0.2, 0.0], &d), 0.75);
    let got = floats(values.all());
    for (g, want) in got.iter().zip([0.75, 1.0, 0.8, 1.0]) {
        assert!(close(*g, want, 1e-6), "{got:?}");
    }
}

#[test]
fn the_memory_bank_updates_only_the_rows_it_is_given() {
    let d = cpu();
    let bank = MemoryBank::new(5, 2, &d);
    let before = floats(bank.all());
    let index = Batch::index_tensor(&[3, 1], &d);
    let bank = bank.update(index, Tensor::from_floats([[0.0, 7.0], [2.0, 0.0]], &d), 0.5);
    let after = floats(bank.all());
    for row in [0, 2, 4] {
        assert_eq!(after[2 * row..2 * row + 2], before[2 * row..2 * row + 2], "row {row} untouched");
    }
    // Row 3 ← normalise(0.5·v₃ + 0.5·(0, 1)); row 1 ← normalise(0.5·v₁ + 0.5·(1, 0)).
    for (row, new) in [(3, [0.0f32, 1.0]), (1, [1.0, 0.0])] {
        let (x, y) = (0.5 * before[2 * row] + 0.5 * new[0], 0.5 * before[2 * row + 1] + 0.5 * new[1]);
        let n = (x * x + y * y).sqrt();
        assert!(close(after[2 * row], x / n, 1e-5) && close(after[2 * row + 1], y / n, 1e-5), "row {row}: {:?}", &after[2 * row..2 * row + 2]);
    }
}

/// NPID's rolling refresh: with 10 images over 4 steps, step s rewrites rows
/// [3·(s mod 4), + 3) (the last slice is row 9 alone) with the current network's normalised
/// features of the clean images, and leaves every other row as it was.
#[test]
fn npid_refreshes_one_slice_of_its_bank_per_step_with_the_current_network() {
    use ssl_playground::backbone::BackboneKind;
    use ssl_playground::loss::l2_normalize;
    use ssl_playground::methods::contrastive::npid::{Npid, NpidConfig, NpidModel};
    use ssl_playground::methods::{Method, Setup, StepCtx};
    use ssl_playground::rng::Rng;
    let d = cpu();
    let ad = d.clone().autodiff();
    let images = Tensor::<4>::random([10, 1, 28, 28], burn::tensor::Distribution::Uniform(0.0, 1.0), &d);
    let setup = Setup {
        backbone: BackboneKind::SmallCnn,
        width: 4,
        channels: 1,
        height: 28,
        width_px: 28,
        n_classes: 10,
        flip_invariant: true,
        n_train: 10,
        train_images: images.clone(),
        labelled: Vec::new(),
        train_truth: vec![0; 10],
        seed: 1,
        device: ad.clone(),
    };
    let config = NpidConfig { refresh_steps: 4, feature_dim: 3, ..NpidConfig::new() };
    let (mut npid, model) = Npid::new(config, &setup).unwrap();
    // A random bank, so a refreshed row differs from what it held.
    let model = NpidModel { bank: MemoryBank::new(10, 3, &ad), ..model };
    let current = floats(l2_normalize(model.head.valid().forward(model.backbone.valid().forward(images)))); // [10, 3]
    let mut rng = Rng::new(1);
    let mut bank = floats(model.bank.all());
    let mut model = model;
    for (step, rows) in [(1, 3..6), (7, 9..10), (4, 0..3)] {
        let before = bank.clone();
        let ctx = StepCtx { step, total_steps: 8, rng: &mut rng, device: &ad };
        model = npid.after_step(model, &ctx);
        bank = floats(model.bank.all());
        for row in 0..10 {
            let (got, old, want) = (&bank[3 * row..3 * row + 3], &before[3 * row..3 * row + 3], &current[3 * row..3 * row + 3]);
            if rows.contains(&row) {
                assert!(got.iter().zip(want).all(|(a, b)| close(*a, *b, 1e-5)), "step {step}, row {row}: {got:?}, the network gives {want:?}");
                assert!(old.iter().zip(want).any(|(a, b)| !close(*a, *b, 1e-3)), "step {step}, row {row} held the network's feature already");
            } else {
                assert_eq!(got, old, "step {step}, row {row} is outside the slice");
            }
        }
    }
}

/// Temporal Ensembling's ensemble, by hand with α = 0.6. Image 0 sees p1 = (1, 0), then
/// p2 = (0, 1): Z = 0.6·0.4·p1 + 0.4·p2 = (0.24, 0.4); after t = 2 updates the target is
/// Z/(1 − 0.36) = (0.375, 0.625), the weighted mean (0.6·p1 + p2)/1.6. Image 1 sees p1 once:
/// Z = 0.4·p1, and Z/(1 − 0.6) = p1 exactly. Image 2 is never drawn: no target (mask 0).
#[test]
fn temporal_ensemble_targets_are_bias_corrected_by_hand() {
    use ssl_playground::methods::semi::temporal_ensembling::bias_corrected;
    let d = cpu();
    let (alpha, first, second) = (0.6, Batch::index_tensor(&[0, 1], &d), Batch::index_tensor(&[0], &d));
    let ensemble = PerSampleRows::zeros(3, 2, &d).update(first.clone(), Tensor::from_floats([[1.0, 0.0], [1.0, 0.0]], &d), alpha);
    let counts = PerSample::new(3, 0.0, &d).update(first, Tensor::from_floats([1.0, 1.0], &d), 0.0);
    let ensemble = ensemble.update(second.clone(), Tensor::from_floats([[0.0, 1.0]], &d), alpha);
    let counts = counts.update(second, Tensor::from_floats([2.0], &d), 0.0);
    let all = Batch::index_tensor(&[0, 1, 2], &d);
    let (target, seen) = bias_corrected(ensemble.rows(all.clone()), counts.rows(all), alpha);
    let want = [0.375, 0.625, 1.0, 0.0, 0.0, 0.0];
    for (got, want) in floats(target).iter().zip(want) {
        assert!(close(*got, want, 1e-6), "{got} vs {want}");
    }
    assert_eq!(floats(seen), vec![1.0, 1.0, 0.0]);
}

/// VAT's perturbation raises the KL divergence more than random directions of the same norm.
/// The classifier is linear on 64 pixels with 5 classes, so the KL's curvature at x has rank
/// at most 4: one power iteration must find it, and a random direction mostly misses it.
#[test]
fn vat_perturbation_raises_the_kl_more_than_random_directions() {
    use ssl_playground::loss::kl_divergence;
    use ssl_playground::methods::semi::vat::adversarial_perturbation;
    let d = cpu();
    let ad = d.clone().autodiff();
    let mut rng = ssl_playground::rng::Rng::new(5);
    let (b, pixels, classes) = (4, 64, 5);
    let w: Vec<f32> = (0..pixels * classes).map(|_| rng.normal() * 0.5).collect();
    let w = Tensor::<2>::from_data(TensorData::new(w, [pixels, classes]), &ad);
    let x: Vec<f32> = (0..b * pixels).map(|_| rng.f32()).collect();
    let x = Tensor::<4>::from_data(TensorData::new(x, [b, 1, 8, 8]), &d);
    let logits = |x: Tensor<4>| -> Tensor<2> {
        let n = x.dims()[0];
        x.reshape([n, pixels]).matmul(w.clone())
    };
    let clean = burn::tensor::activation::softmax(logits(x.clone().autodiff()).detach(), 1);
    let kl_at = |r: Tensor<4>| floats(kl_divergence(logits((x.clone() + r).autodiff()), clean.clone()))[0];
    let epsilon = 1.0;
    let r_adv = adversarial_perturbation(logits, x.clone(), 1e-3, epsilon, 1, &mut rng);
    // Each image's perturbation has norm ε.
    let norms = floats(r_adv.clone().reshape([b, pixels]).square().sum_dim(1).sqrt());
    assert!(norms.iter().all(|n| close(*n, epsilon as f32, 1e-4)), "{norms:?}");
    let adversarial = kl_at(r_adv);
    let random: Vec<f32> = (0..20)
        .map(|_| {
            let r: Vec<f32> = (0..b * pixels).map(|_| rng.normal()).collect();
            let r = Tensor::<2>::from_data(TensorData::new(r, [b, pixels]), &d);
            let r = r.clone() / r.square().sum_dim(1).sqrt() * epsilon;
            kl_at(r.reshape([b, 1, 8, 8]))
        })
        .collect();
    let best_random = random.iter().cloned().fold(0.0, f32::max);
    eprintln!("KL: adversarial {adversarial:.5}, random at most {best_random:.5}");
    assert!(adversarial > 2.0 * best_random, "adversarial {adversarial} vs random {random:?}");
}

/// Label propagation recovers the classes of two well-separated clusters from one label each.
/// Ten points around (1, 0.1) and ten around (0.1, 1); points 0 and 10 carry labels 0 and 1.
#[test]
fn label_propagation_recovers_two_clusters_from_one_label_each() {
    use ssl_playground::methods::semi::label_propagation::propagate;
    let d = cpu();
    let mut rng = ssl_playground::rng::Rng::new(2);
    let mut points = Vec::new();
    for cluster in 0..2 {
        for _ in 0..10 {
            let (a, b) = (1.0 + 0.1 * rng.normal(), 0.1 + 0.1 * rng.normal());
            points.extend(if cluster == 0 { [a, b] } else { [b, a] });
        }
    }
    let features = Tensor::<2>::from_data(TensorData::new(points, [20, 2]), &d);
    let mut seeds = vec![0.0f32; 40];
    seeds[0] = 1.0; // point 0: class 0
    seeds[2 * 10 + 1] = 1.0; // point 10: class 1
    let seeds = Tensor::<2>::from_data(TensorData::new(seeds, [20, 2]), &d);
    let z = propagate(features, seeds, 3, 0.99, 3.0, 30);
    let rows = floats(z);
    for i in 0..20 {
        let (p0, p1) = (rows[2 * i], rows[2 * i + 1]);
        assert!(close(p0 + p1, 1.0, 1e-5), "row {i} sums to {}", p0 + p1);
        let want_first = i < 10;
        assert_eq!(p0 > p1, want_first, "point {i}: ({p0:.3}, {p1:.3})");
    }
}

/// Iscen et al.'s weights by hand. Rows (1, 0) and (0, 1): certain, ω = 1; (0.6, 0.4): ω = 1 −
/// H/ln 2 = 1 − 0.6730117/0.6931472 = 0.0290494; an all-zero row (no seed reached it): 0.
/// Classes among the three reached rows: class 0 twice (rows 1 and 3), class 1 once; a
/// balanced class would have 3/2 rows, so ζ₀ = 3/4 and ζ₁ = 3/2.
#[test]
fn propagated_label_weights_by_hand() {
    use ssl_playground::methods::semi::label_propagation::pseudo_label_weights;
    let d = cpu();
    let z = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0], [0.6, 0.4], [0.0, 0.0]], &d);
    let w = floats(pseudo_label_weights(z));
    let want = [0.75, 1.5, 0.029_049_4 * 0.75, 0.0];
    assert!(w.iter().zip(want).all(|(a, b)| close(*a, b, 1e-5)), "{w:?}");
}

/// ReMixMatch's distribution alignment: a guess (0.5, 0.5) from a model that has been
/// predicting class 0 three times as often as class 1 (running mean (0.75, 0.25)), with a
/// uniform labelled distribution, becomes (0.5/0.75, 0.5/0.25) normalised = (1/4, 3/4).
#[test]
fn distribution_alignment_by_hand() {
    use ssl_playground::methods::semi::remixmatch::align_distribution;
    let d = cpu();
    let aligned = floats(align_distribution(
        Tensor::<2>::from_floats([[0.5, 0.5], [0.9, 0.1]], &d),
        Tensor::from_floats([[0.5, 0.5]], &d),
        Tensor::from_floats([[0.75, 0.25]], &d),
    ));
    // Row 2: (0.9/0.75, 0.1/0.25) = (1.2, 0.4) → (0.75, 0.25).
    let want = [0.25, 0.75, 0.75, 0.25];
    assert!(aligned.iter().zip(want).all(|(a, b)| close(*a, b, 1e-5)), "{aligned:?}");
}
