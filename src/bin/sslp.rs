//! `sslp`: the native command line over the same core the browser runs.
//!
//! ```text
//! sslp methods
//! sslp train --method simclr --dataset fashion-mnist --backbone small-cnn --steps 600 --batch 128 --device cpu --seed 1 --json
//! sslp bench --method simclr --device cpu
//! sslp pack --idx-dir DIR --name NAME --out FILE [--train-per-class N] [--test-per-class N]
//! ```
use ssl_playground::data::{self, pack};
use ssl_playground::device::native_device;
use ssl_playground::exec::block_on;
use ssl_playground::methods::{MethodKind, ALL_METHODS};
use ssl_playground::report::{finite, Summary};
use ssl_playground::train::native_clock;
use ssl_playground::{RunConfig, Session};
use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

const USAGE: &str = "usage:
  sslp methods                                  list methods (JSON)
  sslp train [options]                          train; --json for JSON lines
  sslp bench [--method ID|all] [--device cpu|wgpu] [--runs 5] [--steps 10] [--batch 64]
  sslp pack --idx-dir DIR --name NAME --out FILE [--train-per-class N] [--test-per-class N]

train options:
  --method ID (simclr)   --dataset fashion-mnist|mnist|PATH   --backbone small-cnn|resnet-tiny
  --width 32  --steps 600  --batch 128  --seed 1  --device cpu|wgpu
  --labels-per-class 10   --params '{\"temperature\":0.2}'   --optimizer '{...}'  --config run.json
  --eval-every 0  --knn-k 200  --knn-t 0.07  --train-limit N  --test-limit N
  --baseline (supervised-only run at the same labels and steps)  --probe (linear probe)
  --save FILE.safetensors  --load FILE.safetensors (start from saved weights)  --json";

