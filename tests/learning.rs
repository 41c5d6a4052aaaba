//! Learning is real: trained backbones against the same backbone untrained (same seed, same
//! split), and FixMatch against the supervised-only baseline at the same labels and steps.
//! Budgets are small enough for a 2-core CI machine; the figures they reach are in the README.
mod common;
use common::{cpu, pack};
use ssl_playground::exec::block_on;
use ssl_playground::session::native_clock;
use ssl_playground::backbone::BackboneKind;
use ssl_playground::report::AttentionMaps;
use ssl_playground::{RunConfig, Session};

fn train(config: RunConfig, dataset: &str) -> Session {
    train_on(config, &pack(dataset))
}

fn train_on(config: RunConfig, p: &ssl_playground::data::Pack) -> Session {
    let steps = config.steps;
    let mut s = Session::new(config, p, cpu(), native_clock()).unwrap();
    block_on(s.measure_random_init()).unwrap();
    for _ in 0..steps {
        block_on(s.step()).unwrap();
    }
    s
}

/// The CI learning budget: `small-cnn` width 16 on 5,000 training and 1,000 test images.
fn ci_run(method: &str, steps: usize, batch_size: usize) -> RunConfig {
    RunConfig { method: method.into(), width: 16, steps, batch_size, train_limit: Some(5000), test_limit: Some(1000), ..RunConfig::default() }
}

/// Train `method` at the CI budget (300 steps of 64) and return the session and its held-out
/// pretext accuracy, printing it beside `chance` and the final-layer kNN.
fn held_out_task(method: &str, task: &str, chance: f64) -> (Session, f64) {
    held_out_task_in(method, 300, task, chance)
}

/// As [`held_out_task`], in `steps` steps of 64.
fn held_out_task_in(method: &str, steps: usize, task: &str, chance: f64) -> (Session, f64) {
    let mut s = train(ci_run(method, steps, 64), "fashion-mnist");
    let eval = block_on(s.evaluate()).unwrap();
    let accuracy = eval.pretext_acc.expect("a pretext method reports its held-out accuracy");
    eprintln!("{method}: held-out {task} {accuracy:.4} (chance {chance}), kNN {:.4}", eval.knn_acc);
    (s, accuracy)
}

/// Train `method` for `steps` of 64 on Fashion-MNIST and assert that its final-layer kNN beats
/// the untrained backbone's by `margin`.
fn beats_random_init(method: &str, steps: usize, margin: f64) {
    let mut s = train(ci_run(method, steps, 64), "fashion-mnist");
    let untrained = *s.random_init().unwrap().accuracy.last().unwrap();
    let trained = block_on(s.evaluate()).unwrap().knn_acc;
    eprintln!("{method} kNN after {steps} steps: untrained {untrained:.4}, trained {trained:.4}");
    assert!(trained >= untrained + margin, "{method} kNN {trained:.4} vs random init {untrained:.4}");
}

/// Measured: 0.779 against 0.750 at 400 steps (0.792 at 600; seed 1, 5,000-image bank, 1,000
/// test images).
#[test]
fn simclr_beats_the_random_init_backbone() {
    beats_random_init("simclr", 400, 0.02);
}

/// SimCLR on the colour pack (emoji: 32 px, 3 channels, 9 categories, the whole 1,524-image
/// bank and 382 test images, so one test image is 0.26 points). Measured (seed 1, final layer,
/// untrained 0.555): 0.568 at 1,000 steps (best layer 0.571; 0.571 at 300). Before the
/// importer shuffled each split, the same run drew its batches in another order and reached
/// 0.602 at 1,000 steps but 0.539 at 300: the set is small and the spread between orders is
/// several points, so the test asks only that the trained features lead, by half a point.
#[test]
fn simclr_on_the_colour_pack_beats_the_random_init_backbone() {
    let config = RunConfig { method: "simclr".into(), width: 16, steps: 1000, batch_size: 64, ..RunConfig::default() };
    let mut s = train(config, "emoji");
    let untrained = *s.random_init().unwrap().accuracy.last().unwrap();
    let trained = block_on(s.evaluate()).unwrap().knn_acc;
    eprintln!("simclr on emoji, 1,000 steps: untrained {untrained:.4}, trained {trained:.4}");
    assert!(trained >= untrained + 0.005, "kNN {trained:.4} vs random init {untrained:.4}");
}

