//! Semi-supervised methods: a few labelled images plus many unlabelled ones. They share
//! USB's batch shape (x_lb, y_lb, x_ulb_w, x_ulb_s) and the curves `sup`, `unsup`, `mask_ratio`.
pub mod fixmatch;
