//! Real PostgreSQL and MariaDB/MySQL servers for tests.
//!
//! Servers are found through `MIGPLAN_TEST_POSTGRES_URL` and
//! `MIGPLAN_TEST_MYSQL_URL`. Without them a server test prints that it skips;
//! under `CI=true` a missing variable fails the test instead, and an
//! unreachable server always fails it. Every test gets a fresh database of
//! its own, dropped when the test ends, so tests run in parallel and leave
//! nothing behind.

use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Postgres,
    Mysql,
}

impl Server {
    fn var(self) -> &'static str {
        match self {
            Server::Postgres => "MIGPLAN_TEST_POSTGRES_URL",
            Server::Mysql => "MIGPLAN_TEST_MYSQL_URL",
        }
    }
}

/// A fresh database on a test server, dropped on drop.
pub struct ServerDb {
    pub server: Server,
    /// The database's URL, for `--db` and plans.
    pub url: String,
    pub name: String,
    admin_url: String,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh PostgreSQL database, or `None` (with a message) when no server is
/// configured outside CI.
pub fn postgres(test: &str) -> Option<ServerDb> {
    ServerDb::create(Server::Postgres, test)
}

/// A fresh MariaDB/MySQL database, or `None` as for [`postgres`].
pub fn mysql(test: &str) -> Option<ServerDb> {
    ServerDb::create(Server::Mysql, test)
}

/// Whether `server` is configured; without it, says that `test` skips (or
/// fails under `CI=true`, where server tests must run).
pub fn available(server: Server, test: &str) -> bool {
    admin_url(server, test).is_some()
}

fn admin_url(server: Server, test: &str) -> Option<String> {
    match std::env::var(server.var()) {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "{} is not set and CI=true: server tests must run in CI",
                server.var()
            )
        }
        _ => {
            eprintln!("SKIPPED {test}: set {} to run it", server.var());
            None
        }
    }
}