/// Barlow Twins and NPID at the MoCo v2 test's budget. Measured (seed 1, 600 steps, untrained
/// 0.750): Barlow Twins 0.779, NPID 0.762 (at 400 steps 0.766 and 0.738). NPID's lead is the
/// smaller and the initial weights move when tests run in parallel, so its test asks only that
/// it lead. BYOL (0.760 at 600 steps, 0.738 at 400, with two networks' passes per step) is
/// measured at 1,000 steps in the README; here it has the collapse test below.
#[test]
fn barlow_twins_and_npid_beat_the_random_init_backbone() {
    beats_random_init("barlow-twins", 600, 0.02);
    beats_random_init("npid", 600, 0.0);
}

/// Jigsaw learns its own task: held-out puzzles of 1,000 permutations solved far above chance.
#[test]
fn jigsaw_solves_held_out_puzzles() {
    let (_, solved) = held_out_task("jigsaw", "permutation accuracy", 0.001);
    // Measured: 0.212 (seed 1) with the default tile jitter 0.4; 0.301 without it. Its kNN at
    // this budget (76.0 against 75.0 untrained) is not asserted: the features need more steps
    // (README, Measured results).
    assert!(solved >= 0.12, "held-out permutation accuracy {solved:.4}");
}

/// The best layer's kNN, trained and untrained (best layer against best layer).
fn best_layers(s: &Session) -> (f64, f64) {
    let layers = block_on(s.layer_report()).unwrap();
    let best = |f: fn(&ssl_playground::report::LayerKnn) -> f64| layers.iter().map(f).fold(f64::MIN, f64::max);
    (best(|l| l.trained), best(|l| l.untrained))
}

/// Context Prediction learns where a neighbour patch sits, and its features beat the
/// untrained backbone's already at this budget.
#[test]
fn context_prediction_places_held_out_neighbours() {
    let (s, placed) = held_out_task("context-prediction", "position accuracy", 0.125);
    let (trained, untrained) = best_layers(&s);
    eprintln!("context-prediction: best-layer kNN {trained:.4} vs untrained {untrained:.4}");
    // Measured: 0.722, and kNN 0.777 against 0.750 (seed 1).
    assert!(placed >= 0.5, "held-out position accuracy {placed:.4}");
    assert!(trained >= untrained + 0.01, "best-layer kNN {trained:.4} vs untrained {untrained:.4}");
}

/// Counting learns its task without collapsing to φ = 0: the tiles' summed counts are
/// nearer their own image's counts than another image's, far more often than chance.
#[test]
fn counting_matches_tiles_to_their_own_image() {
    let (_, matched) = held_out_task_in("counting", 150, "tile-sum matching", 0.5);
    // Measured at 150 steps (this test, seed 1): 0.878 with the default jitter 0.3, 0.815
    // without. Without jitter, M = 100, 300 steps: 0.942, 0.955, 0.941 (seeds 2–4). With the
    // paper's M = 10 the counts collapsed to 0 in 3 of 6 runs (0.000–0.008), one of them this
    // test in a full run. Its kNN at this budget (65.6 against 75.0 untrained) is not asserted.
    assert!(matched >= 0.7, "held-out tile-sum matching {matched:.4}");
}

/// Decoupled RotNet learns rotation on its f_rot half, lowers the weight of some images, and
/// the preview shows the lowest-weighted ones.
#[test]
fn decoupled_rotnet_learns_rotation_and_flags_ambiguous_images() {
    let (mut s, rotation) = held_out_task_in("decoupled-rotnet", 150, "rotation accuracy", 0.25);
    let views = s.views(4);
    let flagged = views.iter().find(|(name, _)| name.starts_with("judged rotation-ambiguous")).expect("a block of ambiguous images");
    eprintln!("decoupled-rotnet: preview blocks {:?}", views.iter().map(|(n, t)| (n.clone(), t.dims()[0])).collect::<Vec<_>>());
    // Measured at 300 steps: 0.935 with instance weight 1, 0.944 and 0.945 with the default
    // 0.01; at 150 steps (this test) 0.903 with 0.01 (seed 1).
    assert!(rotation >= 0.85, "held-out rotation accuracy {rotation:.4}");
    assert_eq!(flagged.1.dims()[0], 8);
}

