//! ssl-playground: self- and semi-supervised learning for small vision backbones, in the
//! browser on WebGPU and natively, with Burn. See ARCHITECTURE.md in shared/ for the layout.
pub mod augment;
pub mod backbone;
pub mod bounds;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod device;
pub mod eval;
pub mod exec;
pub mod export;
#[cfg(not(target_family = "wasm"))]
pub mod figures;
pub mod heads;
pub mod limits;
pub mod loss;
pub mod methods;
pub mod optim;
pub mod registry;
pub mod report;
pub mod rng;
pub mod session;
pub mod trainer;
pub mod weights;
#[cfg(target_family = "wasm")]
pub mod web;

pub use config::RunConfig;
pub use session::{Session, SessionError};
