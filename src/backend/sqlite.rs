//! SQLite backend (being written).
use super::*;
pub struct Sqlite;
impl Sqlite {
    pub fn open(_url: &DbUrl, _opts: &OpenOptions) -> Result<Self> {
        todo!()
    }
}
impl Backend for Sqlite {
    fn engine(&self) -> Engine { Engine::Sqlite }
    fn catalog(&mut self) -> Result<Catalog> { todo!() }
    fn count_rows(&mut self, _t: &str) -> Result<u64> { todo!() }
    fn migrate(&mut self, _r: &refinery::Runner) -> std::result::Result<refinery::Report, refinery::Error> { todo!() }
    fn applied_migrations(&mut self, _r: &refinery::Runner) -> std::result::Result<Vec<refinery::Migration>, refinery::Error> { todo!() }
    fn begin_read(&mut self) -> Result<()> { todo!() }
    fn read(&mut self, _q: &ReadRequest<'_>, _s: &mut dyn FnMut(&[Value]) -> Result<()>) -> Result<()> { todo!() }
    fn begin_write(&mut self) -> Result<()> { todo!() }
    fn write(&mut self, _q: &WriteRequest<'_>, _r: &[Value]) -> Result<RowOutcome> { todo!() }
    fn key_exists(&mut self, _t: &str, _c: &[String], _v: &[Value]) -> Result<bool> { todo!() }
    fn commit(&mut self) -> Result<()> { todo!() }
    fn rollback(&mut self) -> Result<()> { todo!() }
}