/// Exemplar learns its surrogate classes: new random transformations of its 100 seed
/// patches are told apart far above chance.
#[test]
fn exemplar_recognises_new_members_of_its_classes() {
    let (s, recognised) = held_out_task("exemplar", "surrogate-class accuracy", 0.01);
    let (trained, untrained) = best_layers(&s);
    eprintln!("exemplar: best-layer kNN {trained:.4} vs untrained {untrained:.4}");
    // Measured (seed 1) with the head's hidden layer of 256: 0.815 of new members recognised,
    // final-layer kNN 0.782 against 0.750. With the earlier linear head: 0.370, and kNN 0.724
    // (best layer), below the untrained backbone.
    assert!(recognised >= 0.5, "held-out surrogate-class accuracy {recognised:.4}");
    assert!(trained >= untrained + 0.015, "best-layer kNN {trained:.4} vs untrained {untrained:.4}");
}

/// Measured (seed 1, 5,000 training images, 1,000 test images, width 16, batch 64; entropy
/// over the first 200 test images): at 1,000 steps kNN 0.694 against 0.517 untrained and the
/// entropy 3.884 → 3.793 nats. At 500 steps the 3-block ViT had 0.658 but its entropy had not
/// moved (3.884 → 3.882; the first, 4-block build fell to 3.780 there), so this test runs
/// 1,000. On the full split at 1,000 steps it reaches 3.70–3.83 per image, one head on the
/// garment's print and one on its hem.
const DINO_VIT_STEPS: usize = 1000;
const DINO_VIT_MARGIN: f64 = 0.12;
const ENTROPY_DROP: f64 = 0.05;
/// Measured: 0.778 against 0.750 at 600 steps; 0.761 at 400.
const DINO_CNN_STEPS: usize = 600;
const DINO_CNN_MARGIN: f64 = 0.02;
/// Measured, best layer: 0.577 against 0.522 at 600 steps (the first, 4-block ViT: 0.620
/// against 0.549).
const MASKFEAT_STEPS: usize = 600;
const MASKFEAT_MARGIN: f64 = 0.04;

/// DINO on the tiny ViT at the CI budget: its kNN beats the untrained ViT's, and the class
/// token's last-block attention over the patches grows less uniform (Caron et al. 2021, §4.2.1:
/// the maps of a self-supervised ViT fall on the object).
#[test]
fn dino_on_vit_tiny_beats_random_init_and_focuses_its_attention() {
    let config = RunConfig { backbone: BackboneKind::VitTiny, ..ci_run("dino", DINO_VIT_STEPS, 64) };
    let p = pack("fashion-mnist");
    let mut s = Session::new(config, &p, cpu(), native_clock()).unwrap();
    let untrained = *block_on(s.measure_random_init()).unwrap().accuracy.last().unwrap();
    let images: Vec<usize> = (0..200).collect();
    let mean_entropy = |maps: Vec<AttentionMaps>| maps.iter().map(|m| m.entropy as f64).sum::<f64>() / maps.len() as f64;
    let before = mean_entropy(block_on(s.attention_maps(&images)).unwrap());
    for _ in 0..DINO_VIT_STEPS {
        block_on(s.step()).unwrap();
    }
    let after = mean_entropy(block_on(s.attention_maps(&images)).unwrap());
    let trained = block_on(s.evaluate()).unwrap().knn_acc;
    // ln 49 = 3.89 nats is attention spread evenly over the 7×7 patches.
    eprintln!("dino vit-tiny: kNN {trained:.4} against untrained {untrained:.4}; CLS attention entropy {before:.3} → {after:.3} nats (uniform 3.892)");
    assert!(trained >= untrained + DINO_VIT_MARGIN, "DINO vit-tiny kNN {trained:.4} vs random init {untrained:.4}");
    assert!(after < before - ENTROPY_DROP, "CLS attention entropy went from {before:.3} to {after:.3} nats");
}

