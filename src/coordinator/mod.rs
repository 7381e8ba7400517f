//! Coordinators: state machines whose state lives in an internal topic (DESIGN.md section 5).
//!
//! - [`group`]: classic consumer groups and committed offsets in `__consumer_offsets`.
//! - [`producer_id_manager`]: producer ids for idempotent producers, reserved in blocks in
//!   the metadata log.

pub mod group;
pub mod producer_id_manager;
