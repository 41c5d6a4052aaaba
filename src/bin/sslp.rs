//! `sslp`: the native command line over the same core the browser runs.
//!
//! ```text
//! sslp methods
//! sslp train --method simclr --dataset fashion-mnist --backbone small-cnn --steps 600 --batch 128 --device cpu --seed 1 --json
//! sslp bench --method simclr --device cpu
//! sslp pack --idx-dir DIR --name NAME --out FILE [--train-per-class N] [--test-per-class N]
//! sslp pack --images DIR|FILE.zip --out FILE [--size 32|48|64] [--name NAME] [--seed 1]
//! sslp export --load FILE.ckpt [--out FILE.zip] [--limit 2000] [--weights FILE.safetensors]
//! ```
use ssl_playground::data::{self, pack, Pack};
use ssl_playground::device::native_device;
use ssl_playground::exec::block_on;
use ssl_playground::registry::{MethodKind, ALL_METHODS};
use ssl_playground::report::{finite, Summary};
use ssl_playground::session::native_clock;
use ssl_playground::checkpoint::Checkpoint;
use ssl_playground::optim::OptimConfig;
use ssl_playground::{RunConfig, Session, SessionError};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

const USAGE: &str = "usage:
  sslp methods                                  list methods (JSON)
  sslp train [options]                          train; --json for JSON lines
  sslp bench [--method ID|all] [--device cpu|wgpu] [--runs 5] [--steps 10] [--batch 64] [--width 32] [--params JSON]
  sslp pack --idx-dir DIR --name NAME --out FILE [--train-per-class N] [--test-per-class N]
  sslp pack --images DIR|FILE.zip --out FILE [--size 32|48|64] [--name NAME] [--seed 1]
                                                your own images: one subfolder per class
                                                (PNG, JPEG, WebP, GIF, BMP); prints a JSON report
  sslp export --load FILE.ckpt [--out FILE.zip] [--limit 2000] [--weights FILE.safetensors]
                                                the checkpoint's embeddings of the test images
                                                for the TensorFlow Embedding Projector (--out),
                                                and/or its weights as safetensors (--weights)
  sslp sweep --method ID [--labels 1,4,10] [train options]
                                                label efficiency: the method and supervised-only
                                                at each label count (JSON lines)

