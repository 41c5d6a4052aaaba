//! The browser facade: the only module that touches wasm-bindgen and js-sys. It is a thin
//! shell over [`Session`], driven by the page's Web Worker (`www/src/worker.ts`).
//!
//! Rules it keeps (measured, see shared/BURN-NOTES.md):
//! - every tensor read is async (`into_data_async`); a sync read panics on WebGPU;
//! - the wgpu device is initialised with `init_async` once per worker and reused (Burn's
//!   runtime cannot be registered twice);
//! - a console logger and a panic hook are installed first, or WGSL errors are invisible;
//! - errors cross as `JsError` with the Session's readable message; results cross as plain
//!   JS objects (serde-wasm-bindgen, JSON-compatible: maps become objects, NaN stays `null`).
use crate::config::RunConfig;
use crate::data::folder::Importer;
use crate::data::pack::Pack;
use crate::registry::ALL_METHODS;
use crate::session::{AfterStep, Clock, Session, SessionError};
use burn::prelude::*;
#[cfg(feature = "wgpu")]
use burn::tensor::wgpu::wgpu;
use js_sys::{Float32Array, Promise, Uint8Array};
use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

#[cfg(feature = "wgpu")]
thread_local! {
    /// The worker's WebGPU device, initialised once and shared by every session.
    static WEBGPU: RefCell<Option<Device>> = const { RefCell::new(None) };
    /// The wgpu handle behind it, kept for [`simulate_device_loss`].
    static WGPU_DEVICE: RefCell<Option<wgpu::Device>> = const { RefCell::new(None) };
}

thread_local! {
    /// Set by wgpu's device-lost callback: the reason the browser gave.
    static DEVICE_LOST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The threaded CPU build (`threads` feature, scripts/build-web.sh): the worker starts the
/// rayon pool with `initThreadPool(n)` before any session is made.
#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

// Static constructors (inventory registrations: 4,892 in cubecl's IR crates). When nothing in
// the module calls them, wasm-ld wraps *every* export in a call to all of them (`.command_export`
// functions), so each call from JS, each JS value handed across and each resolved promise re-ran
// them: `methods()` took 1.5 s in Chromium. One explicit call tells wasm-ld not to wrap;
// scripts/build-web.sh checks that no wrapper is left. Not in the threaded build: it has no
// constructors, and its start function runs once per thread.
#[cfg(not(target_feature = "atomics"))]
extern "C" {
    fn __wasm_call_ctors();
}

#[wasm_bindgen(start)]
pub fn start() {
    // SAFETY: wasm-ld's synthetic function; this start function runs once, right after
    // instantiation and before any other export (wasm-bindgen's `init`).
    #[cfg(not(target_feature = "atomics"))]
    unsafe {
        __wasm_call_ctors()
    };
    console_error_panic_hook::set_once();
    // Warn level: WGSL compile errors and wgpu validation errors reach the console.
    let _ = console_log::init_with_level(log::Level::Warn);
}

fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsError> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| JsError::new(&e.to_string()))
}

fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

/// A [`SessionError`] as a JS `Error` whose `kind` property names it (`nan`, `config`,
/// `device`, `checkpoint`), so the worker acts on the kind and shows the message as it is.
fn session_error(e: SessionError) -> JsValue {
    kinded_error(&e.to_string(), e.kind())
}

/// A JS `Error` with `message` and a `kind` property the worker acts on.
fn kinded_error(message: &str, kind: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    let _ = js_sys::Reflect::set(&error, &"kind".into(), &kind.into());
    error.into()
}

/// Every registered method with its family, paper, explanation and default parameters.
#[wasm_bindgen]
pub fn methods() -> Result<JsValue, JsError> {
    let infos: Vec<_> = ALL_METHODS.iter().map(|m| m.info()).collect();
    to_js(&infos)
}

/// The default run configuration, as a JS object.
#[wasm_bindgen(js_name = defaultConfig)]
pub fn default_config() -> Result<JsValue, JsError> {
    to_js(&RunConfig::default())
}

