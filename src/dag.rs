//! dag (being written)