/// DINO on `small-cnn` at the CI budget (the head's BatchNorm is what lets it learn there).
#[test]
fn dino_on_small_cnn_beats_the_random_init_backbone() {
    beats_random_init("dino", DINO_CNN_STEPS, DINO_CNN_MARGIN);
}

/// MaskFeat on the tiny ViT at the CI budget: predicting the HOG of masked patches teaches
/// features that beat the untrained ViT's kNN.
#[test]
fn maskfeat_on_vit_tiny_beats_the_random_init_backbone() {
    let mut s = train(RunConfig { backbone: BackboneKind::VitTiny, ..ci_run("maskfeat", MASKFEAT_STEPS, 64) }, "fashion-mnist");
    let untrained = *s.random_init().unwrap().accuracy.last().unwrap();
    let (best, best_untrained) = best_layers(&s);
    let trained = block_on(s.evaluate()).unwrap().knn_acc;
    eprintln!("maskfeat vit-tiny: kNN {trained:.4} against untrained {untrained:.4}; best layer {best:.4} against {best_untrained:.4}");
    assert!(best >= best_untrained + MASKFEAT_MARGIN, "MaskFeat best-layer kNN {best:.4} vs random init {best_untrained:.4}");
}

/// MoCo v2 (symmetric loss, the default) at the SimCLR test's budget. Measured: 0.780 against
/// 0.750 (seed 1, 600 steps, 5,000-image bank, 1,000 test images).
#[test]
fn moco_v2_beats_the_random_init_backbone() {
    beats_random_init("moco-v2", 600, 0.02);
}

#[test]
fn rotnet_learns_rotation_and_reports_its_best_layer() {
    let config = ci_run("rotnet", 200, 32);
    let mut s = train(config, "fashion-mnist");
    let eval = block_on(s.evaluate()).unwrap();
    let rotation = eval.pretext_acc.unwrap();
    let layers = block_on(s.layer_report()).unwrap();
    let best = layers.iter().max_by(|a, b| a.trained.total_cmp(&b.trained)).unwrap();
    eprintln!("rotnet: held-out rotation accuracy {rotation:.4}; layers {layers:?}; best {} {:.4} (untrained {:.4})", best.layer, best.trained, best.untrained);
    assert!(rotation >= 0.90, "held-out rotation accuracy {rotation:.4}");
    assert!(layers.iter().all(|l| l.trained.is_finite() && l.untrained.is_finite()));
}

/// Measured (seed 1, 600 steps): 0.902 at μ = 1 (EMA model 0.898), 0.916 at μ = 3, against
/// supervised-only 0.851 and 0.861. μ = 1 keeps the test inside the CI budget; the paper's
/// μ = 7 scored 0.838 at 300 steps in our run, below μ = 3's 0.852.
#[test]
fn fixmatch_beats_supervised_only_with_ten_labels_per_class() {
    beat_supervised_only(&[("fixmatch", 0.02)]);
}

/// SimCLR v2's three stages in one run: the fine-tuned network beats training on the labelled
/// images alone for as many steps, and distillation into a fresh student keeps its accuracy.
#[test]
fn simclr_v2_fine_tunes_past_supervised_only_and_distils_without_loss() {
    let base = RunConfig { labels_per_class: 10, ..ci_run("supervised", 600, 64) };
    let mut v2 = train(RunConfig { method: "simclr-v2".into(), ..base.clone() }, "fashion-mnist");
    let mut supervised = train(RunConfig { method: "supervised".into(), ..base }, "fashion-mnist");
    let end = block_on(v2.evaluate()).unwrap();
    let student = end.test_acc.unwrap();
    let teacher = end.metrics.iter().find(|m| m.name == "teacher_test_acc").unwrap().value;
    let alone = block_on(supervised.evaluate()).unwrap().test_acc.unwrap();
    eprintln!("simclr-v2, 10 labels/class, 600 steps: fine-tuned teacher {teacher:.4}, distilled student {student:.4}; supervised-only {alone:.4}");
    // Measured (seed 1, alone in the process): teacher 0.693, student 0.674, supervised-only
    // 0.646. Parallel tests can change the initial weights, hence the slack.
    assert!(teacher >= alone + 0.02, "fine-tuned {teacher:.4} vs supervised-only {alone:.4}");
    assert!(student >= teacher - 0.03, "student {student:.4} vs teacher {teacher:.4}");
}