/// Check a run config before any data is fetched: its JSON shape, every range and the
/// method's parameters. The error says what to change.
#[wasm_bindgen(js_name = checkConfig)]
pub fn check_config(config_json: String) -> Result<(), JsError> {
    let config = RunConfig::from_json(&config_json).map_err(|e| JsError::new(&e))?;
    crate::limits::check_config(&config).map_err(|e| JsError::new(&e))
}

/// The label-efficiency sweep of a run (see [`RunConfig::label_sweep`]): `[[run, twin], …]`,
/// the run at each label count and its supervised-only twin, each checked as `checkConfig`.
#[wasm_bindgen(js_name = labelSweep)]
pub fn label_sweep(config_json: String, labels_per_class: Vec<usize>) -> Result<JsValue, JsError> {
    let config = RunConfig::from_json(&config_json).map_err(|e| JsError::new(&e))?;
    if !config.method_kind().map_err(|e| JsError::new(&e))?.uses_labels() {
        return Err(JsError::new(&format!("{} trains no classifier on labels; choose a semi-supervised method to compare label counts", config.method)));
    }
    let plan = config.label_sweep(&labels_per_class).map_err(|e| JsError::new(&e))?;
    for (run, twin) in &plan {
        crate::limits::check_config(run).map_err(|e| JsError::new(&e))?;
        crate::limits::check_config(twin).map_err(|e| JsError::new(&e))?;
    }
    to_js(&plan)
}

/// How the CNN backbones convolve in this module from now on: `burn` (the default) or
/// `im2col` (`bench.html?conv=burn,im2col` measures both; see `backbone::conv`).
#[wasm_bindgen(js_name = setConvPath)]
pub fn set_conv_path(id: &str) -> Result<(), JsError> {
    crate::backbone::conv::set_conv_path(crate::backbone::conv::ConvPath::parse(id).map_err(|e| JsError::new(&e))?);
    Ok(())
}

/// The browser's reason if the WebGPU device was lost, else `undefined`.
#[wasm_bindgen(js_name = deviceLost)]
pub fn device_lost() -> Option<String> {
    DEVICE_LOST.with(|l| l.borrow().clone())
}

/// The WebGPU device, initialised on first use. Errors say what to do.
#[cfg(feature = "wgpu")]
async fn webgpu_device() -> Result<Device, String> {
    if let Some(device) = WEBGPU.with(|d| d.borrow().clone()) {
        return Ok(device);
    }
    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|e| format!("WebGPU is not available ({e:?}); the run can use the CPU backend instead"))?;
    setup.device.set_device_lost_callback(|reason: wgpu::DeviceLostReason, message: String| {
        DEVICE_LOST.with(|l| *l.borrow_mut() = Some(format!("{reason:?}: {message}")));
    });
    WGPU_DEVICE.with(|d| *d.borrow_mut() = Some(setup.device.clone()));
    WEBGPU.with(|d| *d.borrow_mut() = Some(device.clone()));
    Ok(device)
}

/// Destroy the WebGPU device, as a driver reset or a GPU process crash would. The browser test
/// uses it to check that a lost GPU pauses the run and that the run resumes on the CPU.
/// Returns false when no WebGPU device was opened.
#[wasm_bindgen(js_name = simulateDeviceLoss)]
pub fn simulate_device_loss() -> bool {
    wgpu_device_destroyed()
}

