//! Coordinators: state machines whose state lives in an internal topic (DESIGN.md section 5).
//!
//! - [`group`]: classic consumer groups and committed offsets in `__consumer_offsets`.

pub mod group;
