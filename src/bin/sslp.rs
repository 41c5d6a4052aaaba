//! `sslp`: the native command line over the same core the browser runs.
//!
//! ```text
//! sslp methods
//! sslp train --method simclr --dataset fashion-mnist --backbone small-cnn --steps 600 --batch 128 --device cpu --seed 1 --json
//! sslp bench --method simclr --device cpu
//! sslp pack --idx-dir DIR --name NAME --out FILE [--train-per-class N] [--test-per-class N]
//! sslp pack --images DIR|FILE.zip --out FILE [--size 32|48|64] [--name NAME] [--seed 1]
//! sslp export --load FILE.ckpt [--out FILE.zip] [--limit 2000] [--weights FILE.safetensors]
//! sslp sweep --method fixmatch [--labels 1,4,10] [run options]
//! ```
//!
//! clap parses the options (`sslp help`, `sslp COMMAND --help`); a run setting's default is
//! read from `RunConfig::default()`, so the help shows what a run uses.
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use ssl_playground::backbone::BackboneKind;
use ssl_playground::backbone::conv::{set_conv_path, ConvPath};
use ssl_playground::checkpoint::Checkpoint;
use ssl_playground::data::{self, pack, Pack};
use ssl_playground::device::native_device;
use ssl_playground::exec::block_on;
use ssl_playground::optim::OptimConfig;
use ssl_playground::registry::{MethodKind, ALL_METHODS};
use ssl_playground::report::{finite, Summary};
use ssl_playground::session::native_clock;
use ssl_playground::{RunConfig, Session, SessionError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

const STOPPED_RUN: &str = "A run stopped by Ctrl-C, a NaN loss or a closed stdout writes its checkpoint (to --save, or
to ./sslp-METHOD-stepN.ckpt) and, unless stdout is gone, its summary.";

const EXAMPLES: &str = "Examples:
  sslp train --method fixmatch --labels-per-class 4 --steps 600 --json
  sslp train --method dino --backbone vit-tiny --attention-maps maps/ --save run.ckpt
  sslp train --resume run.ckpt --lr 0.01
  sslp pack --images pets/ --out pets.sslp.gz --size 48
  sslp export --load run.ckpt --out projector.zip --weights run.safetensors
  sslp sweep --method fixmatch --labels 1,4,10";

/// Self- and semi-supervised learning on small vision backbones, natively: the core the
/// browser page runs.
#[derive(Parser)]
#[command(name = "sslp", arg_required_else_help = true, after_help = format!("{EXAMPLES}\n\n{STOPPED_RUN}"))]
struct Cli {
    #[command(subcommand)]
    command: SslpCommand,
}

#[derive(Subcommand)]
enum SslpCommand {
    /// List the methods: papers, explanations, hyper-parameters and optimizers (JSON)
    Methods,
    /// Train a method: a progress bar and a summary on stderr, or JSON lines with --json
    #[command(after_help = STOPPED_RUN)]
    Train(TrainArgs),
    /// Measure images/s, the augmentation share and memory per method (JSON lines)
    Bench(BenchArgs),
    /// Build a dataset pack (.sslp.gz) from MNIST-style IDX files or from your own images
    Pack(PackArgs),
    /// Export a checkpoint: test-image embeddings (--out) and/or weights (--weights)
    ///
    /// The checkpoint's embeddings of the test images for the TensorFlow Embedding Projector
    /// (--out), and/or its weights as safetensors (--weights).
    Export(ExportArgs),
    /// Label efficiency: the method and supervised-only at each label count (JSON lines)
    Sweep(SweepArgs),
}

