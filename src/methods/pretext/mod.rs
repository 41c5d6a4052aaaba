//! Pretext-task methods: a made-up label computed from the image itself.
pub mod jigsaw;
pub mod rotnet;