/// A 300-step collapse-switch run on a 2,000-image pool, evaluated at its end.
fn collapse_run(method: &str, params: serde_json::Value) -> ssl_playground::report::EvalReport {
    let config = RunConfig {
        method: method.into(),
        width: 8,
        steps: 300,
        batch_size: 32,
        train_limit: Some(2000),
        test_limit: Some(500),
        params,
        ..RunConfig::default()
    };
    let mut s = train(config, "fashion-mnist");
    block_on(s.evaluate()).unwrap()
}

/// Collapse, made visible: BYOL's predictor is one of the two things that keep its embedding
/// from collapsing to a point (Grill et al. 2020, Table 5). Without it the projection's
/// per-dimension spread falls while the loss heads to 0. (The other switch, `ema_target`
/// off, τ = 0, measured std 0.087 against 0.094 here: with the predictor kept that is
/// SimSiam, which Chen & He 2021, arXiv:2011.10566, show does not need the EMA.)
#[test]
fn byol_without_its_predictor_collapses() {
    let byol = collapse_run("byol", serde_json::json!({}));
    let no_predictor = collapse_run("byol", serde_json::json!({"predictor": false}));
    eprintln!("BYOL embedding std {:.4} (rank {:?}); without predictor {:.4} (rank {:?})", byol.embedding_std, byol.effective_rank, no_predictor.embedding_std, no_predictor.effective_rank);
    // Measured (seed 1, 300 steps, Adam, hidden 512, τ from 0.95): std 0.095 → 0.016; with the
    // earlier SGD, hidden 128 and τ from 0.99, 0.094 → 0.050, about half. Spread unit vectors in
    // 64 dimensions would have 1/√64 = 0.125.
    assert!(no_predictor.embedding_std < 0.7 * byol.embedding_std, "without its predictor BYOL kept std {:.4} of {:.4}", no_predictor.embedding_std, byol.embedding_std);
}

/// DINO's two collapse switches (Caron et al. 2021, §5.3): without centring one prototype
/// dominates every image's output, so the spread of the student's distribution (the collapse
/// check) falls; without sharpening the teacher's distribution flattens towards uniform.
#[test]
fn dino_without_centring_or_sharpening_collapses() {
    let run = |params: serde_json::Value| {
        let config = RunConfig { method: "dino".into(), width: 8, steps: 300, batch_size: 32, train_limit: Some(2000), test_limit: Some(500), params, ..RunConfig::default() };
        let steps = config.steps;
        let mut s = Session::new(config, &pack("fashion-mnist"), cpu(), native_clock()).unwrap();
        let mut entropy = 0.0;
        for _ in 0..steps {
            entropy = block_on(s.step()).unwrap().term("teacher_entropy").unwrap();
        }
        (block_on(s.evaluate()).unwrap(), entropy)
    };
    let (both, entropy) = run(serde_json::json!({}));
    let (uncentred, _) = run(serde_json::json!({"centring": false}));
    let (unsharpened, entropy_unsharpened) = run(serde_json::json!({"sharpening": false}));
    let (std, std_uncentred) = (both.embedding_std, uncentred.embedding_std);
    let rank = |e: &ssl_playground::report::EvalReport| e.effective_rank.unwrap_or(f64::NAN);
    eprintln!(
        "DINO: std {std:.4}, without centring {std_uncentred:.4}; teacher entropy {entropy:.3} of ln K, without sharpening {entropy_unsharpened:.3}; effective rank {:.2}, without centring {:.2}, without sharpening {:.2} (of {})",
        rank(&both), rank(&uncentred), rank(&unsharpened), both.rank_limit
    );
    // Measured (seed 1): std 0.0160 → 0.0057 without centring; teacher entropy 0.870 → 0.970
    // of ln K without sharpening (at 600 steps, width 16: 0.0174 → 0.0028 and 0.839 → 0.970).
    assert!(std_uncentred < 0.6 * std, "without centring the std stayed at {std_uncentred:.4} against {std:.4}");
    assert!(entropy_unsharpened > entropy + 0.05 && entropy_unsharpened > 0.9, "without sharpening the teacher's entropy was {entropy_unsharpened:.3} of ln K against {entropy:.3}");
    // The effective rank of the K = 1,024 outputs (from the Gram matrix of the 500 test
    // images) falls with either switch off. Measured (seed 1): 12.93 → 8.99 without centring,
    // 8.07 without sharpening, of 499 possible.
    assert_eq!(both.rank_limit, 499);
    for (switch, off) in [("centring", &uncentred), ("sharpening", &unsharpened)] {
        assert!(rank(off) < 0.85 * rank(&both), "without {switch} the effective rank stayed at {:.2} against {:.2}", rank(off), rank(&both));
    }
}