struct Args {
    values: HashMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    fn parse(raw: &[String]) -> Result<Args, String> {
        const FLAGS: [&str; 4] = ["--json", "--baseline", "--probe", "--help"];
        let (mut values, mut flags) = (HashMap::new(), Vec::new());
        let mut it = raw.iter();
        while let Some(arg) = it.next() {
            if FLAGS.contains(&arg.as_str()) {
                flags.push(arg.clone());
            } else if let Some(key) = arg.strip_prefix("--") {
                let value = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
                values.insert(key.to_string(), value.clone());
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
    let result = match raw.first().map(String::as_str) {
        Some("methods") => methods(),
        Some("train") => Args::parse(&raw[1..]).and_then(|a| train(&a)),
        Some("bench") => Args::parse(&raw[1..]).and_then(|a| bench(&a)),
        Some("pack") => Args::parse(&raw[1..]).and_then(|a| make_pack(&a)),
        Some("--help") | Some("-h") | Some("help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn methods() -> Result<(), String> {
    let infos: Vec<_> = ALL_METHODS.iter().map(|m| m.info()).collect();
    println!("{}", serde_json::to_string_pretty(&infos).map_err(|e| e.to_string())?);
    Ok(())
}

const TRAIN_KEYS: [&str; 21] = [
    "method", "dataset", "backbone", "width", "steps", "batch", "seed", "device", "labels-per-class", "params",
    "optimizer", "config", "eval-every", "knn-k", "knn-t", "train-limit", "test-limit", "save", "load", "data-dir",
    "probe-epochs",
];

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

fn emit(json: bool, value: &serde_json::Value) {
    if json {
        println!("{value}");
    }
}

/// A one-line progress bar on stderr: step, ETA, images/s, current loss.
fn progress(step: usize, total: usize, elapsed: f64, images_per_s: f64, loss: f64) {
    const WIDTH: usize = 30;
    let done = WIDTH * step / total.max(1);
    let eta = elapsed / step.max(1) as f64 * (total - step) as f64;
    eprint!(
        "\r[{}{}] {step}/{total}  ETA {:>4.0}s  {images_per_s:>7.1} img/s  loss {loss:.4}   ",
        "#".repeat(done),
        ".".repeat(WIDTH - done),
        eta
    );
    let _ = std::io::stderr().flush();
}

fn train(a: &Args) -> Result<(), String> {
    a.check_known(&TRAIN_KEYS)?;
    let config = run_config(a)?;
    let json = a.flag("--json");
    let data_dir = a.get("data-dir").map(std::path::PathBuf::from).unwrap_or_else(data::default_data_dir);
    let pack = data::load_pack(&config.dataset, &data_dir)?;
    let device = native_device(a.get("device").unwrap_or("cpu"))?;
    let started = Instant::now();

    let mut session = Session::new(config.clone(), &pack, device.clone(), native_clock()).map_err(|e| e.to_string())?;
    let random_init = block_on(session.measure_random_init()).map_err(|e| e.to_string())?;
    let random_init_knn = *random_init.accuracy.last().expect("at least one stage");
    if let Some(path) = a.get("load") {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read checkpoint {path}: {e}"))?;
        session.load_checkpoint(bytes).map_err(|e| e.to_string())?;
    }
    emit(json, &serde_json::json!({"kind": "baseline", "random_init_knn_acc": finite(random_init_knn), "params": session.num_params()}));
    if !json {
        eprintln!(
            "{} on {} ({} train / {} test), {} params; untrained kNN {:.2}%",
            config.method, pack.name, session.pack_info.n_train, session.pack_info.n_test, session.num_params(), random_init_knn * 100.0
        );
    }

    let mut last_loss = None;
    let mut throughput = Vec::new();
    for _ in 0..config.steps {
        let report = block_on(session.step()).map_err(|e| e.to_string())?;
        last_loss = report.term("total");
        throughput.push(report.images_per_s);
        if json {
            println!("{}", report.to_json());
        } else {
            progress(report.step, config.steps, started.elapsed().as_secs_f64(), report.images_per_s, last_loss.unwrap_or(f64::NAN));
        }
        if config.eval_every > 0 && report.step % config.eval_every == 0 && report.step < config.steps {
            let eval = block_on(session.evaluate()).map_err(|e| e.to_string())?;
            emit(json, &serde_json::to_value(&eval).map_err(|e| e.to_string())?);
            if !json {
                eprintln!("\n  step {}: kNN {:.2}%", eval.step, eval.knn_acc * 100.0);
            }
        }
    }
    if !json {
        eprintln!();
    }
    let eval = block_on(session.evaluate()).map_err(|e| e.to_string())?;
    emit(json, &serde_json::to_value(&eval).map_err(|e| e.to_string())?);
    let layers = block_on(session.layer_report()).map_err(|e| e.to_string())?;
    if a.flag("--probe") {
        let epochs = a.num("probe-epochs")?.unwrap_or(200);
        let probe = block_on(session.linear_probe(epochs)).map_err(|e| e.to_string())?;
        emit(json, &serde_json::json!({"kind": "probe", "linear_probe_acc": probe}));
        if !json {
            eprintln!("linear probe: {:.2}%", probe * 100.0);
        }
    }
    if let Some(path) = a.get("save") {
        let bytes = session.save_checkpoint().map_err(|e| e.to_string())?;
        std::fs::write(path, bytes).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    let seconds = started.elapsed().as_secs_f64();

    let supervised_only_acc = if a.flag("--baseline") {
        let mut base_config = config.clone();
        base_config.method = "supervised".into();
        base_config.params = serde_json::json!({});
        base_config.optimizer = None;
        let mut base = Session::new(base_config, &pack, device, native_clock()).map_err(|e| e.to_string())?;
        for _ in 0..config.steps {
            block_on(base.step()).map_err(|e| format!("supervised baseline: {e}"))?;
        }
        block_on(base.evaluate()).map_err(|e| e.to_string())?.test_acc
    } else {
        None
    };

    throughput.sort_by(f64::total_cmp);
    let summary = Summary {
        kind: "summary".into(),
        method: config.method.clone(),
        dataset: pack.name.clone(),
        backbone: config.backbone.id().into(),
        steps: config.steps,
        seconds,
        knn_acc: eval.knn_acc,
        random_init_knn_acc: random_init_knn,
        knn_by_layer: layers,
        test_acc: eval.test_acc,
        supervised_only_acc,
        pretext_acc: eval.pretext_acc,
        final_loss: last_loss,
        images_per_s: throughput.get(throughput.len() / 2).copied().unwrap_or(f64::NAN),
    };
    if json {
        println!("{}", serde_json::to_string(&summary).map_err(|e| e.to_string())?);
    } else {
        eprintln!("{}", serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?);
    }
    Ok(())
}

/// Peak resident memory of this process in MiB since the last reset (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn reset_peak_rss() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn bench(a: &Args) -> Result<(), String> {
    a.check_known(&["method", "device", "runs", "steps", "batch", "dataset", "backbone", "data-dir"])?;
    let device_name = a.get("device").unwrap_or("cpu");
    let runs: usize = a.num("runs")?.unwrap_or(5);
    let steps: usize = a.num("steps")?.unwrap_or(10);
    let batch: usize = a.num("batch")?.unwrap_or(64);
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
            steps: (runs + 1) * steps,
            train_limit: Some(2000),
            test_limit: Some(200),
            ..RunConfig::default()
        };
        reset_peak_rss();
        let mut session = Session::new(config, &pack, device.clone(), native_clock()).map_err(|e| e.to_string())?;
        let per_step = session.images_per_step();
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
        // Augmentation share: time to build this method's training views for one batch,
        // forced to finish by a read, over the median step time.
        let t = Instant::now();
        let reps = 3;
        for _ in 0..reps {
            let views = session.views(batch);
            let sum: Vec<_> = views.into_iter().map(|(_, v)| v.sum()).collect();
            let _ = block_on(ssl_playground::train::read_f32(burn::tensor::Tensor::cat(sum, 0))).map_err(|e| e.to_string())?;
        }
        let augment_s = t.elapsed().as_secs_f64() / reps as f64;
        rates.sort_by(f64::total_cmp);
        let median = rates[rates.len() / 2];
        let step_s = per_step as f64 / median;
        println!(
            "{}",
            serde_json::json!({
                "kind": "bench", "method": kind.id(), "device": device_name, "dataset": dataset,
                "backbone": a.get("backbone").unwrap_or("small-cnn"), "batch": batch, "images_per_step": per_step,
                "runs": runs, "steps_per_run": steps, "images_per_s_median": median,
                "images_per_s_runs": rates, "step_ms_median": step_s * 1e3,
                "augment_share": finite((augment_s / step_s).min(1.0)), "peak_rss_mib": peak_rss_mib(),
            })
        );
    }
    Ok(())
}

fn make_pack(a: &Args) -> Result<(), String> {
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
    std::fs::write(out, &bytes).map_err(|e| format!("cannot write {out}: {e}"))?;
    eprintln!("{out}: {} train + {} test images of {}×{}×{}, {} bytes", p.train.len(), p.test.len(), p.channels, p.height, p.width, bytes.len());
    Ok(())
}
