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

const COMMANDS: [&str; 6] = ["methods", "train", "bench", "pack", "export", "sweep"];

/// `sslp COMMAND --help` and `sslp help COMMAND` print that command's help and run nothing
/// (`train --help` once started a default run); `sslp --help` names every command.
#[test]
fn help_after_a_command_prints_usage_instead_of_running() {
    for command in COMMANDS {
        for args in [[command, "--help"], ["help", command]] {
            let (ok, out, err) = sslp(&args);
            assert!(ok, "{args:?}: {err}");
            assert!(out.contains(&format!("Usage: sslp {command}")), "{args:?} printed: {out}");
            assert!(!out.contains("\"kind\"") && !out.contains("\"id\"") && !err.contains("untrained kNN"), "{args:?} started work: {out} {err}");
        }
    }
    let (ok, out, err) = sslp(&["--help"]);
    assert!(ok && out.contains("Usage: sslp <COMMAND>"), "{out} {err}");
    for command in COMMANDS {
        assert!(out.lines().any(|l| l.trim_start().starts_with(command)), "sslp --help lacks {command}: {out}");
    }
    let (ok, out, err) = sslp(&[]);
    assert!(!ok && out.is_empty() && err.contains("Usage: sslp <COMMAND>"), "no command: {out} {err}");
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
    // stderr is a pipe here, not a terminal: plain lines (the first step and the last, in a
    // run this short), no carriage-return frames.
    assert!(!err.contains('\r'), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("step ")).count(), 2, "{err}");
    assert!(err.contains("\"pretext_acc\""), "{err}");
    assert_eq!(err.matches("\"layer\"").count(), 4, "resnet-tiny has a stem and three stages");
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    for (args, want) in [
        (vec!["train", "--method", "mocov9"], "unknown method 'mocov9'"),
        (vec!["train", "--batch", "1"], "batch size 1"),
        (vec!["train", "--steps", "ten"], "invalid value 'ten' for '--steps <N>'"),
        (vec!["train", "--dataset", "/nonexistent/x.sslp.gz"], "cannot read dataset pack"),
        (vec!["train", "--device", "tpu"], "unknown device 'tpu'"),
        (vec!["train", "--params", "{oops"], "--params is not JSON"),
        (vec!["train", "--colour", "red"], "unexpected argument '--colour'"),
        (vec!["train", "--steps"], "a value is required for '--steps <N>'"),
        (vec!["bench", "--labels-per-class", "4"], "unexpected argument '--labels-per-class'"),
        (vec!["pack", "--images", "x", "--idx-dir", "y", "--out", "z"], "cannot be used with"),
        (vec!["pack", "--images", "x", "--out", "z", "--train-per-class", "5"], "cannot be used with '--train-per-class <N>'"),
        (vec!["pack", "--idx-dir", "x", "--name", "mnist", "--out", "z", "--size", "48"], "cannot be used with '--size <PX>'"),
        (vec!["pack", "--idx-dir", "x", "--out", "z"], "required arguments were not provided"),
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

/// A scratch folder for one test, removed when it ends.
struct Scratch(std::path::PathBuf);
impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("sslp-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self, file: &str) -> String {
        self.0.join(file).to_str().unwrap().to_owned()
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

const LONG: [&str; 12] = ["--steps", "300", "--batch", "16", "--width", "8", "--train-limit", "400", "--test-limit", "100", "--knn-k", "20"];

#[test]
fn an_unwritable_save_path_is_refused_before_training() {
    let (ok, out, err) = sslp(&["train", "--save", "/nonexistent-dir/run.ckpt", "--steps", "3"]);
    assert!(!ok);
    assert!(err.contains("cannot write the checkpoint to /nonexistent-dir/run.ckpt") && err.contains("before training starts"), "{err}");
    assert!(!out.contains("\"step\""), "no step may run: {out}");
    let (ok, _, err) = sslp(&["train", "--checkpoint-every", "5", "--steps", "3"]);
    assert!(!ok && err.contains("--checkpoint-every needs --save"), "{err}");
}

/// Ctrl-C mid-run keeps the work (checkpoint + summary), and --resume finishes the run from
/// the next step; a damaged checkpoint and a changed setting are refused by name.
#[test]
fn ctrl_c_keeps_a_checkpoint_and_resume_finishes_the_run() {
    use std::io::{BufRead, BufReader};
    let dir = Scratch::new("ctrlc");
    let ckpt = dir.path("run.ckpt");
    let mut args = vec!["train", "--json", "--save", &ckpt, "--checkpoint-every", "2"];
    args.extend(LONG);
    let mut child = Command::new(env!("CARGO_BIN_EXE_sslp")).args(&args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let step = v["step"].as_u64();
        seen.push(v);
        if step >= Some(4) {
            break;
        }
    }
    assert!(std::path::Path::new(&ckpt).exists(), "--checkpoint-every 2 wrote a checkpoint by step 4");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    seen.extend(lines.map(|l| serde_json::from_str::<serde_json::Value>(&l.unwrap()).unwrap()));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "Ctrl-C exits with 130");
    let summary = seen.last().unwrap();
    assert_eq!(summary["kind"], "summary", "{summary}");
    assert_eq!(summary["stopped_early"], "interrupted");
    assert_eq!(summary["checkpoint"], ckpt.as_str());
    assert!(summary["knn_acc"].is_number());
    let stopped_at = summary["steps"].as_u64().unwrap();
    assert!((4..300).contains(&stopped_at), "stopped at {stopped_at}");

    // Changing a setting other than --lr is refused; so is a damaged file.
    let (ok, _, err) = sslp(&["train", "--resume", &ckpt, "--batch", "32"]);
    assert!(!ok && err.contains("leave out --batch"), "{err}");
    let mut damaged = std::fs::read(&ckpt).unwrap();
    let at = damaged.len() / 3;
    damaged[at] ^= 1;
    let bad = dir.path("damaged.ckpt");
    std::fs::write(&bad, damaged).unwrap();
    let (ok, _, err) = sslp(&["train", "--resume", &bad]);
    assert!(!ok && err.contains("checksum does not match"), "{err}");

    // Resume (at a lower learning rate, as after a NaN): the run goes on from the next step.
    let (ok, out, err) = sslp(&["train", "--resume", &ckpt, "--json", "--lr", "0.01"]);
    assert!(ok, "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines[0]["resumed_from"], stopped_at);
    let steps: Vec<u64> = lines.iter().filter(|l| l["kind"] == "step").map(|l| l["step"].as_u64().unwrap()).collect();
    assert_eq!(steps.first(), Some(&(stopped_at + 1)));
    assert_eq!(steps.last(), Some(&300));
    assert!(lines.iter().filter(|l| l["kind"] == "step").all(|l| l["lr"].as_f64().unwrap() <= 0.01), "the new learning rate applies");
    let summary = lines.last().unwrap();
    assert_eq!(summary["steps"], 300);
    assert!(summary.get("stopped_early").is_none());
}

#[test]
fn a_closed_stdout_ends_the_run_quietly_with_its_checkpoint() {
    use std::io::{BufRead, BufReader};
    let dir = Scratch::new("pipe");
    let mut args = vec!["train", "--json"];
    args.extend(LONG);
    let mut child = Command::new(env!("CARGO_BIN_EXE_sslp"))
        .args(&args)
        .current_dir(&dir.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap(); // `| head -1`, then the reader goes
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("output closed at step") && err.contains("sslp train --resume"), "{err}");
    let written: Vec<_> = std::fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(written.iter().any(|f| f.starts_with("sslp-simclr-step") && f.ends_with(".ckpt")), "{written:?}");
}

#[test]
fn a_nan_loss_writes_a_checkpoint_and_says_how_to_resume() {
    let dir = Scratch::new("nan");
    let ckpt = dir.path("nan.ckpt");
    let mut args = vec!["train", "--json", "--save", &ckpt, "--params", r#"{"temperature":1e-45}"#];
    args.extend(TINY);
    let (ok, out, err) = sslp(&args);
    assert!(!ok);
    assert!(err.contains("became NaN or infinite at step 1") && err.contains(&format!("sslp train --resume {ckpt} --lr")), "{err}");
    let summary = json_lines(&out).pop().unwrap();
    assert_eq!(summary["stopped_early"], "non-finite loss");
    assert_eq!(summary["steps"], 0);
    assert!(std::path::Path::new(&ckpt).exists());
}

#[test]
fn bench_and_knn_settings_are_bounded() {
    let (ok, _, err) = sslp(&["bench", "--runs", "0"]);
    assert!(!ok && err.contains("a benchmark needs 1..=1000 runs"), "{err}");
    // τ = 1e-4 used to overflow exp(s/τ) into NaN votes and a chance-level 8 % kNN.
    let mut args = vec!["train", "--json", "--method", "supervised", "--knn-t", "1e-4"];
    args.extend(TINY);
    let (ok, out, err) = sslp(&args);
    assert!(ok, "{err}");
    let summary = json_lines(&out).pop().unwrap();
    assert!(summary["knn_acc"].as_f64().unwrap() > 0.3, "{summary}");
    let (ok, _, err) = sslp(&["train", "--knn-t", "0"]);
    assert!(!ok && err.contains("knn_temperature = 0 must be a number in"), "{err}");
}

/// `--conv im2col` trains through the im2col convolution and says so in its line; an unknown
/// path is named.
#[test]
fn bench_measures_either_convolution_path() {
    for conv in ["burn", "im2col"] {
        let (ok, out, err) = sslp(&["bench", "--method", "supervised", "--runs", "1", "--steps", "2", "--batch", "8", "--width", "4", "--conv", conv]);
        assert!(ok, "{conv}: {err}");
        let line = json_lines(&out).pop().unwrap();
        assert_eq!(line["conv"], conv, "{line}");
        assert!(line["images_per_s_median"].as_f64().unwrap() > 0.0, "{line}");
    }
    let (ok, _, err) = sslp(&["bench", "--conv", "winograd"]);
    assert!(!ok && err.contains("unknown convolution path 'winograd': use burn or im2col"), "{err}");
}

/// An IDX file: magic, big-endian dims, then the bytes.
fn idx(dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

#[test]
fn sslp_pack_names_bad_input_and_writes_only_loadable_packs() {
    let cases: [(&str, u32, Vec<u8>, &str); 4] = [
        ("bad label", 8, (0..20).map(|i| if i == 5 { 12 } else { (i % 10) as u8 }).collect(), "label #5 is 12"),
        ("4 px images", 4, (0..20).map(|i| (i % 10) as u8).collect(), "4×4; packs hold sides of 8..=256 px"),
        ("300 px images", 300, (0..20).map(|i| (i % 10) as u8).collect(), "300×300; packs hold sides of 8..=256 px"),
        ("overflowing dims", u32::MAX, (0..20).map(|i| (i % 10) as u8).collect(), "ask for more than"),
    ];
    for (what, side, labels, want) in cases {
        let dir = Scratch::new(&format!("pack-{}", what.replace(' ', "-")));
        let n = labels.len() as u32;
        let pixels = if side == u32::MAX { vec![] } else { vec![0u8; (n * side * side) as usize] };
        for (split, file) in [("train", "train"), ("test", "t10k")] {
            let _ = split;
            std::fs::write(dir.0.join(format!("{file}-images-idx3-ubyte")), idx(&[n, side, side], &pixels)).unwrap();
            std::fs::write(dir.0.join(format!("{file}-labels-idx1-ubyte")), idx(&[n], &labels)).unwrap();
        }
        let out = dir.path("out.sslp.gz");
        let (ok, _, err) = sslp(&["pack", "--idx-dir", dir.0.to_str().unwrap(), "--name", "mnist", "--out", &out]);
        assert!(!ok, "{what}: should fail");
        assert!(err.contains(want) && !err.contains("panicked"), "{what}: {err}");
        assert!(!std::path::Path::new(&out).exists(), "{what}: nothing may be written");
    }
    // A good folder makes a pack that `sslp train` loads.
    let dir = Scratch::new("pack-good");
    let labels: Vec<u8> = (0..20).map(|i| (i % 10) as u8).collect();
    for file in ["train", "t10k"] {
        std::fs::write(dir.0.join(format!("{file}-images-idx3-ubyte")), idx(&[20, 8, 8], &[100u8; 20 * 64])).unwrap();
        std::fs::write(dir.0.join(format!("{file}-labels-idx1-ubyte")), idx(&[20], &labels)).unwrap();
    }
    let out = dir.path("good.sslp.gz");
    let (ok, _, err) = sslp(&["pack", "--idx-dir", dir.0.to_str().unwrap(), "--name", "mnist", "--out", &out]);
    assert!(ok, "{err}");
    let (ok, _, err) = sslp(&["train", "--dataset", &out, "--method", "rotnet", "--steps", "1", "--batch", "4", "--width", "4", "--knn-k", "3"]);
    assert!(ok, "{err}");
}

/// `sslp sweep`: a JSON line per label count with the method's and supervised-only's test
/// accuracy at the same labels and steps; clear errors for a method without labels and for
/// label counts that are not whole numbers or repeat.
#[test]
fn sweep_prints_a_line_per_label_count_and_names_bad_input() {
    let mut args = vec!["sweep", "--method", "fixmatch", "--labels", "2,1", "--params", r#"{"mu":1}"#];
    args.extend(TINY);
    let (ok, out, err) = sslp(&args);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("every line is JSON")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    for (line, labels) in lines.iter().zip([2, 1]) {
        assert_eq!(line["kind"], "sweep");
        assert_eq!(line["method"], "fixmatch");
        assert_eq!(line["labels_per_class"], labels);
        assert_eq!(line["steps"], 3);
        for key in ["test_acc", "supervised_only_acc", "gain", "seconds"] {
            assert!(line[key].is_number(), "sweep line lacks {key}: {line}");
        }
    }
    for (bad, says) in [
        (vec!["sweep", "--method", "simclr"], "trains no classifier on labels"),
        (vec!["sweep", "--method", "supervised"], "the baseline each point is compared with"),
        (vec!["sweep", "--method", "fixmatch", "--labels", "1,x"], "whole numbers"),
        (vec!["sweep", "--method", "fixmatch", "--labels", "4,4"], "given twice"),
        (vec!["sweep", "--method", "fixmatch", "--labels", "1,2,3,4,5,6,7,8,9"], "1 to 8 label counts"),
        (vec!["sweep", "--method", "fixmatch", "--save", "x.ckpt"], "unexpected argument '--save'"),
    ] {
        let (ok, _, err) = sslp(&bad);
        assert!(!ok && err.contains(says), "{bad:?}: {err}");
    }
}

/// `--attention-maps DIR` writes one PNG per test image (the image, a panel per head and the
/// heads' mean), names them in a JSON line, and is refused before training on a CNN.
#[test]
fn attention_maps_are_written_as_pngs_for_vit_tiny_only() {
    let dir = Scratch::new("attention");
    let maps = dir.path("maps");
    let mut args = vec!["train", "--method", "dino", "--backbone", "vit-tiny", "--json", "--attention-maps", &maps];
    args.extend(TINY);
    let (ok, out, err) = sslp(&args);
    assert!(ok, "{err}");
    let line = json_lines(&out).into_iter().find(|l| l["kind"] == "attention_maps").expect("a JSON line names the files");
    let files: Vec<&str> = line["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(files.len(), 8, "{files:?}");
    for file in files {
        let png = image::open(file).unwrap_or_else(|e| panic!("{file}: {e}")).to_rgb8();
        // Width 8 gives one head: the image, its head and the mean, 224 px each with 4 px gaps.
        assert_eq!((png.width(), png.height()), (3 * 224 + 2 * 4, 224), "{file}");
        let (first, last) = (png.get_pixel(0, 0), png.get_pixel(png.width() - 1, 0));
        assert_ne!(first, last, "{file}: the overlay differs from the image");
    }
    let (ok, out, err) = sslp(&["train", "--method", "dino", "--attention-maps", &maps, "--steps", "3"]);
    assert!(!ok && err.contains("--attention-maps") && err.contains("vit-tiny"), "{err}");
    assert!(!out.contains("\"step\""), "refused before training: {out}");
}

/// The `[default: X]` that a command's help shows for `--flag`, from the flag's line and the
/// help lines under it.
fn shown_default(help: &str, flag: &str) -> String {
    let mut lines = help.lines().skip_while(|l| !l.trim_start().starts_with(&format!("--{flag} ")));
    let first = lines.next().unwrap_or_else(|| panic!("--{flag} is not in the help: {help}"));
    let entry: String = std::iter::once(first).chain(lines.take_while(|l| !l.trim_start().starts_with('-'))).collect();
    let default = entry.split("[default: ").nth(1).and_then(|rest| rest.split(']').next());
    default.unwrap_or_else(|| panic!("--{flag} shows no default: {entry}")).to_owned()
}

/// The help's defaults are the real ones: each `[default: X]` that `sslp train --help` shows
/// for a run setting is what `RunConfig::default()` holds (the help once said `--knn-k 200`,
/// the default was 20). A repeated option is refused.
#[test]
fn help_defaults_are_the_real_defaults() {
    let (ok, help, err) = sslp(&["train", "--help"]);
    assert!(ok, "{err}");
    let defaults = serde_json::to_value(ssl_playground::RunConfig::default()).unwrap();
    for (flag, field) in [("width", "width"), ("steps", "steps"), ("batch", "batch_size"), ("seed", "seed"), ("labels-per-class", "labels_per_class"), ("eval-every", "eval_every"), ("knn-k", "knn_k"), ("knn-t", "knn_temperature")] {
        let (shown, real) = (shown_default(&help, flag), &defaults[field]);
        assert_eq!(shown.parse::<f64>().ok(), real.as_f64(), "--{flag}: help says {shown}, the default is {real}");
    }
    for (flag, field) in [("method", "method"), ("dataset", "dataset"), ("backbone", "backbone")] {
        let (shown, real) = (shown_default(&help, flag), &defaults[field]);
        assert_eq!(Some(shown.as_str()), real.as_str(), "--{flag}: help says {shown}, the default is {real}");
    }
    let (ok, _, err) = sslp(&["train", "--steps", "3", "--steps", "4"]);
    assert!(!ok && err.contains("'--steps <N>' cannot be used multiple times"), "{err}");
}

/// `sslp pack --images`: a folder of PNG and JPEG files in two class folders, with a corrupt
/// file, an empty one and a loose one, becomes a colour pack that `sslp train` loads; every
/// file left out is named in the JSON report.
#[test]
fn sslp_pack_images_imports_a_folder_and_names_bad_files() {
    let dir = Scratch::new("pack-images");
    let root = dir.0.join("pets");
    for (class, hue) in [("cats", [220u8, 40, 40]), ("dogs", [40u8, 40, 220])] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..6u32 {
            let img = image::RgbImage::from_fn(40 + i, 36, |x, y| image::Rgb(if (x + y + i) % 9 < 4 { hue } else { [250, 250, 250] }));
            let ext = if i % 2 == 0 { "png" } else { "jpg" };
            img.save(root.join(class).join(format!("{i}.{ext}"))).unwrap();
        }
    }
    std::fs::write(root.join("cats/broken.png"), b"\x89PNG\r\n\x1a\ncut short").unwrap();
    std::fs::write(root.join("dogs/empty.jpg"), b"").unwrap();
    image::RgbImage::new(8, 8).save(root.join("loose.png")).unwrap();
    let out = dir.path("pets.sslp.gz");
    let (ok, stdout, err) = sslp(&["pack", "--images", root.to_str().unwrap(), "--out", &out, "--size", "32"]);
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!((report["train"].as_u64(), report["test"].as_u64(), report["channels"].as_u64()), (Some(10), Some(2), Some(3)), "{report}");
    let skipped: Vec<&str> = report["skipped"].as_array().unwrap().iter().map(|s| s["path"].as_str().unwrap()).collect();
    assert_eq!(skipped, ["cats/broken.png", "dogs/empty.jpg"], "{report}");
    assert_eq!(report["unlabelled"].as_u64(), Some(1), "the image outside any class folder trains, unlabelled: {report}");
    assert!(err.contains("skipped cats/broken.png: corrupt"), "{err}");
    let (ok, stdout, err) = sslp(&["train", "--dataset", &out, "--method", "simclr", "--steps", "2", "--batch", "8", "--width", "4", "--knn-k", "3", "--json"]);
    assert!(ok, "{err}");
    assert!(stdout.contains("\"summary\""), "{stdout}");
    let (ok, _, err) = sslp(&["pack", "--images", root.to_str().unwrap(), "--out", &out, "--size", "40"]);
    assert!(!ok && err.contains("choose 32, 48 or 64"), "{err}");
}

/// `sslp export`: a saved run becomes the Embedding Projector's four files, whose shapes agree.
#[test]
fn sslp_export_writes_the_projector_files_of_a_checkpoint() {
    let dir = Scratch::new("export");
    let ckpt = dir.path("run.ckpt");
    let (ok, _, err) = sslp(&["train", "--method", "simclr", "--steps", "2", "--batch", "8", "--width", "4", "--train-limit", "64", "--test-limit", "30", "--knn-k", "3", "--save", &ckpt]);
    assert!(ok, "{err}");
    let out = dir.path("projector.zip");
    let (ok, _, err) = sslp(&["export", "--load", &ckpt, "--out", &out, "--limit", "25"]);
    assert!(ok, "{err}");
    let files = ssl_playground::data::zip::read(&std::fs::read(&out).unwrap()).unwrap();
    let text = |name: &str| String::from_utf8(files.iter().find(|f| f.path == name).unwrap().bytes.clone().unwrap()).unwrap();
    let rows: Vec<usize> = text("tensors.tsv").lines().map(|l| l.split('\t').count()).collect();
    assert_eq!(rows.len(), 25);
    assert!(rows.iter().all(|&d| d == rows[0] && d > 1), "{rows:?}");
    assert_eq!(text("metadata.tsv").lines().count(), 26, "a header and a line per image");
    let config: serde_json::Value = serde_json::from_str(&text("projector_config.json")).unwrap();
    assert_eq!(config["embeddings"][0]["tensorShape"], serde_json::json!([25, rows[0]]));
    let sprite = files.iter().find(|f| f.path == "sprite.png").unwrap().bytes.clone().unwrap();
    let sprite = image::load_from_memory(&sprite).unwrap();
    assert_eq!((sprite.width(), sprite.height()), (5 * 28, 5 * 28), "a 5×5 grid of 28-px images");
    // Without --limit: every test image the run used (its --test-limit of 30).
    let (ok, _, err) = sslp(&["export", "--load", &ckpt, "--out", &out]);
    assert!(ok, "{err}");
    let files = ssl_playground::data::zip::read(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(String::from_utf8(files[0].bytes.clone().unwrap()).unwrap().lines().count(), 30);
    let (ok, _, err) = sslp(&["export", "--load", &dir.path("missing.ckpt"), "--out", &out]);
    assert!(!ok && err.contains("cannot read checkpoint"), "{err}");
}

/// Weights as safetensors: `sslp export --weights` writes what the page's Weights button
/// writes (the same Session code), and `sslp train --load` starts from it exactly as from the
/// checkpoint it came from: the same first loss.
#[test]
fn safetensors_weights_round_trip_through_load() {
    let dir = Scratch::new("safetensors");
    let ckpt = dir.path("run.ckpt");
    let small = ["--method", "byol", "--batch", "8", "--width", "4", "--train-limit", "64", "--test-limit", "30", "--knn-k", "3"];
    let (ok, _, err) = sslp(&[&["train", "--steps", "3", "--save", &ckpt][..], &small[..]].concat());
    assert!(ok, "{err}");
    let weights = dir.path("run.safetensors");
    let (ok, _, err) = sslp(&["export", "--load", &ckpt, "--weights", &weights]);
    assert!(ok, "{err}");
    let bytes = std::fs::read(&weights).unwrap();
    let (tensors, meta) = ssl_playground::weights::decode(&bytes).unwrap();
    assert_eq!((meta["method"].as_str(), meta["step"].as_str()), ("byol", "3"));
    assert!(tensors.iter().any(|t| t.name.starts_with("online.backbone.SmallCnn.") && t.name.ends_with("conv.weight")), "{:?}", tensors.iter().map(|t| &t.name).collect::<Vec<_>>());
    let first_loss = |load: &str| {
        let (ok, out, err) = sslp(&[&["train", "--steps", "1", "--json", "--load", load][..], &small[..]].concat());
        assert!(ok, "{err}");
        json_lines(&out).into_iter().find(|l| l["kind"] == "step").expect("a step line")["total"].as_f64().unwrap()
    };
    let (from_ckpt, from_weights) = (first_loss(&ckpt), first_loss(&weights));
    assert_eq!(from_ckpt, from_weights, "the same weights give the same first loss");
    // A file for another width is refused by name.
    let (ok, _, err) = sslp(&["train", "--steps", "1", "--load", &weights, "--width", "8", "--batch", "8", "--method", "byol", "--train-limit", "64", "--test-limit", "30", "--knn-k", "3"]);
    assert!(!ok && err.contains("use the width they were saved with"), "{err}");
}