/// Barlow Twins' off-diagonal term keeps the embedding's dimensions decorrelated. Without it
/// the on-diagonal term alone is met by dimensions that repeat each other: the last step's
/// cross-correlation matrix fills up off its diagonal.
#[test]
fn barlow_twins_without_its_off_diagonal_term_keeps_redundant_dimensions() {
    let redundancy = |params: serde_json::Value| {
        let config = RunConfig { method: "barlow-twins".into(), width: 8, steps: 300, batch_size: 32, train_limit: Some(2000), test_limit: Some(500), params, ..RunConfig::default() };
        let s = train(config, "fashion-mnist");
        let m = block_on(s.matrices()).unwrap().remove(0); // the cross-correlation, D × D
        let off: Vec<f32> = m.values.iter().enumerate().filter(|(i, _)| i / m.cols != i % m.cols).map(|(_, v)| v * v).collect();
        off.iter().sum::<f32>() / off.len() as f32
    };
    let full = redundancy(serde_json::json!({}));
    let alone = redundancy(serde_json::json!({"off_diagonal": false}));
    eprintln!("Barlow Twins: mean squared off-diagonal cross-correlation {full:.4}; without the off-diagonal term {alone:.4}");
    // Measured (seed 1): 0.116 → 0.641 with Adam (0.138 → 0.566 with SGD). The effective rank of the normalised projection
    // (6.1 → 3.0, then 6.2 → 4.3 in another run) varied too much with the initial weights to test.
    assert!(alone > 2.0 * full, "without the off-diagonal term the mean squared off-diagonal stayed at {alone:.4} against {full:.4}");
}

/// Multi-task learns all its tasks at once on one backbone: each head's held-out accuracy is
/// far above chance after a short run.
#[test]
fn multi_task_learns_every_task_at_once() {
    let every_task = serde_json::json!({"jigsaw": {"enabled": true}, "exemplar": {"enabled": true}});
    let mut s = train(RunConfig { params: every_task, ..ci_run("multi-task", 150, 64) }, "fashion-mnist");
    let eval = block_on(s.evaluate()).unwrap();
    let held_out = |name: &str| eval.metrics.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("no {name}")).value;
    eprintln!("multi-task, 150 steps: {:?}, kNN {:.4}", eval.metrics, eval.knn_acc);
    // Measured (seed 1): rotation 0.8975, position 0.640, permutation 0.096 (P = 1,000, tile
    // jitter 0.4), exemplar 0.555 (N = 100, head with a hidden layer of 256; with the earlier
    // linear exemplar head and no tile jitter: 0.901, 0.645, 0.108 and 0.095).
    for (task, chance, floor) in [("rotation", 0.25, 0.75), ("position", 0.125, 0.45), ("permutation", 0.001, 0.03), ("exemplar", 0.01, 0.04)] {
        let acc = held_out(&format!("held_out_{task}_acc"));
        assert!(acc >= floor, "held-out {task} accuracy {acc:.4} (chance {chance})");
    }
}