// The settings of one run, for `train` and `sweep`: the defaults are RunConfig::default()'s.
#[derive(Args)]
#[group(skip)] // no implicit group: Given lists options only
struct RunOptions {
    /// Method id (`sslp methods` lists them)
    #[arg(long, value_name = "ID", default_value_t = RunConfig::default().method)]
    method: String,
    /// fashion-mnist, mnist, emoji, or the path of a .sslp.gz pack (`sslp pack`)
    #[arg(long, value_name = "ID|PATH", default_value_t = RunConfig::default().dataset)]
    dataset: String,
    /// small-cnn, resnet-tiny or vit-tiny
    #[arg(long, value_name = "ID", default_value = RunConfig::default().backbone.id())]
    backbone: String,
    /// Channels of the backbone's first stage; later stages double it
    #[arg(long, value_name = "N", default_value_t = RunConfig::default().width)]
    width: usize,
    /// Training steps
    #[arg(long, value_name = "N", default_value_t = RunConfig::default().steps)]
    steps: usize,
    /// Images per step (labelled ones for semi-supervised methods, which add unlabelled ones)
    #[arg(long, value_name = "N", default_value_t = RunConfig::default().batch_size)]
    batch: usize,
    /// Random seed
    #[arg(long, value_name = "N", default_value_t = RunConfig::default().seed)]
    seed: u64,
    /// The method's hyper-parameters over its defaults, as JSON: '{"temperature":0.2}'
    #[arg(long, value_name = "JSON")]
    params: Option<String>,
    /// An optimizer instead of the method's, as JSON (its fields as `sslp methods` shows them)
    #[arg(long, value_name = "JSON")]
    optimizer: Option<String>,
    /// The method's optimizer (or --optimizer's) at another peak learning rate
    #[arg(long, value_name = "LR", allow_negative_numbers = true)]
    lr: Option<f64>,
    /// Start from the settings in this file (a run config as JSON); options given here override them
    #[arg(long, value_name = "FILE.json")]
    config: Option<String>,
    /// Evaluate every N steps (0: only at the end)
    #[arg(long, value_name = "N", default_value_t = RunConfig::default().eval_every)]
    eval_every: usize,
    /// Neighbours of the kNN evaluation
    #[arg(long, value_name = "N", default_value_t = RunConfig::default().knn_k)]
    knn_k: usize,
    /// Temperature of the kNN evaluation's vote weights
    #[arg(long, value_name = "T", allow_negative_numbers = true, default_value_t = RunConfig::default().knn_temperature)]
    knn_t: f64,
    /// Use only the first N labelled train images (the kNN bank and the training pool; images
    /// without a class, from `pack --images`, always train)
    #[arg(long, value_name = "N")]
    train_limit: Option<usize>,
    /// Use only the first N test images
    #[arg(long, value_name = "N")]
    test_limit: Option<usize>,
}

#[derive(Args)]
#[group(skip)]
struct DeviceAndData {
    /// cpu, or wgpu (Vulkan, Metal or DX12; in builds with the wgpu feature)
    #[arg(long, value_name = "cpu|wgpu", default_value = "cpu")]
    device: String,
    /// The folder of the bundled packs ($SSLP_DATA_DIR, else www/public/data of the crate)
    #[arg(long, value_name = "DIR", default_value_os_t = data::default_data_dir())]
    data_dir: PathBuf,
}

#[derive(Args)]
#[group(skip)]
struct TrainArgs {
    #[command(flatten)]
    run: RunOptions,
    /// Labelled images per class, for semi-supervised methods and the supervised baseline
    #[arg(long, value_name = "N", default_value_t = RunConfig::default().labels_per_class)]
    labels_per_class: usize,
    /// JSON lines on stdout (steps, evaluations, the summary) instead of the progress bar
    #[arg(long)]
    json: bool,
    /// Also train supervised-only at the same labels and steps, for comparison
    #[arg(long)]
    baseline: bool,
    /// Fit a linear probe on the trained backbone's features at the end
    #[arg(long)]
    probe: bool,
    /// Epochs of the linear probe
    #[arg(long, value_name = "N", default_value_t = 200)]
    probe_epochs: usize,
    /// Checkpoint file: checked before step 1; written at the end, on Ctrl-C and on a NaN
    #[arg(long, value_name = "FILE.ckpt")]
    save: Option<String>,
    /// Also write the checkpoint every N steps (0: never; needs --save)
    #[arg(long, value_name = "N", default_value_t = 0)]
    checkpoint_every: usize,
    /// Continue the run saved in this checkpoint exactly, with its settings; only --lr may change
    #[arg(long, value_name = "FILE.ckpt")]
    resume: Option<String>,
    /// Start a new run from saved weights
    #[arg(long, value_name = "FILE.ckpt|FILE.safetensors")]
    load: Option<String>,
    #[arg(long, value_name = "DIR", help = format!("vit-tiny: after training, PNGs of the first {ATTENTION_IMAGES} test images' CLS attention"))]
    attention_maps: Option<PathBuf>,
    #[command(flatten)]
    device: DeviceAndData,
}

#[derive(Args)]
#[group(skip)]
struct SweepArgs {
    #[command(flatten)]
    run: RunOptions,
    /// Labelled images per class of each point, comma-separated
    #[arg(long, value_name = "N,N,..", default_value = "1,4,10")]
    labels: String,
    #[command(flatten)]
    device: DeviceAndData,
}

