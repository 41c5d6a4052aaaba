//! Tier 3: every registered method trains on real images: finite losses that fall over 20
//! steps on a small fixed pool, and post-step hooks that do what they say.
mod common;
use common::{cpu, pack};
use ssl_playground::exec::block_on;
use ssl_playground::methods::{MethodKind, ALL_METHODS};
use ssl_playground::train::native_clock;
use ssl_playground::{RunConfig, Session, SessionError};

/// Which term each method must drive down. Semi-supervised totals include the unlabelled
/// term, which starts at zero (no confident pseudo-label yet) and rises as confidence grows,
/// so their supervised term is the one that must fall.
fn learning_term(kind: MethodKind) -> &'static str {
    match kind {
        MethodKind::FixMatch | MethodKind::Supervised => "sup",
        _ => "total",
    }
}

fn small_run(method: &str, steps: usize) -> RunConfig {
    RunConfig {
        method: method.into(),
        dataset: "fashion-mnist".into(),
        width: 8,
        steps,
        batch_size: 32,
        labels_per_class: 4,
        train_limit: Some(320),
        test_limit: Some(100),
        knn_k: 20,
        ..RunConfig::default()
    }
}

#[test]
fn every_method_gives_finite_falling_losses() {
    let p = pack("fashion-mnist");
    for kind in ALL_METHODS {
        let mut config = small_run(kind.id(), 20);
        if kind == MethodKind::FixMatch {
            config.params = serde_json::json!({"mu": 2});
        }
        let mut s = Session::new(config, &p, cpu(), native_clock()).unwrap();
        let term = learning_term(kind);
        let mut values = Vec::new();
        for _ in 0..20 {
            let r = block_on(s.step()).unwrap_or_else(|e| panic!("{}: {e}", kind.id()));
            for (name, v) in &r.terms {
                assert!(v.is_finite(), "{}: {name} = {v}", kind.id());
            }
            for expected in kind.info().loss_terms {
                assert!(r.term(&expected).is_some(), "{} did not report {expected}", kind.id());
            }
            values.push(r.term(term).unwrap());
        }
        let first: f64 = values[..5].iter().sum::<f64>() / 5.0;
        let last: f64 = values[15..].iter().sum::<f64>() / 5.0;
        assert!(last < first, "{}: {term} went from {first:.4} to {last:.4}", kind.id());
        eprintln!("{}: {term} {first:.4} → {last:.4}", kind.id());
    }
}

#[test]
fn registry_metadata_is_complete() {
    for kind in ALL_METHODS {
        let info = kind.info();
        assert_eq!(MethodKind::parse(&info.id).unwrap(), kind);
        assert!(info.link.starts_with("https://arxiv.org/abs/"), "{}", info.id);
        assert!(info.explanation.len() > 200, "{} needs a real explanation", info.id);
        assert!(info.defaults.is_object());
        assert!(info.loss_terms.first().map(String::as_str) == Some("total"));
    }
}

#[test]
fn bad_method_params_are_named() {
    let p = pack("fashion-mnist");
    let mut c = small_run("simclr", 5);
    c.params = serde_json::json!({"temprature": 0.2});
    let e = Session::new(c.clone(), &p, cpu(), native_clock()).err().unwrap().to_string();
    assert!(e.contains("no parameter 'temprature'") && e.contains("temperature"), "{e}");
    c.params = serde_json::json!({"temperature": -1.0});
    let e = Session::new(c, &p, cpu(), native_clock()).err().unwrap().to_string();
    assert!(e.contains("temperature -1"), "{e}");
    let mut f = small_run("fixmatch", 5);
    f.labels_per_class = 500; // the 320-image pool has ~32 per class
    let e = Session::new(f, &p, cpu(), native_clock()).err().unwrap().to_string();
    assert!(e.contains("lower --labels-per-class"), "{e}");
}

#[test]
fn a_nan_loss_pauses_without_losing_the_model() {
    let p = pack("fashion-mnist");
    let mut c = small_run("simclr", 10);
    // τ = 1e-45 is positive (so the config is accepted) but 1/τ overflows f32: the logits
    // become infinite and the loss NaN on the first step.
    c.params = serde_json::json!({"temperature": 1e-45});
    let mut s = Session::new(c, &p, cpu(), native_clock()).unwrap();
    let before = block_on(s.evaluate()).unwrap();
    match block_on(s.step()) {
        Err(SessionError::NonFinite { step, term }) => {
            assert_eq!(step, 1, "the first step failed");
            assert_eq!(term, "total");
        }
        other => panic!("expected a NaN error, got {other:?}"),
    }
    let msg = SessionError::NonFinite { step: 1, term: "total".into() }.to_string();
    assert!(msg.contains("step 1") && msg.contains("Lower the learning rate"));
    // The step was not applied: the model and its kNN accuracy are unchanged.
    assert_eq!(s.step_count(), 0);
    let after = block_on(s.evaluate()).unwrap();
    assert_eq!(before.knn_acc, after.knn_acc);
}

