//! Contrastive and non-contrastive joint-embedding methods.
pub mod simclr;
