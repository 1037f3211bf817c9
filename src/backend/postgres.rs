//! PostgreSQL (the `postgres` crate). Being written.

use super::{DbUrl, OpenOptions};
use crate::error::{Error, Result};

pub struct Postgres;

impl Postgres {
    pub fn open(url: &DbUrl, _opts: &OpenOptions) -> Result<Box<dyn super::Backend>> {
        Err(Error::Usage(format!(
            "PostgreSQL is not supported yet ({url})"
        )))
    }
}