#[derive(Args)]
struct BenchArgs {
    /// A method id, or all
    #[arg(long, value_name = "ID|all", default_value = "all")]
    method: String,
    /// Timed runs per method; the median is reported
    #[arg(long, value_name = "N", default_value_t = 5)]
    runs: usize,
    /// Steps per run, and of the warm-up before the runs
    #[arg(long, value_name = "N", default_value_t = 10)]
    steps: usize,
    /// Images per step
    #[arg(long, value_name = "N", default_value_t = 64)]
    batch: usize,
    /// Channels of the backbone's first stage
    #[arg(long, value_name = "N", default_value_t = RunConfig::default().width)]
    width: usize,
    /// fashion-mnist, mnist, emoji, or the path of a .sslp.gz pack
    #[arg(long, value_name = "ID|PATH", default_value_t = RunConfig::default().dataset)]
    dataset: String,
    /// small-cnn, resnet-tiny or vit-tiny
    #[arg(long, value_name = "ID", default_value = RunConfig::default().backbone.id())]
    backbone: String,
    /// The methods' hyper-parameters over their defaults, as JSON
    #[arg(long, value_name = "JSON")]
    params: Option<String>,
    /// How the CNN backbones convolve: burn (Burn's conv2d) or im2col (one matrix product)
    #[arg(long, value_name = "burn|im2col", default_value = "burn")]
    conv: String,
    #[command(flatten)]
    device: DeviceAndData,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["idx_dir", "images"])))]
struct PackArgs {
    /// A folder of MNIST-style IDX files (train-images-idx3-ubyte and the other three, or .gz)
    #[arg(long, value_name = "DIR", requires = "name")]
    idx_dir: Option<PathBuf>,
    /// Your own images, a folder or a .zip: one subfolder per class (PNG, JPEG, WebP, GIF,
    /// BMP), images beside them unlabelled; prints a JSON report of the files read and skipped
    #[arg(long, value_name = "DIR|FILE.zip")]
    images: Option<String>,
    /// The pack file to write
    #[arg(long, value_name = "FILE.sslp.gz")]
    out: String,
    /// The pack's name: needed with --idx-dir (fashion-mnist gets its class names, any other
    /// name digits); --images defaults to the folder's name
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// --images: the side of the square images, 32, 48 or 64
    #[arg(long, value_name = "PX", default_value_t = 32, conflicts_with = "idx_dir")]
    size: usize,
    /// --images: the seed of the train/test split
    #[arg(long, value_name = "N", default_value_t = 1, conflicts_with = "idx_dir")]
    seed: u64,
    /// --idx-dir: at most N train images per class
    #[arg(long, value_name = "N", conflicts_with = "images")]
    train_per_class: Option<usize>,
    /// --idx-dir: at most N test images per class
    #[arg(long, value_name = "N", conflicts_with = "images")]
    test_per_class: Option<usize>,
}

#[derive(Args)]
struct ExportArgs {
    /// The checkpoint of the run to export (`sslp train --save`)
    #[arg(long, value_name = "FILE.ckpt")]
    load: String,
    /// Write the Embedding Projector's four files (zipped) of the checkpoint's test images
    #[arg(long, value_name = "FILE.zip")]
    out: Option<String>,
    /// At most N test images in --out
    #[arg(long, value_name = "N", default_value_t = 2000)]
    limit: usize,
    /// Write the model's weights as safetensors (F32)
    #[arg(long, value_name = "FILE.safetensors")]
    weights: Option<String>,
    #[command(flatten)]
    device: DeviceAndData,
}

/// The options the command line gave, by clap id (`batch`, `knn_t`); the others hold their
/// defaults, which a `--config` file's settings take precedence over.
struct Given(Vec<String>);

impl Given {
    fn of(matches: &ArgMatches) -> Given {
        Given(matches.ids().map(|id| id.as_str().to_owned()).filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine)).collect())
    }
    fn has(&self, id: &str) -> bool {
        self.0.iter().any(|g| g == id)
    }
}

