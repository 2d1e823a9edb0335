//! Load and handshake measurements for tern.
//!
//! - [`load`]: `tern-load`, IKE SAs with a CHILD SA each (or childless, see
//!   [`childless`]) against a responder over UDP, driven by tern engines as
//!   initiators.
//! - [`memory`]: two engines joined in memory, for the handshake benchmark.
//! - [`crypto_bound`]: the same handshake's cryptography alone, the ceiling
//!   any engine's rate is measured against.

pub mod childless;
pub mod crypto_bound;
pub mod load;
pub mod memory;
pub mod profile;
