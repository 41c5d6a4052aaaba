//! The `sslp` command line: JSON lines with every field the issue names, and clear errors.
use std::process::Command;

fn sslp(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sslp")).args(args).output().expect("sslp runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

const TINY: [&str; 12] = ["--steps", "3", "--batch", "16", "--width", "8", "--train-limit", "300", "--test-limit", "100", "--knn-k", "20"];

#[test]
fn methods_lists_every_method_as_json() {
    let (ok, out, _) = sslp(&["methods"]);
    assert!(ok);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    for id in ["rotnet", "simclr", "fixmatch"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    for m in list.as_array().unwrap() {
        for key in ["family", "name", "paper", "link", "explanation", "defaults", "optimizer"] {
            assert!(!m[key].is_null(), "{} lacks {key}", m["id"]);
        }
    }
}

#[test]
fn train_json_emits_steps_evals_and_a_complete_summary() {
    let mut args = vec!["train", "--method", "fixmatch", "--labels-per-class", "4", "--params", r#"{"mu":2}"#, "--json", "--baseline", "--eval-every", "2"];
    args.extend(TINY);
    let (ok, out, err) = sslp(&args);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("every line is JSON")).collect();
    let steps: Vec<&serde_json::Value> = lines.iter().filter(|l| l["kind"] == "step").collect();
    assert_eq!(steps.len(), 3);
    for s in &steps {
        for key in ["step", "total", "sup", "unsup", "mask_ratio", "lr", "images_per_s"] {
            assert!(s[key].is_number(), "step line lacks {key}: {s}");
        }
    }
    assert!(lines.iter().any(|l| l["kind"] == "eval" && l["step"] == 2));
    let summary = lines.last().unwrap();
    assert_eq!(summary["kind"], "summary");
    for key in ["knn_acc", "random_init_knn_acc", "seconds", "test_acc", "supervised_only_acc"] {
        assert!(summary[key].is_number(), "summary lacks {key}: {summary}");
    }
    assert_eq!(summary["method"], "fixmatch");
    assert_eq!(summary["dataset"], "fashion-mnist");
    assert_eq!(summary["steps"], 3);
    let layers = summary["knn_by_layer"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    assert!(layers.iter().all(|l| l["trained"].is_number() && l["untrained"].is_number()));
}

#[test]
fn rotnet_summary_has_pretext_accuracy_and_progress_bar_without_json() {
    let mut args = vec!["train", "--method", "rotnet", "--backbone", "resnet-tiny"];
    args.extend(TINY);
    let (ok, _, err) = sslp(&args);
    assert!(ok, "{err}");
    assert!(err.contains("3/3") && err.contains("ETA") && err.contains("img/s"), "{err}");
    assert!(err.contains("\"pretext_acc\""), "{err}");
    assert_eq!(err.matches("\"layer\"").count(), 4, "resnet-tiny has a stem and three stages");
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    for (args, want) in [
        (vec!["train", "--method", "mocov9"], "unknown method 'mocov9'"),
        (vec!["train", "--batch", "1"], "batch size 1"),
        (vec!["train", "--steps", "ten"], "--steps ten: not a valid number"),
        (vec!["train", "--dataset", "/nonexistent/x.sslp.gz"], "cannot read dataset pack"),
        (vec!["train", "--device", "tpu"], "unknown device 'tpu'"),
        (vec!["train", "--params", "{oops"], "--params is not JSON"),
        (vec!["train", "--colour", "red"], "unknown option --colour"),
    ] {
        let (ok, _, err) = sslp(&args);
        assert!(!ok, "{args:?} should fail");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn a_corrupt_pack_file_is_named() {
    let path = std::env::temp_dir().join(format!("sslp-bad-{}.sslp.gz", std::process::id()));
    std::fs::write(&path, b"\x1f\x8bnot really gzip").unwrap();
    let (ok, _, err) = sslp(&["train", "--dataset", path.to_str().unwrap(), "--steps", "1"]);
    std::fs::remove_file(&path).ok();
    assert!(!ok);
    assert!(err.contains("not valid gzip"), "{err}");
}
