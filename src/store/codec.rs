//! How a row is stored: the key of a row id and the bytes of a row. Below both the read side
//! (`rows`) and the index (`index`), which each need it, so neither imports the other for it.

use serde_json::{Map, Value};

use super::StoreError;

/// A row: column name → value, `id` included.
pub type Row = Map<String, Value>;

/// The sled key of a row id: big-endian, so keys sort in id order.
pub(crate) fn key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// A stored row; anything but a JSON object is corruption.
pub(crate) fn decode(bytes: &[u8]) -> Result<Row, StoreError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(StoreError::Corrupt("row is not a JSON object".into())),
    }
}

/// A stored row's bytes as a row (for readers outside the store: a backup's archive).
pub fn decode_row(bytes: &[u8]) -> Result<Row, StoreError> {
    decode(bytes)
}

/// A row as stored: compact JSON.
pub(crate) fn encode(row: &Row) -> Vec<u8> {
    serde_json::to_vec(row).unwrap_or_default()
}
