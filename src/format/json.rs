//! The JSON backup format (stub, being written).
use std::path::Path;

use super::{BackupMeta, BackupVisitor, BackupWriter, TableMeta};
use crate::error::Result;
use crate::value::{TableSummary, Value};

pub struct JsonWriter;

impl JsonWriter {
    pub fn create(_path: &Path, _meta: &BackupMeta) -> Result<Self> {
        todo!()
    }
}

impl BackupWriter for JsonWriter {
    fn begin_table(&mut self, _table: &TableMeta) -> Result<()> {
        todo!()
    }
    fn write_row(&mut self, _row: &[Value]) -> Result<()> {
        todo!()
    }
    fn end_table(&mut self) -> Result<TableSummary> {
        todo!()
    }
    fn finish(self: Box<Self>) -> Result<()> {
        todo!()
    }
}

pub fn read_meta(_path: &Path) -> Result<BackupMeta> {
    todo!()
}

pub fn read(_path: &Path, _visitor: &mut dyn BackupVisitor) -> Result<()> {
    todo!()
}
