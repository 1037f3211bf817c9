//! The data phase (being written).
