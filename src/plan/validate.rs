//! Meaning checks: raw → Plan (stub, being written).
use std::path::Path;

use super::Plan;
use crate::error::Result;

pub fn load(_path: &Path) -> Result<Plan> {
    todo!()
}

pub fn load_str(_path: &Path, _src: &str) -> Result<Plan> {
    todo!()
}
