//! Counting engines with no HTTP in them: fixed windows (per-IP throttle, per-token rate
//! limit, failed authentications, endpoint limits) and the replay cache. Each is a lock-free
//! DashMap with a capacity; a full one says so and its caller fails closed. The store
//! snapshots them; the stages count with them.

pub mod replay;
pub mod window;
