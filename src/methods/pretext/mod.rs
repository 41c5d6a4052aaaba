//! Pretext-task methods: a made-up label computed from the image itself.
pub mod rotnet;