#[cfg(feature = "wgpu")]
fn wgpu_device_destroyed() -> bool {
    WGPU_DEVICE.with(|d| d.borrow().as_ref().map(|device| device.destroy()).is_some())
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device_destroyed() -> bool {
    false
}

/// The build without WebGPU (the threaded CPU build): a run asked for on WebGPU is refused.
#[cfg(not(feature = "wgpu"))]
async fn webgpu_device() -> Result<Device, String> {
    Err("this build of the playground has no WebGPU (it is the multi-threaded CPU build); the run can use the CPU backend".into())
}

fn performance_clock() -> Clock {
    // Workers have `performance` on their global scope; Date.now() is the fallback.
    let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .filter(|p| !p.is_undefined())
        .map(web_performance);
    Box::new(move || match &performance {
        Some(p) => p.now(),
        None => js_sys::Date::now(),
    })
}

#[wasm_bindgen]
extern "C" {
    type Performance;
    #[wasm_bindgen(method)]
    fn now(this: &Performance) -> f64;
}

fn web_performance(value: JsValue) -> Performance {
    value.unchecked_into()
}

#[derive(Serialize)]
struct PixelBlock {
    name: String,
    /// Images in the block; pixels are `[n, c, h, w]` in [0, 1].
    n: usize,
    channels: usize,
    height: usize,
    width: usize,
}

/// A training session living in the worker. Methods return Promises; the worker awaits each
/// one before the next call, and a call made while another runs is refused, never queued.
#[wasm_bindgen]
pub struct WebSession {
    inner: Rc<RefCell<Session>>,
    pack: Rc<Pack>,
    backend: String,
    /// The step count and run policy as of the last step, readable while an async call holds
    /// the session: the worker reads them between steps, when a view or neighbour query may
    /// be awaiting the GPU. (Read through the session, a busy borrow read as step 0, and the
    /// worker trained past the run's end.)
    steps: Rc<Cell<usize>>,
    after: Rc<Cell<AfterStep>>,
}

#[wasm_bindgen]
impl WebSession {
    /// Decode the dataset pack (gzip bytes), open the device (`webgpu` or `cpu`) and build the
    /// model. Errors name the problem: a bad pack, a bad config, no WebGPU.
    /// Errors carry a `kind`: `config`, `load` (the pack), `device` (no WebGPU), as the run's.
    pub async fn create(config_json: String, pack_bytes: Vec<u8>, dataset_name: String, backend: String) -> Result<WebSession, JsValue> {
        let config = RunConfig::from_json(&config_json).map_err(|e| kinded_error(&e, "config"))?;
        let pack = Pack::decode(&dataset_name, &pack_bytes).map_err(|e| kinded_error(&format!("{dataset_name}: {e}"), "load"))?;
        let device = match backend.as_str() {
            "webgpu" => webgpu_device().await.map_err(|e| kinded_error(&e, "device"))?,
            "cpu" => Device::flex(),
            other => return Err(kinded_error(&format!("unknown backend '{other}'; use webgpu or cpu"), "config")),
        };
        let session = Session::new(config, &pack, device, performance_clock()).map_err(session_error)?;
        let (steps, after) = (Rc::new(Cell::new(session.step_count())), Rc::new(Cell::new(session.after_step())));
        Ok(WebSession { inner: Rc::new(RefCell::new(session)), pack: Rc::new(pack), backend, steps, after })
    }

    /// Backend, dataset facts, the resolved config, parameter count and method metadata.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let s = self.inner.try_borrow().map_err(|_| JsError::new("the session is busy"))?;
        to_js(&s.info(&self.backend))
    }

    /// Run one training step; resolves to `{step, lr, images_per_s, <term>: value…}`.
    pub fn step(&self) -> Promise {
        let (inner, steps, after) = (self.inner.clone(), self.steps.clone(), self.after.clone());
        future_to_promise(async move {
            let mut s = inner.try_borrow_mut().map_err(|_| js_error("the session is busy"))?;
            let report = s.step().await.map_err(session_error)?;
            steps.set(s.step_count());
            after.set(s.after_step());
            Ok(to_js(&report.to_json())?)
        })
    }

    /// Measure the untrained backbone's kNN accuracy per layer (before the first step).
    pub fn baseline(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut s = inner.try_borrow_mut().map_err(|_| js_error("the session is busy"))?;
            let layers = s.measure_random_init().await.map_err(session_error)?;
            Ok(to_js(&serde_json::json!({"layers": layers.names, "accuracy": layers.accuracy}))?)
        })
    }

    /// kNN accuracy (and classifier / pretext accuracy where the method has one).
    pub fn evaluate(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut s = inner.try_borrow_mut().map_err(|_| js_error("the session is busy"))?;
            let report = s.evaluate().await.map_err(session_error)?;
            Ok(to_js(&report)?)
        })
    }

    /// Top-k train neighbours of test image `index`: `[{index, label, similarity}]`.
    #[wasm_bindgen(js_name = neighboursOfTest)]
    pub fn neighbours_of_test(&self, index: usize, k: usize) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut s = inner.try_borrow_mut().map_err(|_| js_error("the session is busy"))?;
            let found = s.neighbours_of_test(index, k).await.map_err(session_error)?;
            Ok(to_js(&found)?)
        })
    }

    /// Top-k train neighbours of an image of the user's, `[c·h·w]` floats in [0, 1] already
    /// resized to the dataset's shape by the page.
    #[wasm_bindgen(js_name = neighboursOfImage)]
    pub fn neighbours_of_image(&self, pixels: Vec<f32>, k: usize) -> Promise {
        let inner = self.inner.clone();
        let (c, h, w) = (self.pack.channels, self.pack.height, self.pack.width);
        future_to_promise(async move {
            if pixels.len() != c * h * w || pixels.iter().any(|p| !p.is_finite()) {
                return Err(js_error(format!("the image must be {c}×{h}×{w} finite values, got {}", pixels.len())));
            }
            let mut s = inner.try_borrow_mut().map_err(|_| js_error("the session is busy"))?;
            let image = Tensor::from_data(TensorData::new(pixels, [1, c, h, w]), s.device());
            let found = s.neighbours_of_image(image, k).await.map_err(session_error)?;
            Ok(to_js(&found)?)
        })
    }

    /// The method's diagnostic matrices from its last step (Barlow Twins' cross-correlation):
    /// `[{name, rows, cols, values}]`, row-major.
    pub fn matrices(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let s = inner.try_borrow().map_err(|_| js_error("the session is busy"))?;
            let matrices = s.matrices().await.map_err(session_error)?;
            Ok(to_js(&matrices)?)
        })
    }

    /// The last block's CLS attention maps of the test images `indices`:
    /// `[{index, rows, cols, heads, mean, entropy}]`; empty for a backbone without attention.
    #[wasm_bindgen(js_name = attentionMaps)]
    pub fn attention_maps(&self, indices: Vec<usize>) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let s = inner.try_borrow().map_err(|_| js_error("the session is busy"))?;
            let maps = s.attention_maps(&indices).await.map_err(session_error)?;
            Ok(to_js(&maps)?)
        })
    }

    /// The embedding map: the test split's final features projected on their top two
    /// principal components, for the first `limit` test images, as a `Float32Array`
    /// `[x0, y0, x1, y1, …]` (the components come from every test image).
    #[wasm_bindgen(js_name = embeddingMap)]
    pub fn embedding_map(&self, limit: usize) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let s = inner.try_borrow().map_err(|_| js_error("the session is busy"))?;
            let xy = s.embedding_map().await.map_err(session_error)?;
            let flat: Vec<f32> = xy.iter().take(limit).flatten().copied().collect();
            Ok(Float32Array::from(flat.as_slice()).into())
        })
    }

    /// The final features of the first `limit` test images, `[n, D]` row-major (a
    /// Float32Array); `dim` is D. The worker's UMAP layout of the map starts from these.
    #[wasm_bindgen(js_name = testEmbeddings)]
    pub fn test_embeddings(&self, limit: usize) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let s = inner.try_borrow().map_err(|_| js_error("the session is busy"))?;
            let (values, dim) = s.test_embeddings(limit).await.map_err(session_error)?;
            let out = js_sys::Object::new();
            js_sys::Reflect::set(&out, &"dim".into(), &JsValue::from(dim as u32))?;
            js_sys::Reflect::set(&out, &"values".into(), &Float32Array::from(values.as_slice()))?;
            Ok(out.into())
        })
    }

    /// Every float tensor of the model as a safetensors file (bytes), read with async reads;
    /// `sslp train --load` and PyTorch's `safetensors` read it.
    pub fn safetensors(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let s = inner.try_borrow().map_err(|_| js_error("the session is busy"))?;
            let bytes = s.weights_safetensors().await.map_err(session_error)?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        })
    }

    /// The Embedding Projector zip (`tensors.tsv`, `metadata.tsv`, `sprite.png`,
    /// `projector_config.json`) of the first `limit` test images, as bytes.
    #[wasm_bindgen(js_name = projectorZip)]
    pub fn projector_zip(&self, limit: usize) -> Promise {
        let (inner, pack) = (self.inner.clone(), self.pack.clone());
        future_to_promise(async move {
            let s = inner.try_borrow().map_err(|_| js_error("the session is busy"))?;
            let bytes = s.projector_zip(&pack, limit).await.map_err(session_error)?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        })
    }

    /// The classifier's guesses for `n` unlabelled training images (the same ones each time):
    /// `[{index, predicted, confidence, truth}]`; empty for methods without a classifier.
    #[wasm_bindgen(js_name = pseudoLabels)]
    pub fn pseudo_labels(&self, n: usize) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let s = inner.try_borrow().map_err(|_| js_error("the session is busy"))?;
            let guesses = s.pseudo_labels(n).await.map_err(session_error)?;
            Ok(to_js(&guesses)?)
        })
    }

    /// The augmented views the method trains on, for the first `n` train images, or for the
    /// test images `test_indices` when that is not empty:
    /// `{blocks: [{name, n, channels, height, width}], pixels: Float32Array}` with the blocks'
    /// pixels concatenated in order.
    pub fn views(&self, n: usize, test_indices: Vec<usize>) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut s = inner.try_borrow_mut().map_err(|_| js_error("the session is busy"))?;
            let views = if test_indices.is_empty() { s.views(n) } else { s.test_views(&test_indices).map_err(session_error)? };
            let mut blocks = Vec::new();
            let mut pixels = Vec::new();
            for (name, t) in views {
                let [n, c, h, w] = t.dims();
                pixels.extend(crate::session::read_f32(t.clamp(0.0, 1.0)).await.map_err(session_error)?);
                blocks.push(PixelBlock { name, n, channels: c, height: h, width: w });
            }
            let out = js_sys::Object::new();
            js_sys::Reflect::set(&out, &"blocks".into(), &to_js(&blocks)?)?;
            js_sys::Reflect::set(&out, &"pixels".into(), &Float32Array::from(pixels.as_slice()))?;
            Ok(out.into())
        })
    }

    /// The model state on the host, for resuming elsewhere: `{step, tensors: Float32Array[]}`.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let s = inner.try_borrow().map_err(|_| js_error("the session is busy"))?;
            let state = s.export_state().await.map_err(session_error)?;
            let tensors = js_sys::Array::new();
            for t in &state {
                tensors.push(&Float32Array::from(t.as_slice()));
            }
            let out = js_sys::Object::new();
            js_sys::Reflect::set(&out, &"step".into(), &JsValue::from(s.step_count() as f64))?;
            js_sys::Reflect::set(&out, &"tensors".into(), &tensors)?;
            Ok(out.into())
        })
    }

    /// Load a state from `exportState` (taken on any backend) and continue from its step.
    #[wasm_bindgen(js_name = importState)]
    pub fn import_state(&self, tensors: Vec<Float32Array>, step: usize) -> Result<(), JsError> {
        let values: Vec<Vec<f32>> = tensors.iter().map(|t| t.to_vec()).collect();
        let mut s = self.inner.try_borrow_mut().map_err(|_| JsError::new("the session is busy"))?;
        s.import_state(&values, step).map_err(|e| JsError::new(&e.to_string()))?;
        self.steps.set(s.step_count());
        self.after.set(s.after_step());
        Ok(())
    }

    /// u8 pixels `[c·h·w]` of image `index` of the `train` or `test` split (for thumbnails).
    pub fn image(&self, split: &str, index: usize) -> Result<Uint8Array, JsError> {
        let data = match split {
            "train" => &self.pack.train,
            "test" => &self.pack.test,
            other => return Err(JsError::new(&format!("unknown split '{other}'"))),
        };
        if index >= data.len() {
            return Err(JsError::new(&format!("{split} image {index} does not exist; the split has {}", data.len())));
        }
        let len = self.pack.image_len();
        Ok(Uint8Array::from(&data.pixels[index * len..(index + 1) * len]))
    }

    /// Labels of the first `n` images of a split.
    pub fn labels(&self, split: &str, n: usize) -> Result<Vec<u8>, JsError> {
        let data = match split {
            "train" => &self.pack.train,
            "test" => &self.pack.test,
            other => return Err(JsError::new(&format!("unknown split '{other}'"))),
        };
        Ok(data.labels[..n.min(data.len())].to_vec())
    }

    /// The run policy after the last step, `{evaluate, snapshot, finished}`: the worker
    /// follows it as the CLI does.
    #[wasm_bindgen(js_name = afterStep)]
    pub fn after_step(&self) -> Result<JsValue, JsError> {
        to_js(&self.after.get())
    }

    #[wasm_bindgen(getter, js_name = stepCount)]
    pub fn step_count(&self) -> usize {
        self.steps.get()
    }
}