fn main() {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let given = Given::of(matches.subcommand().map_or(&matches, |(_, m)| m));
    let result = match &cli.command {
        SslpCommand::Methods => methods(),
        SslpCommand::Train(a) => train(a, &given),
        SslpCommand::Bench(a) => bench(a),
        SslpCommand::Pack(a) => make_pack(a),
        SslpCommand::Export(a) => export(a),
        SslpCommand::Sweep(a) => sweep(a, &given),
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

/// Test images whose attention maps `--attention-maps` draws.
const ATTENTION_IMAGES: usize = 8;

/// `--lr`: the run's optimizer (the method's, or --optimizer's) at another peak learning rate.
fn apply_lr(c: &mut RunConfig, lr: Option<f64>) -> Result<(), String> {
    if let Some(lr) = lr {
        c.optimizer = Some(OptimConfig { lr, ..c.optimizer()? });
    }
    Ok(())
}

/// The run's settings: `--config`'s file (or the defaults), then every option given.
fn run_config(a: &RunOptions, given: &Given, labels_per_class: Option<usize>) -> Result<RunConfig, String> {
    let mut c = match &a.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?
        }
        None => RunConfig::default(),
    };
    macro_rules! set_given {
        ($($option:ident => $field:ident),*) => {
            $(if given.has(stringify!($option)) {
                c.$field = a.$option.clone();
            })*
        };
    }
    set_given!(method => method, dataset => dataset);
    if given.has("backbone") {
        c.backbone = BackboneKind::parse(&a.backbone)?;
    }
    if let Some(v) = &a.params {
        c.params = serde_json::from_str(v).map_err(|e| format!("--params is not JSON: {e}"))?;
    }
    if let Some(v) = &a.optimizer {
        c.optimizer = Some(serde_json::from_str(v).map_err(|e| format!("--optimizer: {e}"))?);
    }
    apply_lr(&mut c, a.lr)?; // the method's optimizer: after --method, --params and --optimizer
    set_given!(width => width, steps => steps, batch => batch_size, seed => seed, eval_every => eval_every, knn_k => knn_k, knn_t => knn_temperature);
    c.labels_per_class = labels_per_class.unwrap_or(c.labels_per_class);
    c.train_limit = a.train_limit.or(c.train_limit);
    c.test_limit = a.test_limit.or(c.test_limit);
    c.validate()?;
    Ok(c)
}

/// The progress line on stderr: step, stage, ETA, images/s, current loss. On a terminal an
/// indicatif bar; in a log (stderr not a terminal) a plain `step ...` line every
/// [`Progress::LOG_EVERY_S`] seconds and at the last step, instead of a frame per step.
enum Progress {
    Bar(indicatif::ProgressBar),
    Log { last_line: Option<f64> },
}

impl Progress {
    const LOG_EVERY_S: f64 = 5.0;

