//! Pretext-task methods: a made-up label computed from the image itself.
pub mod context_prediction;
pub mod counting;
pub mod decoupled_rotnet;
pub mod exemplar;
pub mod jigsaw;
pub mod multi_task;
pub mod rotnet;
