//! Where a check of the trail found it broken. Both the chain walk (`verify`) and the seal
//! check (`seal::check`) report a [`Break`]; it lives below both so neither imports the
//! other for it.

use serde::Serialize;

/// Where the chain (or a seal) breaks.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Break {
    pub segment: String,
    /// 1-based line within the segment.
    pub line: usize,
    /// The record's request id, when the line can still be read.
    pub request_id: Option<String>,
    pub problem: String,
}