    fn new(total: usize) -> Progress {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return Progress::Log { last_line: None };
        }
        let style = indicatif::ProgressStyle::with_template("[{bar:30}] {pos}/{len} {msg}").expect("a valid template").progress_chars("#.");
        Progress::Bar(indicatif::ProgressBar::new(total as u64).with_style(style))
    }

    fn show(&mut self, step: usize, total: usize, stage: &str, elapsed: f64, images_per_s: f64, loss: f64) {
        let eta = elapsed / step.max(1) as f64 * total.saturating_sub(step) as f64;
        let numbers = format!("{stage}  ETA {eta:>4.0}s  {images_per_s:>7.1} img/s  loss {loss:.4}");
        match self {
            Progress::Bar(bar) => {
                bar.set_position(step as u64);
                bar.set_message(numbers);
            }
            Progress::Log { last_line } => {
                if step >= total || last_line.is_none_or(|t| elapsed - t >= Self::LOG_EVERY_S) {
                    *last_line = Some(elapsed);
                    eprintln!("step {step}/{total} {numbers}");
                }
            }
        }
    }

    /// A line of its own (an evaluation): above the bar, or after a blank line in a log.
    fn println(&self, line: &str) {
        match self {
            Progress::Bar(bar) => bar.println(line),
            Progress::Log { .. } => eprintln!("\n{line}"),
        }
    }

    /// The end of the run's progress: the bar stays as it is; a log gets a blank line.
    fn finish(&self) {
        match self {
            Progress::Bar(bar) => bar.abandon(),
            Progress::Log { .. } => eprintln!(),
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

/// Options `--resume` accepts (clap ids): the run's settings come from the checkpoint, except
/// the learning rate (lowering it is the way out of a NaN).
const RESUME_OPTIONS: [&str; 11] = ["resume", "device", "data_dir", "save", "checkpoint_every", "probe_epochs", "lr", "load", "json", "baseline", "probe"];

#[derive(Debug)]
enum Stop {
    Finished,
    Interrupted,
    StdoutClosed,
    NonFinite(SessionError),
}

fn train(a: &TrainArgs, given: &Given) -> Result<(), String> {
    let resume = match &a.resume {
        Some(path) => {
            if let Some(id) = given.0.iter().find(|id| !RESUME_OPTIONS.contains(&id.as_str())) {
                let option = id.replace('_', "-");
                return Err(format!("--resume continues the run saved in the checkpoint, with its settings; leave out --{option} (only --lr may change)"));
            }
            if a.load.is_some() {
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
            apply_lr(&mut c, a.run.lr)?;
            c.validate()?;
            c
        }
        None => run_config(&a.run, given, given.has("labels_per_class").then_some(a.labels_per_class))?,
    };
    let save = a.save.clone();
    if let Some(path) = &save {
        check_writable(path)?;
    }
    let attention_dir = a.attention_maps.as_ref();
    if let Some(dir) = attention_dir {
        if config.backbone != BackboneKind::VitTiny {
            return Err(format!("--attention-maps draws a transformer's attention; {} has none: add --backbone vit-tiny", config.backbone.id()));
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create --attention-maps folder {} ({e}); choose a writable folder", dir.display()))?;
    }
    let checkpoint_every = a.checkpoint_every;
    if checkpoint_every > 0 && save.is_none() {
        return Err("--checkpoint-every needs --save FILE: the file the checkpoints are written to".into());
    }
    let json = a.json;
    let pack = data::load_pack(&config.dataset, &a.device.data_dir)?;
    let device = native_device(&a.device.device)?;
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
    if let Some(path) = &a.load {
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
    // None with --json: the step lines are the progress.
    let mut progress = (!json).then(|| Progress::new(config.steps));
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
        match &mut progress {
            Some(progress) => progress.show(report.step, config.steps, &report.stage, started.elapsed().as_secs_f64(), report.images_per_s, last_loss.unwrap_or(f64::NAN)),
            None => stdout.line(&report.to_json().to_string()),
        }
        if stdout.closed {
            break Stop::StdoutClosed;
        }
        let next = session.after_step();
        // The final evaluation follows the loop.
        if next.evaluate && !next.finished {
            let eval = block_on(session.evaluate()).map_err(|e| e.to_string())?;
            match &progress {
                Some(progress) => {
                    let extra: String = eval.test_acc.map(|a| format!(", classifier {:.2}%", a * 100.0)).into_iter()
                        .chain(eval.metrics.iter().map(|m| format!(", {} {:.4}", m.name, m.value)))
                        .collect();
                    progress.println(&format!("  step {} ({}): kNN {:.2}%{extra}", eval.step, eval.stage, eval.knn_acc * 100.0));
                }
                None => stdout.line(&serde_json::to_string(&eval).map_err(|e| e.to_string())?),
            }
        }
        if checkpoint_every > 0 && report.step % checkpoint_every == 0 && report.step < config.steps {
            write_checkpoint(&session, save.as_deref().expect("checked above"))?;
        }
    };
    if let Some(progress) = &progress {
        progress.finish();
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
    if let Some(dir) = attention_dir {
        let (files, entropy) = write_attention_maps(&session, dir)?;
        if json {
            stdout.line(&serde_json::json!({"kind": "attention_maps", "files": files, "entropy": entropy}).to_string());
        } else {
            eprintln!("attention maps: {} (entropy per image, nats: {entropy:.3?})", files.join(", "));
        }
    }
    if a.probe {
        let probe = block_on(session.linear_probe(a.probe_epochs)).map_err(|e| e.to_string())?;
        if json {
            stdout.line(&serde_json::json!({"kind": "probe", "linear_probe_acc": probe}).to_string());
        } else {
            eprintln!("linear probe: {:.2}%", probe * 100.0);
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    let supervised_only_acc = if a.baseline && matches!(stop, Stop::Finished) {
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
fn sweep(a: &SweepArgs, given: &Given) -> Result<(), String> {
    let counts: Vec<usize> = a
        .labels
        .split(',')
        .map(|t| t.trim().parse::<usize>().map_err(|_| format!("--labels {}: give label counts per class as whole numbers, e.g. 1,4,10", a.labels)))
        .collect::<Result<_, _>>()?;
    let config = run_config(&a.run, given, None)?;
    if !config.method_kind()?.uses_labels() {
        return Err(format!("{} trains no classifier on labels; the sweep compares semi-supervised methods (e.g. --method fixmatch)", config.method));
    }
    let plan = config.label_sweep(&counts)?;
    let pack = data::load_pack(&config.dataset, &a.device.data_dir)?;
    let device = native_device(&a.device.device)?;
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

fn bench(a: &BenchArgs) -> Result<(), String> {
    let (runs, steps, batch, width) = (a.runs, a.steps, a.batch, a.width);
    let device_name = a.device.device.as_str();
    if !(1..=1000).contains(&runs) || !(1..=10_000).contains(&steps) {
        return Err(format!("--runs {runs} --steps {steps}: a benchmark needs 1..=1000 runs of 1..=10000 steps"));
    }
    let mut stdout = Stdout { closed: false };
    let kinds: Vec<MethodKind> = match a.method.as_str() {
        "all" => ALL_METHODS.to_vec(),
        id => vec![MethodKind::parse(id)?],
    };
    let conv = ConvPath::parse(&a.conv)?;
    set_conv_path(conv);
    let dataset = a.dataset.as_str();
    let pack = data::load_pack(dataset, &a.device.data_dir)?;
    let device = native_device(device_name)?;
    for kind in kinds {
        let config = RunConfig {
            method: kind.id().into(),
            dataset: dataset.into(),
            backbone: BackboneKind::parse(&a.backbone)?,
            batch_size: batch,
            width,
            params: match &a.params {
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
                "backbone": a.backbone, "conv": conv.id(), "batch": batch, "images_per_step": per_step,
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
fn export(a: &ExportArgs) -> Result<(), String> {
    let path = &a.load;
    let (out, weights) = (a.out.as_deref(), a.weights.as_deref());
    if out.is_none() && weights.is_none() {
        return Err("say what to export: --out FILE.zip (Embedding Projector) and/or --weights FILE.safetensors".into());
    }
    let limit = a.limit;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read checkpoint {path}: {e}"))?;
    let checkpoint = Checkpoint::decode(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let config = checkpoint.state.config.clone();
    let pack = data::load_pack(&config.dataset, &a.device.data_dir)?;
    let device = native_device(&a.device.device)?;
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
fn files_under(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
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
fn pack_images(a: &PackArgs, source: &str) -> Result<(), String> {
    let out = &a.out;
    let source_path = Path::new(source);
    let default_name = source_path.file_stem().and_then(|s| s.to_str()).unwrap_or("images");
    let name = a.name.as_deref().unwrap_or(default_name);
    let mut importer = data::folder::Importer::new(a.size)?;
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
    let (p, report) = importer.finish(name, a.seed)?;
    let bytes = p.encode_gz();
    Pack::decode(name, &bytes).map_err(|e| format!("the pack built from {source} would not load, so {out} was not written: {e}"))?;
    std::fs::write(out, &bytes).map_err(|e| format!("cannot write {out}: {e}"))?;
    for s in &report.skipped {
        eprintln!("skipped {}: {}", s.path, s.reason);
    }
    eprintln!(
        "{out}: {} train + {} test images of {}×{}×{} in {} classes, {} unlabelled (outside any class folder: training only), {} skipped, {} hidden files ignored, {} bytes",
        p.train.len(), p.test.len(), p.channels, p.height, p.width, p.n_classes(), p.n_unlabelled(), report.skipped.len(), report.hidden, bytes.len()
    );
    println!("{}", serde_json::to_string(&report).map_err(|e| e.to_string())?);
    Ok(())
}

/// `sslp pack`: from the user's images (--images) or from IDX files (--idx-dir, with --name).
fn make_pack(a: &PackArgs) -> Result<(), String> {
    if let Some(source) = &a.images {
        return pack_images(a, source);
    }
    let dir = a.idx_dir.as_deref().expect("clap requires --idx-dir or --images");
    let name = a.name.as_deref().expect("clap requires --name with --idx-dir");
    let out = &a.out;
    let classes: Vec<String> = match name {
        "fashion-mnist" => pack::FASHION_MNIST_CLASSES.iter().map(|s| s.to_string()).collect(),
        _ => pack::MNIST_CLASSES.iter().map(|s| s.to_string()).collect(),
    };
    let p = pack::pack_from_idx_dir(name, dir, classes, a.train_per_class, a.test_per_class).map_err(|e| e.to_string())?;
    let bytes = p.encode_gz();
    // Never write a pack that the loader would refuse: read it back first.
    Pack::decode(name, &bytes).map_err(|e| format!("the pack built from {} would not load, so {out} was not written: {e}", dir.display()))?;
    std::fs::write(out, &bytes).map_err(|e| format!("cannot write {out}: {e}"))?;
    eprintln!("{out}: {} train + {} test images of {}×{}×{}, {} bytes", p.train.len(), p.test.len(), p.channels, p.height, p.width, bytes.len());
    Ok(())
}