/// Colourisation on colour images: tinted by class, an image's colour follows from its shape,
/// and the head learns to name each region's colour class from the grey image better than
/// always answering the commonest class (mostly the black background's).
#[test]
fn multi_task_colourisation_learns_colours_from_shapes() {
    use ssl_playground::augment::colour::chroma_classes;
    let colour = common::tinted(&pack("fashion-mnist"), 5000);
    let only_colour = serde_json::json!({"rotation": {"enabled": false}, "position": {"enabled": false}});
    let mut s = train_on(RunConfig { params: only_colour, ..ci_run("multi-task", 150, 64) }, &colour);
    let eval = block_on(s.evaluate()).unwrap();
    let learnt = eval.metrics.iter().find(|m| m.name == "held_out_colour_acc").unwrap().value;
    // The commonest colour class among the same test cells (7×7 per 28-px image).
    let test = ssl_playground::data::DeviceSplit::new(&colour.test, &colour, Some(1000), &cpu());
    let classes: Vec<i64> = chroma_classes(test.images, [7, 7], 8).into_data().convert::<i64>().try_to_vec::<i64>().unwrap();
    let mut counts = std::collections::HashMap::new();
    classes.iter().for_each(|c| *counts.entry(*c).or_insert(0usize) += 1);
    let commonest = *counts.values().max().unwrap() as f64 / classes.len() as f64;
    eprintln!("colourisation: held-out {learnt:.4}, commonest class {commonest:.4}");
    // Measured (seed 1): 0.740 against 0.381.
    assert!(learnt >= commonest + 0.2, "colour accuracy {learnt:.4} vs the commonest class {commonest:.4}");
}

/// The semi-supervised CI setting: MNIST, 10 labels per class, 600 steps of 32 labelled
/// (+ 32·μ unlabelled) images on the 5,000/1,000 subsets.
fn semi_run(method: &str, params: serde_json::Value) -> RunConfig {
    RunConfig { labels_per_class: 10, params, ..ci_run(method, 600, 32) }
}

/// The smaller setting of the methods whose steps cost most (several passes per step): 300
/// steps of 32 labelled + 32 unlabelled images (μ = 1), otherwise as [`semi_run`].
fn small_semi_run(method: &str, params: serde_json::Value) -> RunConfig {
    RunConfig { labels_per_class: 10, params, ..ci_run(method, 300, 32) }
}

/// Test accuracy of `config` after training on MNIST.
fn mnist_test_acc(config: RunConfig) -> f64 {
    let mut s = train(config, "mnist");
    block_on(s.evaluate()).unwrap().test_acc.unwrap()
}

/// The supervised-only test accuracy of a setting, trained once for every test that asks.
fn baseline(cache: &std::sync::OnceLock<f64>, run: fn(&str, serde_json::Value) -> RunConfig) -> f64 {
    *cache.get_or_init(|| mnist_test_acc(run("supervised", serde_json::Value::Null)))
}

static SUPERVISED_ONLY: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
static SUPERVISED_ONLY_SMALL: std::sync::OnceLock<f64> = std::sync::OnceLock::new();

/// `methods` each beat the supervised-only baseline by their margin at the same labels,
/// backbone and steps, with `params`.
fn beat_baseline(cache: &std::sync::OnceLock<f64>, run: fn(&str, serde_json::Value) -> RunConfig, params: serde_json::Value, methods: &[(&str, f64)]) {
    let alone = baseline(cache, run);
    for &(method, margin) in methods {
        let config = run(method, params.clone());
        let steps = config.steps;
        let acc = mnist_test_acc(config);
        eprintln!("mnist, 10 labels/class, {steps} steps: {method} {acc:.4}, supervised-only {alone:.4}");
        assert!(acc > alone + margin, "{method} {acc:.4} vs supervised-only {alone:.4}");
    }
}

/// At [`semi_run`], μ = 1: at 600 steps each method below led by as much as at μ = 3, for
/// half the images per step (but the Π-model, see its test).
fn beat_supervised_only(methods: &[(&str, f64)]) {
    beat_baseline(&SUPERVISED_ONLY, semi_run, serde_json::json!({"mu": 1}), methods);
}

/// At [`small_semi_run`], μ = 1.
fn beat_supervised_only_small(methods: &[(&str, f64)]) {
    beat_baseline(&SUPERVISED_ONLY_SMALL, small_semi_run, serde_json::json!({"mu": 1}), methods);
}

