//! MySQL and MariaDB (the `mysql` crate). Being written.

use super::{DbUrl, OpenOptions};
use crate::error::{Error, Result};

pub struct Mysql;

impl Mysql {
    pub fn open(url: &DbUrl, _opts: &OpenOptions) -> Result<Box<dyn super::Backend>> {
        Err(Error::Usage(format!("MySQL is not supported yet ({url})")))
    }
}