train options:
  --method ID (simclr)   --dataset fashion-mnist|mnist|PATH   --backbone small-cnn|resnet-tiny|vit-tiny
  --width 32  --steps 600  --batch 128  --seed 1  --device cpu|wgpu
  --labels-per-class 10   --params '{\"temperature\":0.2}'   --optimizer '{...}'  --config run.json
  --eval-every 0  --knn-k 20  --knn-t 0.07  --train-limit N  --test-limit N
  --lr 0.05 (the method's optimizer at another learning rate)
  --baseline (supervised-only run at the same labels and steps)  --probe (linear probe)  --json
  --save FILE.ckpt (checked before step 1; written at the end, on Ctrl-C and on a NaN)
  --checkpoint-every N (also every N steps)   --resume FILE.ckpt (continue a run exactly; only --lr may change)
  --load FILE.ckpt|FILE.safetensors (start a new run from saved weights)
  --attention-maps DIR (vit-tiny: after training, PNGs of the first 8 test images' CLS attention)

A run stopped by Ctrl-C, a NaN loss or a closed stdout writes its checkpoint (to --save, or
to ./sslp-METHOD-stepN.ckpt) and, unless stdout is gone, its summary.";

struct Args {
    values: HashMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    fn parse(raw: &[String]) -> Result<Args, String> {
        const FLAGS: [&str; 3] = ["--json", "--baseline", "--probe"];
        let (mut values, mut flags) = (HashMap::new(), Vec::new());
        let mut it = raw.iter();
        while let Some(arg) = it.next() {
            if FLAGS.contains(&arg.as_str()) {
                flags.push(arg.clone());
            } else if let Some(key) = arg.strip_prefix("--") {
                let value = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
                if values.insert(key.to_string(), value.clone()).is_some() {
                    return Err(format!("--{key} is given twice; keep one"));
                }
            } else {
                return Err(format!("unexpected argument '{arg}'"));
            }
        }
        Ok(Args { values, flags })
    }
    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
    fn num<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, String> {
        self.get(key).map(|v| v.parse::<T>().map_err(|_| format!("--{key} {v}: not a valid number"))).transpose()
    }
    fn check_known(&self, known: &[&str]) -> Result<(), String> {
        for key in self.values.keys() {
            if !known.contains(&key.as_str()) {
                return Err(format!("unknown option --{key}\n{USAGE}"));
            }
        }
        Ok(())
    }
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    // `sslp help`, and `--help` anywhere: `sslp train --help` asks for help, not for a run
    // with default settings.
    let wants_help = raw.first().is_some_and(|a| a == "help") || raw.iter().any(|a| a == "--help" || a == "-h");
    let result = match raw.first().map(String::as_str) {
        _ if wants_help => {
            println!("{USAGE}");
            Ok(())
        }
        Some("methods") => methods(),
        Some("train") => Args::parse(&raw[1..]).and_then(|a| train(&a)),
        Some("bench") => Args::parse(&raw[1..]).and_then(|a| bench(&a)),
        Some("pack") => Args::parse(&raw[1..]).and_then(|a| make_pack(&a)),
        Some("sweep") => Args::parse(&raw[1..]).and_then(|a| sweep(&a)),
        Some("export") => Args::parse(&raw[1..]).and_then(|a| export(&a)),
        _ => Err(USAGE.to_string()),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn methods() -> Result<(), String> {
    let infos: Vec<_> = ALL_METHODS.iter().map(|m| m.info()).collect();
    Stdout { closed: false }.line(&serde_json::to_string_pretty(&infos).map_err(|e| e.to_string())?);
    Ok(())
}

const TRAIN_KEYS: [&str; 25] = [
    "method", "dataset", "backbone", "width", "steps", "batch", "seed", "device", "labels-per-class", "params",
    "optimizer", "config", "eval-every", "knn-k", "knn-t", "train-limit", "test-limit", "save", "load", "data-dir",
    "probe-epochs", "lr", "resume", "checkpoint-every", "attention-maps",
];

/// Test images whose attention maps `--attention-maps` draws.
const ATTENTION_IMAGES: usize = 8;

/// `--lr`: the run's optimizer (the method's, or --optimizer's) at another peak learning rate.
fn apply_lr(c: &mut RunConfig, a: &Args) -> Result<(), String> {
    if let Some(lr) = a.num::<f64>("lr")? {
        c.optimizer = Some(OptimConfig { lr, ..c.optimizer()? });
    }
    Ok(())
}

fn run_config(a: &Args) -> Result<RunConfig, String> {
    let mut c = match a.get("config") {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?
        }
        None => RunConfig::default(),
    };
    if let Some(v) = a.get("method") {
        c.method = v.into();
    }
    if let Some(v) = a.get("dataset") {
        c.dataset = v.into();
    }
    if let Some(v) = a.get("backbone") {
        c.backbone = ssl_playground::backbone::BackboneKind::parse(v)?;
    }
    if let Some(v) = a.get("params") {
        c.params = serde_json::from_str(v).map_err(|e| format!("--params is not JSON: {e}"))?;
    }
    if let Some(v) = a.get("optimizer") {
        c.optimizer = Some(serde_json::from_str(v).map_err(|e| format!("--optimizer: {e}"))?);
    }
    apply_lr(&mut c, a)?;
    macro_rules! set {
        ($key:literal, $field:expr) => {
            if let Some(v) = a.num($key)? {
                $field = v;
            }
        };
    }
    set!("width", c.width);
    set!("steps", c.steps);
    set!("batch", c.batch_size);
    set!("seed", c.seed);
    set!("labels-per-class", c.labels_per_class);
    set!("eval-every", c.eval_every);
    set!("knn-k", c.knn_k);
    set!("knn-t", c.knn_temperature);
    if let Some(v) = a.num("train-limit")? {
        c.train_limit = Some(v);
    }
    if let Some(v) = a.num("test-limit")? {
        c.test_limit = Some(v);
    }
    c.validate()?;
    Ok(c)
}

/// A one-line progress bar on stderr: step, ETA, images/s, current loss.
/// The progress line: a bar redrawn in place on a terminal; in a log (stderr not a terminal)
/// a plain line every [`Progress::LOG_EVERY_S`] seconds and at the last step, instead of a
/// carriage-return frame per step.
struct Progress {
    terminal: bool,
    last_line: Option<f64>,
}

impl Progress {
    const LOG_EVERY_S: f64 = 5.0;

    fn new() -> Progress {
        use std::io::IsTerminal;
        Progress { terminal: std::io::stderr().is_terminal(), last_line: None }
    }

    fn show(&mut self, step: usize, total: usize, stage: &str, elapsed: f64, images_per_s: f64, loss: f64) {
        const WIDTH: usize = 30;
        let eta = elapsed / step.max(1) as f64 * total.saturating_sub(step) as f64;
        let numbers = format!("{step}/{total} {stage}  ETA {eta:>4.0}s  {images_per_s:>7.1} img/s  loss {loss:.4}");
        if self.terminal {
            let done = WIDTH * step.min(total) / total.max(1);
            eprint!("\r[{}{}] {numbers}   ", "#".repeat(done), ".".repeat(WIDTH - done));
            let _ = std::io::stderr().flush();
        } else if step >= total || self.last_line.is_none_or(|t| elapsed - t >= Self::LOG_EVERY_S) {
            self.last_line = Some(elapsed);
            eprintln!("step {numbers}");
        }
    }
}

/// Set by Ctrl-C (SIGINT): the run stops after the current step and keeps its work.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_signal: libc::c_int) {
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // A second Ctrl-C: leave now, without the checkpoint.
        unsafe { libc::_exit(130) };
    }
}

fn catch_interrupt() {
    // SAFETY: the handler only touches an atomic (and calls _exit), which is signal-safe.
    unsafe { libc::signal(libc::SIGINT, on_interrupt as *const () as libc::sighandler_t) };
}

/// Standard output that notices when its reader has gone (`sslp train --json | head`):
/// a failed write ends the run quietly instead of panicking as `println!` does.
struct Stdout {
    closed: bool,
}

impl Stdout {
    fn line(&mut self, text: &str) {
        if !self.closed {
            let mut out = std::io::stdout().lock();
            self.closed = writeln!(out, "{text}").and_then(|_| out.flush()).is_err();
        }
    }
}

/// Refuse a checkpoint path that cannot be written, before any training.
fn check_writable(path: &str) -> Result<(), String> {
    let p = Path::new(path);
    if p.is_dir() {
        return Err(format!("--save {path} is a folder; give a file name such as {path}/run.ckpt"));
    }
    let existed = p.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(p)
        .map_err(|e| format!("cannot write the checkpoint to {path} ({e}); choose a writable --save path before training starts"))?;
    if !existed {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

/// Write a checkpoint through a temporary file, so an interrupted write never replaces a
/// good checkpoint with half of one.
fn write_checkpoint(session: &Session, path: &str) -> Result<(), String> {
    let bytes = session.checkpoint().map_err(|e| e.to_string())?;
    let tmp = format!("{path}.partial");
    std::fs::write(&tmp, bytes).and_then(|_| std::fs::rename(&tmp, path)).map_err(|e| format!("cannot write the checkpoint to {path}: {e}"))
}

/// Options `--resume` accepts: the run's settings come from the checkpoint, except the
/// learning rate (lowering it is the way out of a NaN).
const RESUME_KEYS: [&str; 8] = ["resume", "device", "save", "checkpoint-every", "data-dir", "probe-epochs", "lr", "load"];

#[derive(Debug)]
enum Stop {
    Finished,
    Interrupted,
    StdoutClosed,
    NonFinite(SessionError),
}

fn train(a: &Args) -> Result<(), String> {
    a.check_known(&TRAIN_KEYS)?;
    let resume = match a.get("resume") {
        Some(path) => {
            if let Some(key) = a.values.keys().find(|k| !RESUME_KEYS.contains(&k.as_str())) {
                return Err(format!("--resume continues the run saved in the checkpoint, with its settings; leave out --{key} (only --lr may change)"));
            }
            if a.get("load").is_some() {
                return Err("--resume and --load exclude each other: --resume continues a run, --load starts a new one from saved weights".into());
            }
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read checkpoint {path}: {e}"))?;
            Some(Checkpoint::decode(&bytes).map_err(|e| format!("{path}: {e}"))?)
        }
        None => None,
    };
    let config = match &resume {
        Some(checkpoint) => {
            let mut c = checkpoint.state.config.clone();
            apply_lr(&mut c, a)?;
            c.validate()?;
            c
        }
        None => run_config(a)?,
    };
    let save = a.get("save").map(str::to_owned);
    if let Some(path) = &save {
        check_writable(path)?;
    }
    let attention_dir = a.get("attention-maps").map(std::path::PathBuf::from);
    if let Some(dir) = &attention_dir {
        if config.backbone != ssl_playground::backbone::BackboneKind::VitTiny {
            return Err(format!("--attention-maps draws a transformer's attention; {} has none: add --backbone vit-tiny", config.backbone.id()));
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create --attention-maps folder {} ({e}); choose a writable folder", dir.display()))?;
    }
    let checkpoint_every: usize = a.num("checkpoint-every")?.unwrap_or(0);
    if checkpoint_every > 0 && save.is_none() {
        return Err("--checkpoint-every needs --save FILE: the file the checkpoints are written to".into());
    }
    let json = a.flag("--json");
    let data_dir = a.get("data-dir").map(std::path::PathBuf::from).unwrap_or_else(data::default_data_dir);
    let pack = data::load_pack(&config.dataset, &data_dir)?;
    let device = native_device(a.get("device").unwrap_or("cpu"))?;
    let started = Instant::now();
    let mut stdout = Stdout { closed: false };

    let mut session = Session::new(config.clone(), &pack, device.clone(), native_clock()).map_err(|e| e.to_string())?;
    let resumed_from = resume.as_ref().map(|c| c.state.step);
    match resume {
        Some(checkpoint) => session.resume(checkpoint).map_err(|e| e.to_string())?,
        None => {
            block_on(session.measure_random_init()).map_err(|e| e.to_string())?;
        }
    }
    let random_init_knn = session.random_init().and_then(|r| r.accuracy.last().copied()).unwrap_or(f64::NAN);
    if let Some(path) = a.get("load") {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read checkpoint {path}: {e}"))?;
        session.load_weights(&bytes).map_err(|e| format!("{path}: {e}"))?;
    }
    if json {
        stdout.line(&serde_json::json!({"kind": "baseline", "random_init_knn_acc": finite(random_init_knn), "params": session.num_params(), "resumed_from": resumed_from}).to_string());
    } else {
        eprintln!(
            "{} on {} ({} train / {} test), {} params; untrained kNN {:.2}%{}",
            config.method,
            pack.name,
            session.pack_info.n_train,
            session.pack_info.n_test,
            session.num_params(),
            random_init_knn * 100.0,
            resumed_from.map_or(String::new(), |s| format!("; resumed at step {s}"))
        );
    }

    catch_interrupt();
    let mut progress = Progress::new();
    let mut last_loss = None;
    let mut throughput = Vec::new();
    let stop = loop {
        if session.step_count() >= config.steps {
            break Stop::Finished;
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            break Stop::Interrupted;
        }
        let report = match block_on(session.step()) {
            Ok(report) => report,
            Err(e @ SessionError::NonFinite { .. }) => break Stop::NonFinite(e),
            Err(e) => return Err(e.to_string()),
        };
        last_loss = report.term("total");
        throughput.push(report.images_per_s);
        if json {
            stdout.line(&report.to_json().to_string());
        } else {
            progress.show(report.step, config.steps, &report.stage, started.elapsed().as_secs_f64(), report.images_per_s, last_loss.unwrap_or(f64::NAN));
        }
        if stdout.closed {
            break Stop::StdoutClosed;
        }
        let next = session.after_step();
        // The final evaluation follows the loop.
        if next.evaluate && !next.finished {
            let eval = block_on(session.evaluate()).map_err(|e| e.to_string())?;
            if json {
                stdout.line(&serde_json::to_string(&eval).map_err(|e| e.to_string())?);
            } else {
                let extra: String = eval.test_acc.map(|a| format!(", classifier {:.2}%", a * 100.0)).into_iter()
                    .chain(eval.metrics.iter().map(|m| format!(", {} {:.4}", m.name, m.value)))
                    .collect();
                eprintln!("\n  step {} ({}): kNN {:.2}%{extra}", eval.step, eval.stage, eval.knn_acc * 100.0);
            }
        }
        if checkpoint_every > 0 && report.step % checkpoint_every == 0 && report.step < config.steps {
            write_checkpoint(&session, save.as_deref().expect("checked above"))?;
        }
    };
    if !json {
        eprintln!();
    }

    // Keep the work: the checkpoint goes where --save says, or, when the run stopped early
    // without one, next to where it was started.
    let checkpoint_path = match (&save, &stop) {
        (Some(path), _) => Some(path.clone()),
        (None, Stop::Finished) => None,
        (None, _) => Some(format!("sslp-{}-step{}.ckpt", config.method, session.step_count())),
    };
    if let Some(path) = &checkpoint_path {
        write_checkpoint(&session, path)?;
    }
    let resume_hint = |path: &str| format!("sslp train --resume {path}");
    if let Stop::StdoutClosed = stop {
        if let Some(path) = &checkpoint_path {
            eprintln!("sslp: output closed at step {}; the checkpoint is in {path} ({} continues it)", session.step_count(), resume_hint(path));
        }
        return Ok(());
    }

    let eval = block_on(session.evaluate()).map_err(|e| e.to_string())?;
    if json {
        stdout.line(&serde_json::to_string(&eval).map_err(|e| e.to_string())?);
    }
    let layers = block_on(session.layer_report()).map_err(|e| e.to_string())?;
    if let Some(dir) = &attention_dir {
        let (files, entropy) = write_attention_maps(&session, dir)?;
        if json {
            stdout.line(&serde_json::json!({"kind": "attention_maps", "files": files, "entropy": entropy}).to_string());
        } else {
            eprintln!("attention maps: {} (entropy per image, nats: {entropy:.3?})", files.join(", "));
        }
    }
    if a.flag("--probe") {
        let epochs = a.num("probe-epochs")?.unwrap_or(200);
        let probe = block_on(session.linear_probe(epochs)).map_err(|e| e.to_string())?;
        if json {
            stdout.line(&serde_json::json!({"kind": "probe", "linear_probe_acc": probe}).to_string());
        } else {
            eprintln!("linear probe: {:.2}%", probe * 100.0);
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    let supervised_only_acc = if a.flag("--baseline") && matches!(stop, Stop::Finished) {
        test_accuracy(config.supervised_twin(), &pack, &device).map_err(|e| format!("supervised baseline: {e}"))?
    } else {
        None
    };

    throughput.sort_by(f64::total_cmp);
    let summary = Summary {
        kind: "summary".into(),
        method: config.method.clone(),
        dataset: pack.name.clone(),
        backbone: config.backbone.id().into(),
        steps: session.step_count(),
        stopped_early: match &stop {
            Stop::Interrupted => Some("interrupted".into()),
            Stop::NonFinite(_) => Some("non-finite loss".into()),
            _ => None,
        },
        checkpoint: checkpoint_path.clone(),
        seconds,
        knn_acc: eval.knn_acc,
        random_init_knn_acc: random_init_knn,
        knn_by_layer: layers,
        test_acc: eval.test_acc,
        supervised_only_acc,
        pretext_acc: eval.pretext_acc,
        embedding_std: eval.embedding_std,
        effective_rank: eval.effective_rank,
        rank_limit: eval.rank_limit,
        final_loss: last_loss,
        images_per_s: throughput.get(throughput.len() / 2).copied().unwrap_or(f64::NAN),
        metrics: eval.metrics.clone(),
    };
    if json {
        stdout.line(&serde_json::to_string(&summary).map_err(|e| e.to_string())?);
    } else {
        eprintln!("{}", serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?);
    }
    let path = checkpoint_path.unwrap_or_default();
    match stop {
        Stop::Finished | Stop::StdoutClosed => Ok(()),
        Stop::Interrupted => {
            eprintln!("sslp: interrupted after step {}; the checkpoint is in {path}; `{}` continues it", session.step_count(), resume_hint(&path));
            std::process::exit(130);
        }
        Stop::NonFinite(SessionError::NonFinite { step, term }) => Err(format!(
            "loss term '{term}' became NaN or infinite at step {step}; that step was not applied. The checkpoint of step {} is in {path}: \
             continue with a lower learning rate, e.g. `{} --lr {}`",
            step - 1,
            resume_hint(&path),
            session.lr().max(1e-6) / 10.0
        )),
        Stop::NonFinite(other) => Err(other.to_string()),
    }
}

/// Draw the first test images' attention maps into `dir`, one PNG each; returns the paths and
/// each image's mean entropy over the heads (nats; ln of the patch count is uniform).
fn write_attention_maps(session: &Session, dir: &Path) -> Result<(Vec<String>, Vec<f32>), String> {
    let test = session.test_split();
    let n = ATTENTION_IMAGES.min(test.len());
    let indices: Vec<usize> = (0..n).collect();
    let maps = block_on(session.attention_maps(&indices)).map_err(|e| e.to_string())?;
    let [_, c, h, w] = test.images.dims();
    let mut files = Vec::new();
    for m in &maps {
        let pixels = block_on(ssl_playground::session::read_f32(test.images.clone().narrow(0, m.index, 1).reshape([-1]))).map_err(|e| e.to_string())?;
        let path = dir.join(format!("attention-{}.png", m.index));
        ssl_playground::figures::attention_strip(&pixels, c, h, w, m).save(&path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        files.push(path.display().to_string());
    }
    Ok((files, maps.iter().map(|m| m.entropy).collect()))
}

/// Train `config` to its last step and return its classifier's test accuracy (`None` for a
/// method without a classifier).
fn test_accuracy(config: RunConfig, pack: &Pack, device: &burn::prelude::Device) -> Result<Option<f64>, String> {
    let steps = config.steps;
    let mut session = Session::new(config, pack, device.clone(), native_clock()).map_err(|e| e.to_string())?;
    while session.step_count() < steps {
        block_on(session.step()).map_err(|e| e.to_string())?;
    }
    Ok(block_on(session.evaluate()).map_err(|e| e.to_string())?.test_acc)
}

/// `sslp sweep`: the label-efficiency view on the command line. For each label count, the
/// method and its supervised-only twin train with the same labels, steps and seed; a JSON line
/// per count: `{"kind": "sweep", "labels_per_class", "test_acc", "supervised_only_acc", "gain"}`.
fn sweep(a: &Args) -> Result<(), String> {
    let mut known: Vec<&str> = TRAIN_KEYS.iter().copied().filter(|k| !["save", "load", "resume", "checkpoint-every", "probe-epochs", "labels-per-class"].contains(k)).collect();
    known.push("labels");
    a.check_known(&known)?;
    let counts: Vec<usize> = a
        .get("labels")
        .unwrap_or("1,4,10")
        .split(',')
        .map(|t| t.trim().parse::<usize>().map_err(|_| format!("--labels {}: give label counts per class as whole numbers, e.g. 1,4,10", a.get("labels").unwrap_or_default())))
        .collect::<Result<_, _>>()?;
    let config = run_config(a)?;
    if !config.method_kind()?.uses_labels() {
        return Err(format!("{} trains no classifier on labels; the sweep compares semi-supervised methods (e.g. --method fixmatch)", config.method));
    }
    let plan = config.label_sweep(&counts)?;
    let data_dir = a.get("data-dir").map(std::path::PathBuf::from).unwrap_or_else(data::default_data_dir);
    let pack = data::load_pack(&config.dataset, &data_dir)?;
    let device = native_device(a.get("device").unwrap_or("cpu"))?;
    let mut stdout = Stdout { closed: false };
    for (run, twin) in plan {
        let started = Instant::now();
        let labels = run.labels_per_class;
        let acc = test_accuracy(run, &pack, &device).map_err(|e| format!("{} at {labels} labels per class: {e}", config.method))?;
        let base = test_accuracy(twin, &pack, &device).map_err(|e| format!("supervised-only at {labels} labels per class: {e}"))?;
        let gain = acc.zip(base).map(|(a, b)| a - b);
        stdout.line(
            &serde_json::json!({
                "kind": "sweep", "method": config.method, "dataset": pack.name, "steps": config.steps, "labels_per_class": labels,
                "test_acc": acc, "supervised_only_acc": base, "gain": gain, "seconds": started.elapsed().as_secs_f64(),
            })
            .to_string(),
        );
        if stdout.closed {
            break;
        }
    }
    Ok(())
}

/// A memory line of /proc/self/status (`VmRSS:` now, `VmHWM:` the peak since the last
/// reset) in MiB (Linux).
fn rss_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Peak resident memory of this process in MiB since the last reset.
fn peak_rss_mib() -> Option<f64> {
    rss_mib("VmHWM:")
}

fn reset_peak_rss() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn bench(a: &Args) -> Result<(), String> {
    a.check_known(&["method", "device", "runs", "steps", "batch", "width", "dataset", "backbone", "data-dir", "params"])?;
    let device_name = a.get("device").unwrap_or("cpu");
    let runs: usize = a.num("runs")?.unwrap_or(5);
    let steps: usize = a.num("steps")?.unwrap_or(10);
    let batch: usize = a.num("batch")?.unwrap_or(64);
    let width: usize = a.num("width")?.unwrap_or(32);
    if !(1..=1000).contains(&runs) || !(1..=10_000).contains(&steps) {
        return Err(format!("--runs {runs} --steps {steps}: a benchmark needs 1..=1000 runs of 1..=10000 steps"));
    }
    let mut stdout = Stdout { closed: false };
    let kinds: Vec<MethodKind> = match a.get("method").unwrap_or("all") {
        "all" => ALL_METHODS.to_vec(),
        id => vec![MethodKind::parse(id)?],
    };
    let data_dir = a.get("data-dir").map(std::path::PathBuf::from).unwrap_or_else(data::default_data_dir);
    let dataset = a.get("dataset").unwrap_or("fashion-mnist");
    let pack = data::load_pack(dataset, &data_dir)?;
    let device = native_device(device_name)?;
    for kind in kinds {
        let config = RunConfig {
            method: kind.id().into(),
            dataset: dataset.into(),
            backbone: ssl_playground::backbone::BackboneKind::parse(a.get("backbone").unwrap_or("small-cnn"))?,
            batch_size: batch,
            width,
            params: match a.get("params") {
                Some(v) => serde_json::from_str(v).map_err(|e| format!("--params is not JSON: {e}"))?,
                None => serde_json::json!({}),
            },
            steps: (runs + 1) * steps,
            train_limit: Some(2000),
            test_limit: Some(200),
            ..RunConfig::default()
        };
        reset_peak_rss();
        let mut session = Session::new(config, &pack, device.clone(), native_clock()).map_err(|e| e.to_string())?;
        let per_step = session.images_per_step();
        // Memory of the steps alone: the peak while training, over what the process held
        // before the first step (the dataset and the model are already there).
        let before_steps = rss_mib("VmRSS:");
        reset_peak_rss();
        // Warm-up: shader compilation and allocator growth happen in the first steps.
        for _ in 0..steps {
            block_on(session.step()).map_err(|e| e.to_string())?;
        }
        let mut rates = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            for _ in 0..steps {
                block_on(session.step()).map_err(|e| e.to_string())?;
            }
            rates.push((per_step * steps) as f64 / t.elapsed().as_secs_f64());
        }
        let step_peak = rss_mib("VmHWM:");
        let measured_step_mib = step_peak.zip(before_steps).map(|(peak, before)| peak - before);
        // Augmentation share: time to build this method's training views for one batch,
        // forced to finish by a read, over the median step time.
        let t = Instant::now();
        let reps = 3;
        for _ in 0..reps {
            let views = session.views(batch);
            let sum: Vec<_> = views.into_iter().map(|(_, v)| v.sum()).collect();
            let _ = block_on(ssl_playground::session::read_f32(burn::tensor::Tensor::cat(sum, 0))).map_err(|e| e.to_string())?;
        }
        let augment_s = t.elapsed().as_secs_f64() / reps as f64;
        rates.sort_by(f64::total_cmp);
        let median = rates[rates.len() / 2];
        let step_s = per_step as f64 / median;
        let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
        stdout.line(
            &serde_json::json!({
                "kind": "bench", "method": kind.id(), "device": device_name, "dataset": dataset,
                "backbone": a.get("backbone").unwrap_or("small-cnn"), "batch": batch, "images_per_step": per_step,
                "runs": runs, "steps_per_run": steps, "images_per_s_median": median,
                "images_per_s_runs": rates, "step_ms_median": step_s * 1e3,
                "augment_share": finite((augment_s / step_s).min(1.0)), "peak_rss_mib": peak_rss_mib(),
                "width": width, "step_mib_estimated": mib(session.memory.step_bytes), "step_mib_measured": measured_step_mib,
                "run_mib_estimated": mib(session.memory.total_bytes()),
            })
            .to_string(),
        );
        if stdout.closed {
            break; // nobody reads the rest
        }
    }
    Ok(())
}

/// `sslp export`: the Embedding Projector zip of a checkpoint's run, on its own dataset.
fn export(a: &Args) -> Result<(), String> {
    a.check_known(&["load", "out", "limit", "data-dir", "device", "weights"])?;
    let path = a.get("load").ok_or("--load FILE.ckpt is required: the checkpoint of the run to export (sslp train --save)")?;
    let (out, weights) = (a.get("out"), a.get("weights"));
    if out.is_none() && weights.is_none() {
        return Err("say what to export: --out FILE.zip (Embedding Projector) and/or --weights FILE.safetensors".into());
    }
    let limit: usize = a.num("limit")?.unwrap_or(2000);
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read checkpoint {path}: {e}"))?;
    let checkpoint = Checkpoint::decode(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let config = checkpoint.state.config.clone();
    let data_dir = a.get("data-dir").map(std::path::PathBuf::from).unwrap_or_else(data::default_data_dir);
    let pack = data::load_pack(&config.dataset, &data_dir)?;
    let device = native_device(a.get("device").unwrap_or("cpu"))?;
    let mut session = Session::new(config, &pack, device, native_clock()).map_err(|e| e.to_string())?;
    session.resume(checkpoint).map_err(|e| format!("{path}: {e}"))?;
    if let Some(file) = weights {
        let bytes = block_on(session.weights_safetensors()).map_err(|e| e.to_string())?;
        std::fs::write(file, &bytes).map_err(|e| format!("cannot write {file}: {e}"))?;
        eprintln!("{file}: the model's weights at step {}, {} bytes (safetensors, F32)", session.step_count(), bytes.len());
    }
    if let Some(out) = out {
        let zip = block_on(session.projector_zip(&pack, limit)).map_err(|e| e.to_string())?;
        std::fs::write(out, &zip).map_err(|e| format!("cannot write {out}: {e}"))?;
        eprintln!(
            "{out}: {} test images of {} at step {}, {} bytes; open projector.tensorflow.org, press Load and give it these four files",
            limit.min(session.test_split().len()), pack.name, session.step_count(), zip.len()
        );
    }
    Ok(())
}

/// Every file under `dir`, as (path relative to `dir` with `/` separators, full path), sorted.
fn files_under(dir: &Path) -> Result<Vec<(String, std::path::PathBuf)>, String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("cannot list {}: {e}", d.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| format!("cannot list {}: {e}", d.display()))?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap_or(&path).components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                out.push((rel, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `sslp pack --images`: a pack from a folder or zip of the user's images, with the report.
fn pack_images(a: &Args, source: &str) -> Result<(), String> {
    a.check_known(&["images", "name", "out", "size", "seed"])?;
    let out = a.get("out").ok_or("--out is required: the .sslp.gz file to write")?;
    let size = a.num("size")?.unwrap_or(32);
    let source_path = Path::new(source);
    let default_name = source_path.file_stem().and_then(|s| s.to_str()).unwrap_or("images");
    let name = a.get("name").unwrap_or(default_name);
    let mut importer = data::folder::Importer::new(size)?;
    if source_path.is_dir() {
        let files = files_under(source_path)?;
        for (i, (rel, path)) in files.iter().enumerate() {
            match std::fs::read(path) {
                Ok(bytes) => importer.add(rel, &bytes),
                Err(e) => importer.add_result(rel, Err(format!("cannot be read ({e})"))),
            }
            if (i + 1) % 500 == 0 {
                eprintln!("{} of {} files read", i + 1, files.len());
            }
        }
    } else {
        let bytes = std::fs::read(source_path).map_err(|e| format!("cannot read {source}: {e}; give a folder or a .zip"))?;
        importer.add_zip(&bytes)?;
    }
    let (p, report) = importer.finish(name, a.num("seed")?.unwrap_or(1))?;
    let bytes = p.encode_gz();
    Pack::decode(name, &bytes).map_err(|e| format!("the pack built from {source} would not load, so {out} was not written: {e}"))?;
    std::fs::write(out, &bytes).map_err(|e| format!("cannot write {out}: {e}"))?;
    for s in &report.skipped {
        eprintln!("skipped {}: {}", s.path, s.reason);
    }
    eprintln!(
        "{out}: {} train + {} test images of {}×{}×{} in {} classes, {} skipped, {} hidden files ignored, {} bytes",
        p.train.len(), p.test.len(), p.channels, p.height, p.width, p.n_classes(), report.skipped.len(), report.hidden, bytes.len()
    );
    println!("{}", serde_json::to_string(&report).map_err(|e| e.to_string())?);
    Ok(())
}

fn make_pack(a: &Args) -> Result<(), String> {
    if let Some(source) = a.get("images") {
        return pack_images(a, source);
    }
    a.check_known(&["idx-dir", "name", "out", "train-per-class", "test-per-class"])?;
    let dir = a.get("idx-dir").ok_or("--idx-dir is required")?;
    let name = a.get("name").ok_or("--name is required")?;
    let out = a.get("out").ok_or("--out is required")?;
    let classes: Vec<String> = match name {
        "fashion-mnist" => pack::FASHION_MNIST_CLASSES.iter().map(|s| s.to_string()).collect(),
        _ => pack::MNIST_CLASSES.iter().map(|s| s.to_string()).collect(),
    };
    let p = pack::pack_from_idx_dir(name, std::path::Path::new(dir), classes, a.num("train-per-class")?, a.num("test-per-class")?)
        .map_err(|e| e.to_string())?;
    let bytes = p.encode_gz();
    // Never write a pack that the loader would refuse: read it back first.
    Pack::decode(name, &bytes).map_err(|e| format!("the pack built from {dir} would not load, so {out} was not written: {e}"))?;
    std::fs::write(out, &bytes).map_err(|e| format!("cannot write {out}: {e}"))?;
    eprintln!("{out}: {} train + {} test images of {}×{}×{}, {} bytes", p.train.len(), p.test.len(), p.channels, p.height, p.width, bytes.len());
    Ok(())
}
