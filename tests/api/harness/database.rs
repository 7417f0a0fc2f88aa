//! A fresh database per test, copied from a template migrated once per process: a file copy on
//! SQLite, `CREATE DATABASE … TEMPLATE` on PostgreSQL. What a test creates is dropped with it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use ecommerce_api::db::Backend;
use sea_orm::sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use tokio::sync::{Mutex, OnceCell};

/// The backend under test: PostgreSQL when `TEST_DATABASE_URL` is set.
pub fn backend() -> Backend {
    if admin_url().is_some() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    }
}

/// The PostgreSQL server's URL from `TEST_DATABASE_URL`, when the tests run on PostgreSQL.
pub fn admin_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

pub struct TestDatabase {
    pub url: String,
    kind: Kind,
}

enum Kind {
    Sqlite(#[expect(dead_code, reason = "held to delete the folder on drop")] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

static NEXT: AtomicU32 = AtomicU32::new(0);
static TEMPLATE: OnceCell<String> = OnceCell::const_new();
/// PostgreSQL refuses to copy a template that another CREATE DATABASE is copying.
static CREATE_LOCK: Mutex<()> = Mutex::const_new(());

impl TestDatabase {
    pub async fn create() -> Self {
        match admin_url() {
            None => Self::create_sqlite().await,
            Some(admin_url) => Self::create_postgres(admin_url).await,
        }
    }

    /// A database nobody migrated, for tests of start-up itself.
    pub async fn create_empty() -> Self {
        match admin_url() {
            None => {
                let dir = tempfile::tempdir().unwrap();
                let url = sqlite_url(&dir.path().join("empty.db"));
                TestDatabase {
                    url,
                    kind: Kind::Sqlite(dir),
                }
            }
            Some(admin_url) => {
                let name = unique_name("empty");
                execute(&admin_url, &format!("CREATE DATABASE \"{name}\"")).await;
                TestDatabase {
                    url: with_database(&admin_url, &name),
                    kind: Kind::Postgres { admin_url, name },
                }
            }
        }
    }

    async fn create_sqlite() -> Self {
        let template = TEMPLATE
            .get_or_init(|| async {
                let dir = tmp_dir();
                remove_stale(&dir, "sqlite-template-");
                let path = dir.join(format!("sqlite-template-{}.db", std::process::id()));
                let _ = std::fs::remove_file(&path);
                let url = sqlite_url(&path);
                migrate(&url).await;
                path.to_string_lossy().into_owned()
            })
            .await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        std::fs::copy(template, &path).expect("the template can be copied");
        TestDatabase {
            url: sqlite_url(&path),
            kind: Kind::Sqlite(dir),
        }
    }

    async fn create_postgres(admin_url: String) -> Self {
        let template = TEMPLATE
            .get_or_init(|| async {
                drop_stale_databases(&admin_url).await;
                let name = format!("ecommerce_tpl_{}", std::process::id());
                execute(&admin_url, &format!("DROP DATABASE IF EXISTS \"{name}\"")).await;
                execute(&admin_url, &format!("CREATE DATABASE \"{name}\"")).await;
                migrate(&with_database(&admin_url, &name)).await;
                name
            })
            .await;
        let name = unique_name("t");
        {
            let _guard = CREATE_LOCK.lock().await;
            execute(
                &admin_url,
                &format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
            )
            .await;
        }
        TestDatabase {
            url: with_database(&admin_url, &name),
            kind: Kind::Postgres { admin_url, name },
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Kind::Postgres { admin_url, name } = &self.kind {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime, which cannot block on itself.
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(execute(
                        &admin_url,
                        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                    ));
            })
            .join()
            .expect("the test database is dropped");
        }
    }
}

async fn migrate(url: &str) {
    let db = ecommerce_api::db::connect(url)
        .await
        .expect("template connects");
    ecommerce_api::db::migrate(&db)
        .await
        .expect("template migrates");
    // Closing checkpoints SQLite's WAL into the file we copy, and frees a PostgreSQL template.
    db.close().await.expect("template closes");
}

fn unique_name(kind: &str) -> String {
    format!(
        "ecommerce_{kind}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

fn tmp_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether the test process that made a name like `…_<pid>_…` is gone.
fn owner_is_gone(name: &str) -> bool {
    name.split(|c: char| !c.is_ascii_digit())
        .find(|part| !part.is_empty())
        .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}

/// Templates of earlier runs that ended without cleaning up.
fn remove_stale(dir: &std::path::Path, prefix: &str) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(rest) = name.strip_prefix(prefix)
            && owner_is_gone(rest)
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

async fn drop_stale_databases(admin_url: &str) {
    let mut conn = PgConnection::connect(admin_url)
        .await
        .expect("TEST_DATABASE_URL connects");
    let names: Vec<(String,)> = sea_orm::sqlx::query_as(
        "SELECT datname FROM pg_database WHERE datname ~ '^ecommerce_(t|tpl|empty)_[0-9]+'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for (name,) in names {
        if owner_is_gone(&name) {
            conn.execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .await
            .unwrap();
        }
    }
}

async fn execute(admin_url: &str, sql: &str) {
    let mut conn = PgConnection::connect(admin_url)
        .await
        .expect("TEST_DATABASE_URL connects");
    conn.execute(AssertSqlSafe(sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.ok();
}

/// The admin URL with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut result = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    result
}

#[test]
fn with_database_replaces_only_the_name() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
}