/// Your own images ([`crate::data::folder`]): the worker feeds the files one at a time, so it
/// can report progress between them, then takes the pack and the report from `finish`.
#[wasm_bindgen]
pub struct ImageImport {
    inner: Option<Importer>,
}

#[wasm_bindgen]
impl ImageImport {
    /// An importer making `size`-px square images (32, 48 or 64).
    #[wasm_bindgen(constructor)]
    pub fn new(size: usize) -> Result<ImageImport, JsError> {
        Ok(ImageImport { inner: Some(Importer::new(size).map_err(|e| JsError::new(&e))?) })
    }

    fn importer(&mut self) -> Result<&mut Importer, JsError> {
        self.inner.as_mut().ok_or_else(|| JsError::new("this import has finished; start a new one"))
    }

    /// One file; `path` is relative to the chosen folder (`cats/001.png`).
    pub fn add(&mut self, path: String, bytes: &[u8]) -> Result<(), JsError> {
        self.importer()?.add(&path, bytes);
        Ok(())
    }

    /// Every file of a zip archive. Fails only when the archive itself cannot be read.
    #[wasm_bindgen(js_name = addZip)]
    pub fn add_zip(&mut self, bytes: &[u8]) -> Result<(), JsError> {
        self.importer()?.add_zip(bytes).map_err(|e| JsError::new(&e))
    }