/// Measured (seed 1, 600 steps): entropy-min 0.896 at μ = 1 (0.892 at μ = 3), pseudo-label
/// 0.905 (0.926), supervised-only 0.851 and 0.861.
#[test]
fn entropy_min_and_pseudo_label_beat_supervised_only_with_ten_labels_per_class() {
    beat_supervised_only(&[("entropy-min", 0.02), ("pseudo-label", 0.03)]);
}

/// [`semi_run`] scored on all 10,000 MNIST test images instead of 1,000 (binomial noise of
/// about 0.35 points instead of 1.1), for the method whose lead is the smallest.
fn semi_run_full_test(method: &str, params: serde_json::Value) -> RunConfig {
    RunConfig { test_limit: None, ..semi_run(method, params) }
}

static SUPERVISED_ONLY_FULL_TEST: std::sync::OnceLock<f64> = std::sync::OnceLock::new();

/// Measured (600 steps, all 10,000 test images, μ = 3): pi-model 0.8775 and 0.8725 (seeds 1
/// and 2), supervised-only 0.8425 and 0.833. On 1,000 test images its lead was 1.3–2.7 points
/// and once none (0.861 against 0.861, in CI), when its dropout still drew from the backend's
/// generator, which parallel tests share. At μ = 1 it led by less (0.860 on 1,000 images; its
/// consistency term needs the unlabelled images). Mean-teacher (1,000 test images): 0.879 at
/// μ = 1 (0.882 at μ = 3), supervised-only 0.851. Temporal Ensembling does not beat the
/// baseline at this budget (0.850 against 0.851; README), so it is not asserted.
#[test]
fn pi_model_and_mean_teacher_beat_supervised_only_with_ten_labels_per_class() {
    beat_baseline(&SUPERVISED_ONLY_FULL_TEST, semi_run_full_test, serde_json::json!({"mu": 3}), &[("pi-model", 0.015)]);
    beat_supervised_only(&[("mean-teacher", 0.01)]);
}

/// Measured (seed 1, 300 steps of 32 + 32): uda 0.884, vat 0.887, supervised-only 0.829.
#[test]
fn uda_and_vat_beat_supervised_only_with_ten_labels_per_class() {
    beat_supervised_only_small(&[("uda", 0.03), ("vat", 0.03)]);
}

/// MixMatch needs the longer run: its unlabelled term ramps up over 40 % of it, and at 300
/// steps it is still level with the baseline (0.820 against 0.829). Measured (seed 1, 600 steps
/// of 32 + 32): 0.898 against supervised-only 0.851 and 0.861.
#[test]
fn mixmatch_beats_supervised_only_with_ten_labels_per_class() {
    beat_supervised_only(&[("mixmatch", 0.02)]);
}

/// Measured (seed 1, 300 steps): remixmatch 0.899 with μ = 2 (0.840 with μ = 1: its
/// unlabelled terms need more unlabelled images per step), label-propagation 0.854 with 86.8 %
/// of its last graph's labels right (μ = 1), supervised-only 0.829.
#[test]
fn remixmatch_and_label_propagation_beat_supervised_only_with_ten_labels_per_class() {
    beat_baseline(&SUPERVISED_ONLY_SMALL, small_semi_run, serde_json::json!({"mu": 2}), &[("remixmatch", 0.03)]);
    // Label Propagation also reports how many propagated labels are right.
    let mut s = train(small_semi_run("label-propagation", serde_json::json!({"mu": 1})), "mnist");
    let eval = block_on(s.evaluate()).unwrap();
    let propagated = eval.metrics.iter().find(|m| m.name == "propagated_label_acc").expect("label propagation reports its labels' accuracy").value;
    let acc = eval.test_acc.unwrap();
    let alone = baseline(&SUPERVISED_ONLY_SMALL, small_semi_run);
    eprintln!("label-propagation: test {acc:.4}, propagated labels {propagated:.4}; supervised-only {alone:.4}");
    assert!(acc > alone + 0.01, "label-propagation {acc:.4} vs supervised-only {alone:.4}");
    assert!(propagated >= 0.75, "propagated label accuracy {propagated:.4}");
}