impl ServerDb {
    /// A fresh database, or `None` as for [`postgres`].
    pub fn create(server: Server, test: &str) -> Option<ServerDb> {
        let admin_url = admin_url(server, test)?;
        let tag: String = test
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(30)
            .collect();
        let name = format!(
            "mp_{}_{}_{tag}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
        .to_lowercase();
        let db = ServerDb {
            server,
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        };
        db.admin(&[
            &format!("DROP DATABASE IF EXISTS {}", db.name),
            &match server {
                Server::Postgres => format!("CREATE DATABASE {}", db.name),
                Server::Mysql => format!(
                    "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                    db.name
                ),
            },
        ]);
        Some(db)
    }

    fn admin(&self, sqls: &[&str]) {
        match self.server {
            Server::Postgres => {
                let mut c = postgres::Client::connect(&self.admin_url, postgres::NoTls)
                    .unwrap_or_else(|e| panic!("cannot reach {}: {e}", self.server.var()));
                for sql in sqls {
                    c.batch_execute(sql)
                        .unwrap_or_else(|e| panic!("{sql}: {e}"));
                }
            }
            Server::Mysql => {
                use mysql::prelude::Queryable;
                let opts = mysql::Opts::from_url(&self.admin_url).expect("valid mysql URL");
                let mut c = mysql::Conn::new(opts)
                    .unwrap_or_else(|e| panic!("cannot reach {}: {e}", self.server.var()));
                for sql in sqls {
                    c.query_drop(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
                }
            }
        }
    }

    /// Runs SQL statements (`;`-separated for PostgreSQL; one per element
    /// is safest for MySQL) in the test database.
    pub fn execute(&self, sql: &str) {
        match self.server {
            Server::Postgres => self
                .pg()
                .batch_execute(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e:?}")),
            Server::Mysql => {
                use mysql::prelude::Queryable;
                self.my()
                    .query_drop(sql)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }
        }
    }

    pub fn pg(&self) -> postgres::Client {
        assert_eq!(self.server, Server::Postgres);
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }

    pub fn my(&self) -> mysql::Conn {
        assert_eq!(self.server, Server::Mysql);
        mysql::Conn::new(mysql::Opts::from_url(&self.url).unwrap()).unwrap()
    }

    /// One value as text (`NULL` for null), from a query returning one row.
    pub fn scalar(&self, sql: &str) -> String {
        self.rows(sql).remove(0).remove(0)
    }

    /// Rows of a query, every value rendered exactly as text by the server
    /// (PostgreSQL casts to text; MySQL values are rendered from the wire).
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self.server {
            Server::Postgres => {
                let wrapped = format!("SELECT to_jsonb(q)::text FROM ({sql}) q");
                self.pg()
                    .query(&wrapped, &[])
                    .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
                    .iter()
                    .map(|r| vec![r.get::<_, String>(0)])
                    .collect()
            }
            Server::Mysql => {
                use mysql::prelude::Queryable;
                let rows: Vec<mysql::Row> = self
                    .my()
                    .query(sql)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                rows.into_iter()
                    .map(|r| r.unwrap().into_iter().map(render_mysql).collect())
                    .collect()
            }
        }
    }

    /// Rows of a query, every value as the server's own text (`NULL` for
    /// null): PostgreSQL's simple query protocol, MySQL's text protocol.
    pub fn text_rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self.server {
            Server::Postgres => self
                .pg()
                .simple_query(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
                .into_iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => Some(
                        (0..r.len())
                            .map(|i| r.get(i).unwrap_or("NULL").to_string())
                            .collect(),
                    ),
                    _ => None,
                })
                .collect(),
            Server::Mysql => self.rows(sql),
        }
    }

    /// The keys and checks of the user tables, one line each, sorted: what
    /// an import must leave as it found it.
    pub fn constraints(&self) -> Vec<String> {
        let sql = match self.server {
            Server::Postgres => {
                "SELECT conname::text || ' ' || pg_get_constraintdef(oid) FROM pg_constraint \
                 WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> 'migplan_history' ORDER BY 1"
            }
            Server::Mysql => {
                "SELECT CONCAT_WS(' ', k.table_name, k.constraint_name, k.column_name, \
                 k.referenced_table_name, k.referenced_column_name) FROM information_schema.key_column_usage k \
                 WHERE k.table_schema = DATABASE() AND k.table_name NOT LIKE 'migplan%' \
                 UNION ALL SELECT CONCAT_WS(' ', c.constraint_name, c.check_clause) \
                 FROM information_schema.check_constraints c WHERE c.constraint_schema = DATABASE() ORDER BY 1"
            }
        };
        self.text_rows(sql)
            .into_iter()
            .map(|mut r| r.remove(0))
            .collect()
    }

    /// Every row of every table, each table ordered by all its columns'
    /// text, for comparing two databases of the same engine exactly.
    pub fn dump(&self) -> Vec<String> {
        let tables = self.tables();
        let mut out = Vec::new();
        for t in tables {
            let sql = match self.server {
                Server::Postgres => format!(
                    "SELECT mp_row__::text AS r FROM \"{}\" mp_row__ ORDER BY 1",
                    t.replace('"', "\"\"")
                ),
                Server::Mysql => format!("SELECT * FROM `{t}` ORDER BY 1"),
            };
            for r in self.raw_rows(&sql) {
                out.push(format!("{t}: {}", r.join(" | ")));
            }
        }
        out
    }

    /// User tables, bookkeeping (refinery's and migplan's) excluded, sorted.
    pub fn tables(&self) -> Vec<String> {
        let sql = match self.server {
            Server::Postgres => {
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
                    .to_string()
            }
            Server::Mysql => format!(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = '{}' AND table_type = 'BASE TABLE' ORDER BY 1",
                self.name
            ),
        };
        self.raw_rows(&sql)
            .into_iter()
            .map(|mut r| r.remove(0))
            .filter(|t| !migplan::backend::BOOKKEEPING_TABLES.contains(&t.as_str()))
            .map(|t| t.trim_matches('"').to_string())
            .collect()
    }

    fn raw_rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self.server {
            Server::Postgres => self
                .pg()
                .query(sql, &[])
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
                .iter()
                .map(|r| vec![r.get::<_, Option<String>>(0).unwrap_or("NULL".into())])
                .collect(),
            Server::Mysql => self.rows(sql),
        }
    }

    pub fn count(&self, table: &str) -> i64 {
        let sql = match self.server {
            Server::Postgres => format!("SELECT count(*) FROM \"{table}\""),
            Server::Mysql => format!("SELECT count(*) FROM `{table}`"),
        };
        let v = self.scalar(&sql);
        v.trim_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or_else(|_| panic!("count: {v}"))
    }
}

impl Drop for ServerDb {
    fn drop(&mut self) {
        let sql = match self.server {
            Server::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            Server::Mysql => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        self.admin(&[&sql]);
    }
}

/// The URL with its database (path) replaced, query string kept.
fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, format!("?{q}")),
        None => (rest, String::new()),
    };
    let authority = before_query.split('/').next().unwrap_or(before_query);
    format!("{scheme}://{authority}/{db}{query}")
}

/// A MySQL value as exact text: strings as themselves, other bytes as hex,
/// numbers and dates as the driver decoded them.
fn render_mysql(v: mysql::Value) -> String {
    match v {
        mysql::Value::NULL => "NULL".into(),
        mysql::Value::Bytes(b) => match String::from_utf8(b) {
            Ok(s) => s,
            Err(e) => format!("0x{}", hex(e.as_bytes())),
        },
        other => format!("{other:?}"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