    /// A file the page could not read or would not load, named in the report with `reason`.
    #[wasm_bindgen(js_name = addUnreadable)]
    pub fn add_unreadable(&mut self, path: String, reason: String) -> Result<(), JsError> {
        self.importer()?.add_result(&path, Err(reason));
        Ok(())
    }

    /// Files so far: `[decoded, skipped]`.
    pub fn counts(&mut self) -> Result<Vec<u32>, JsError> {
        let (ok, bad) = self.importer()?.counts();
        Ok(vec![ok as u32, bad as u32])
    }

    /// The report (see [`crate::data::folder::ImportReport`]) with the pack's bytes as `pack`.
    /// The error says what to do when no pack can be made (e.g. fewer than two classes).
    pub fn finish(&mut self, name: String, seed: u64) -> Result<JsValue, JsError> {
        let importer = self.inner.take().ok_or_else(|| JsError::new("this import has finished; start a new one"))?;
        let (pack, report) = importer.finish(&name, seed).map_err(|e| JsError::new(&e))?;
        let out = to_js(&report)?;
        js_sys::Reflect::set(&out, &"pack".into(), &Uint8Array::from(pack.encode_raw().as_slice()))
            .map_err(|_| JsError::new("cannot hand the pack to the page"))?;
        Ok(out)
    }
}
