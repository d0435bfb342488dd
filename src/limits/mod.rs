//! Counting engines with no HTTP in them: fixed windows (per-IP throttle, public-view
//! windows, per-token rate limit, failed authentications, endpoint limits) and the replay
//! cache. Each is a lock-free DashMap with a capacity; a per-client one sheds one-hit windows
//! when full, and a full one with nothing to shed says so and its caller fails closed. The
//! store snapshots them; the stages count with them.

pub mod replay;
pub mod shared;
pub mod window;