/// A session after three steps, and its evaluation: the "before" of the save/resume tests.
fn trained_for_three_steps(c: &RunConfig, p: &ssl_playground::data::Pack) -> (Session, ssl_playground::report::EvalReport) {
    let mut s = Session::new(c.clone(), p, cpu(), native_clock()).unwrap();
    for _ in 0..3 {
        block_on(s.step()).unwrap();
    }
    let report = block_on(s.evaluate()).unwrap();
    (s, report)
}

#[test]
fn checkpoint_round_trip_restores_the_embedding() {
    let p = pack("fashion-mnist");
    let c = small_run("rotnet", 3);
    let (a, trained) = trained_for_three_steps(&c, &p);
    let bytes = a.save_checkpoint().unwrap();
    let mut fresh = c.clone();
    fresh.seed = 99; // different init, so equality below comes from the checkpoint
    let mut b = Session::new(fresh, &p, cpu(), native_clock()).unwrap();
    b.load_checkpoint(bytes).unwrap();
    let restored = block_on(b.evaluate()).unwrap();
    assert_eq!(trained.knn_acc, restored.knn_acc);
    assert_eq!(trained.pretext_acc, restored.pretext_acc);
    // A checkpoint of another architecture is refused with a message.
    let other = Session::new(small_run("simclr", 1), &p, cpu(), native_clock()).unwrap();
    let e = b.load_checkpoint(other.save_checkpoint().unwrap()).unwrap_err().to_string();
    assert!(e.contains("same method"), "{e}");
}

/// The page's "resume on CPU" path: a state read with async reads (as on WebGPU) and loaded
/// into a fresh session gives the same model, BatchNorm statistics included, and the same
/// place in the schedule; a state of another architecture is refused.
#[test]
fn exported_state_resumes_in_a_fresh_session() {
    let p = pack("fashion-mnist");
    let c = small_run("fixmatch", 4);
    let (a, trained) = trained_for_three_steps(&c, &p);
    let state = block_on(a.export_state()).unwrap();
    let mut fresh = c.clone();
    fresh.seed = 99;
    let mut b = Session::new(fresh, &p, cpu(), native_clock()).unwrap();
    assert_ne!(block_on(b.export_state()).unwrap(), state, "a different init must differ before the import");
    b.import_state(&state, 3).unwrap();
    // Every float tensor, BatchNorm's running mean and variance included, arrived as it was.
    assert_eq!(block_on(b.export_state()).unwrap(), state);
    let resumed = block_on(b.evaluate()).unwrap();
    assert_eq!(resumed.knn_acc, trained.knn_acc);
    assert_eq!(resumed.test_acc, trained.test_acc);
    assert_eq!(b.step_count(), 3);
    assert_eq!(b.lr(), a.lr());
    block_on(b.step()).expect("training continues after the import");
    let other = Session::new(small_run("simclr", 1), &p, cpu(), native_clock()).unwrap();
    let e = b.import_state(&block_on(other.export_state()).unwrap(), 0).unwrap_err().to_string();
    assert!(e.contains("another method"), "{e}");
}

#[test]
fn neighbours_views_and_map_answer_mid_training() {
    let p = pack("fashion-mnist");
    let mut s = Session::new(small_run("simclr", 5), &p, cpu(), native_clock()).unwrap();
    block_on(s.step()).unwrap();
    let n = block_on(s.neighbours_of_test(3, 5)).unwrap();
    assert_eq!(n.len(), 5);
    assert!(n.windows(2).all(|w| w[0].similarity >= w[1].similarity));
    assert!(n.iter().all(|x| x.similarity <= 1.0 + 1e-4 && x.index < 320));
    // A train image's nearest neighbour in the bank is itself, at cosine 1.
    let img = s.train_split().images.clone().narrow(0, 7, 1);
    let own = block_on(s.neighbours_of_image(img, 1)).unwrap();
    assert_eq!(own[0].index, 7);
    assert!((own[0].similarity - 1.0).abs() < 1e-4);
    assert!(block_on(s.neighbours_of_test(10_000, 5)).is_err());
    let views = s.views(4);
    assert_eq!(views.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["original", "view 1", "view 2"]);
    let map = block_on(s.embedding_map()).unwrap();
    assert_eq!(map.len(), 100);
    assert!(map.iter().all(|xy| xy[0].is_finite() && xy[1].is_finite()));
}
