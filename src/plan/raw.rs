//! serde mirror of the plan file (stub).
