//! `[[notify]]` through the real binary, against a real HTTP server on
//! 127.0.0.1 that keeps every request it is sent: what each ending posts,
//! each platform's body and signature, and a webhook that fails, refuses
//! or hangs costing the run nothing but a warning with its secret masked.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use support::test::{Engine, Test, for_each_engine};

const ITEMS: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY, v VARCHAR(20) NOT NULL)";

/// The part of a webhook URL that must never be printed.
const SECRET: &str = "S3cr3tT0ken";

/// A request the server was sent.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    /// Path and query.
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn json(&self) -> Json {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The query's parameters, decoded.
    fn query(&self) -> Vec<(String, String)> {
        let query = self.target.split_once('?').map_or("", |(_, q)| q);
        serde_urlencoded::from_str(query).unwrap()
    }
}

/// What the server does with a request once it has read it.
#[derive(Clone, Copy)]
enum Answer {
    Reply(u16, &'static str),
    /// Never answers (the connection is held open).
    Hang,
}

/// A webhook receiver on 127.0.0.1, on a thread of its own.
struct Hook {
    base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Hook {
    fn start(answer: Answer) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let kept = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = kept.clone();
                std::thread::spawn(move || serve(stream, answer, &kept));
            }
        });
        Hook { base, requests }
    }

    fn ok() -> Hook {
        Hook::start(Answer::Reply(200, "ok"))
    }

    /// The URL of `path` on this server.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The one request sent, which must be a JSON POST.
    fn only(&self) -> Request {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "{requests:#?}");
        let r = requests.into_iter().next().unwrap();
        assert_eq!(r.method, "POST");
        let ct = r.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("application/json"), "{ct}");
        r
    }
}

fn serve(stream: TcpStream, answer: Answer, kept: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let Some(request) = read_request(&mut reader) else {
        return;
    };
    kept.lock().unwrap().push(request);
    let mut stream = stream;
    match answer {
        Answer::Reply(status, body) => {
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
        Answer::Hang => std::thread::sleep(Duration::from_secs(60)),
    }
}

fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

/// The target holds items 1 and 2; `b.json` changes item 2 and adds 3.
fn items(engine: Engine) -> Test {
    let t = Test::on(engine)
        .schema(ITEMS)
        .rows("INSERT INTO items VALUES (1, 'one'), (2, 'two')");
    t.another()
        .schema(ITEMS)
        .rows("INSERT INTO items VALUES (2, 'changed'), (3, 'added')")
        .export("b.json");
    t
}

/// An import plan of `b.json` under `conflict`, with `notify` after it.
fn plan(t: &Test, conflict: &str, notify: &str) {
    t.plan(
        "plan.toml",
        &format!(
            "[plan]\nname = \"nightly\"\nkind = \"import\"\n[database]\nurl = \"{{url}}\"\n[import]\nfile = \"b.json\"\nconflict = \"{conflict}\"\n{notify}"
        ),
    );
}

/// `migplan ARGS…` reaching 127.0.0.1 directly, whatever proxy the
/// environment names (webhook calls honour `HTTPS_PROXY` and `NO_PROXY`).
fn migplan<'a>(t: &Test, args: impl IntoIterator<Item = &'a str>) -> support::test::Run {
    t.migplan(args).env("NO_PROXY", "127.0.0.1,localhost")
}

fn hook_table(url: &str, more: &str) -> String {
    format!("[[notify]]\nurl = \"{url}\"\n{more}\n")
}

#[test]
fn a_successful_run_posts_its_summary() {
    for_each_engine(|engine| {
        let t = items(engine);
        let hook = Hook::ok();
        // The URL from the environment, as the docs recommend.
        plan(&t, "overwrite", &hook_table("${HOOK_URL}", ""));
        let out = migplan(
            &t,
            ["run", "plan.toml", "--operator", "Ann <ann@example.com>"],
        )
        .env("HOOK_URL", &hook.url("/hooks/migplan"))
        .success();
        let r = hook.only();
        assert_eq!(r.target, "/hooks/migplan");
        let body = r.json();
        assert_eq!(body["version"], 1);
        assert_eq!(body["event"], "run.finished");
        let run = &body["run"];
        assert_eq!(run["id"], 1);
        assert_eq!(run["plan"], "nightly");
        assert_eq!(run["kind"], "import");
        assert_eq!(run["status"], "succeeded");
        assert_eq!(run["operator"], "Ann <ann@example.com>");
        // Item 3 inserted, item 2 overwritten, in one table.
        assert_eq!(
            (run["rows"].as_u64(), run["tables"].as_u64()),
            (Some(2), Some(1))
        );
        assert!(run["error"].is_null() && run["undoes"].is_null());
        let backup = run["backup"].as_str().unwrap();
        assert!(std::path::Path::new(backup).exists(), "{backup}");
        assert!(run["duration_ms"].as_u64().is_some());
        assert!(run["started_at"].as_str().unwrap() <= run["finished_at"].as_str().unwrap());
        let database = run["database"].as_str().unwrap();
        assert!(
            !database.is_empty() && !database.contains(":secret@"),
            "{database}"
        );
        assert!(run["report"].is_array(), "{run}");
        assert!(
            out.stderr().contains("notified http://127.0.0.1:"),
            "{}",
            out.stderr()
        );
    });
}

#[test]
fn a_failed_run_posts_failed_and_keeps_its_own_error() {
    let t = items(Engine::Sqlite);
    let hook = Hook::ok();
    plan(&t, "error", &hook_table(&hook.url("/h"), ""));
    let out = migplan(&t, ["run", "plan.toml"]).failure();
    let run = hook.only().json()["run"].clone();
    assert_eq!(run["status"], "failed");
    let error = run["error"].as_str().unwrap();
    assert!(!error.is_empty(), "{run}");
    // The run says its own failure, and the webhook's success changes nothing.
    let stderr = out.stderr();
    assert!(stderr.contains("error"), "{stderr}");
    assert_eq!(t.count("items"), 2, "rolled back");
}

#[test]
fn on_names_the_endings_a_webhook_hears() {
    let t = items(Engine::Sqlite);
    let hook = Hook::ok();
    let on = "on = [\"failed\"]";
    plan(&t, "overwrite", &hook_table(&hook.url("/h"), on));
    migplan(&t, ["run", "plan.toml"]).success();
    assert!(hook.requests().is_empty(), "{:?}", hook.requests());
    plan(&t, "error", &hook_table(&hook.url("/h"), on));
    t.execute("UPDATE items SET v = 'two' WHERE id = 2");
    migplan(&t, ["run", "plan.toml"]).failure();
    assert_eq!(hook.only().json()["run"]["status"], "failed");
}

#[test]
fn a_rollback_posts_rolled_back_naming_the_run_it_undid() {
    let t = items(Engine::Sqlite);
    let hook = Hook::ok();
    let on = "on = [\"rolled_back\"]";
    plan(&t, "overwrite", &hook_table(&hook.url("/h"), on));
    migplan(&t, ["run", "plan.toml"]).success();
    assert!(hook.requests().is_empty());
    migplan(&t, ["rollback", "plan.toml", "1", "--yes"]).success();
    let run = hook.only().json()["run"].clone();
    assert_eq!(run["status"], "rolled_back");
    assert_eq!(run["kind"], "rollback");
    assert_eq!(run["undoes"], 1);
    assert_eq!(run["id"], 2);
    assert_eq!(t.count("items"), 2);
}

/// One webhook per platform in one plan, each its own server.
#[test]
fn each_platform_gets_its_own_body() {
    let t = items(Engine::Sqlite);
    let (slack, ding, feishu, wecom) = (
        Hook::ok(),
        Hook::start(Answer::Reply(200, r#"{"errcode":0,"errmsg":"ok"}"#)),
        Hook::start(Answer::Reply(200, r#"{"code":0,"msg":"success"}"#)),
        Hook::start(Answer::Reply(200, r#"{"errcode":0,"errmsg":"ok"}"#)),
    );
    let hooks = [
        hook_table(&slack.url("/services/T0/B0/x"), "format = \"slack\""),
        hook_table(
            &ding.url("/robot/send?access_token=t0"),
            "format = \"dingtalk\"\nsecret = \"SECding\"",
        ),
        hook_table(
            &feishu.url("/open-apis/bot/v2/hook/u"),
            "format = \"feishu\"\nsecret = \"SECfei\"",
        ),
        hook_table(
            &wecom.url("/cgi-bin/webhook/send?key=k"),
            "format = \"wecom\"",
        ),
    ];
    plan(&t, "overwrite", &hooks.concat());
    let out = migplan(&t, ["run", "plan.toml"]).success();
    assert!(!out.stderr().contains("warning"), "{}", out.stderr());

    let body = slack.only().json();
    assert_eq!(body["text"], "migplan: `nightly` import succeeded (run 1)");
    assert_eq!(body["blocks"][1]["text"]["type"], "mrkdwn");
    let facts = body["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(facts.contains("*rows*: 2 rows in 1 tables"), "{facts}");

    let r = ding.only();
    let body = r.json();
    assert_eq!(body["msgtype"], "markdown");
    let title = body["markdown"]["title"].as_str().unwrap();
    assert!(title.contains("迁移成功"), "{title}");
    assert!(
        body["markdown"]["text"]
            .as_str()
            .unwrap()
            .starts_with("### ")
    );
    let query = r.query();
    let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(param("access_token").as_deref(), Some("t0"));
    let timestamp = param("timestamp").unwrap();
    let expected = hmac(b"SECding", format!("{timestamp}\nSECding").as_bytes());
    assert_eq!(param("sign"), Some(expected));

    let body = feishu.only().json();
    assert_eq!(body["msg_type"], "interactive");
    assert_eq!(body["card"]["header"]["template"], "green");
    let timestamp = body["timestamp"].as_str().unwrap();
    let expected = hmac(format!("{timestamp}\nSECfei").as_bytes(), b"");
    assert_eq!(body["sign"], expected);

    let body = wecom.only().json();
    assert_eq!(body["msgtype"], "markdown");
    let content = body["markdown"]["content"].as_str().unwrap();
    assert!(
        content.contains("迁移成功") && content.contains("> 数据库："),
        "{content}"
    );
}

/// base64(HMAC-SHA256), as DingTalk and Feishu check it.
fn hmac(key: &[u8], message: &[u8]) -> String {
    use base64::Engine as _;
    use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};
    let key = PKey::hmac(key).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(message).unwrap();
    base64::engine::general_purpose::STANDARD.encode(signer.sign_to_vec().unwrap())
}

/// A closed port: connections to it are refused.
fn refusing_url(path: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}{path}")
}

#[test]
fn a_failing_webhook_is_a_warning_with_its_secret_masked() {
    let t = items(Engine::Sqlite);
    let failing = Hook::start(Answer::Reply(500, "boom"));
    let refusing = refusing_url(&format!("/services/T0/B0/{SECRET}"));
    let refused = Hook::start(Answer::Reply(
        200,
        r#"{"errcode":310000,"errmsg":"sign not match"}"#,
    ));
    let hooks = [
        hook_table(
            &failing.url(&format!("/hook/{SECRET}")),
            "format = \"feishu\"",
        ),
        hook_table(&refusing, "format = \"slack\""),
        hook_table(
            &refused.url(&format!("/robot/send?access_token={SECRET}")),
            "format = \"dingtalk\"",
        ),
    ];
    plan(&t, "overwrite", &hooks.concat());
    let out = migplan(&t, ["run", "plan.toml", "--report", "json"]).success();
    let (stdout, stderr) = (out.stdout(), out.stderr());
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{stdout}\n{stderr}"
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 3, "{stderr}");
    let said = |needle: &str| warnings.iter().any(|w| w.contains(needle));
    assert!(said("/hook/*** failed: HTTP 500: boom"), "{stderr}");
    assert!(said("/services/T0/B0/*** failed"), "{stderr}");
    assert!(
        said("?access_token=*** failed: the platform refused the message: 310000 sign not match"),
        "{stderr}"
    );
    // The run is what it was: imported, recorded as succeeded.
    assert_eq!(t.count("items"), 3);
    assert_eq!(failing.requests().len(), 1);
}

#[test]
fn a_hanging_webhook_costs_its_timeout_once() {
    let t = items(Engine::Sqlite);
    let (a, b) = (Hook::start(Answer::Hang), Hook::start(Answer::Hang));
    let hooks = [
        hook_table(&a.url("/a"), "timeout = 2"),
        hook_table(&b.url("/b"), "timeout = 2"),
    ];
    plan(&t, "overwrite", &hooks.concat());
    let started = Instant::now();
    let out = migplan(&t, ["run", "plan.toml"]).success();
    let took = started.elapsed();
    // Both called side by side: one timeout, not two (the run itself
    // takes well under a second and a half on SQLite).
    assert!(took >= Duration::from_secs(2), "took {took:?}");
    assert!(took < Duration::from_millis(3500), "took {took:?}");
    let stderr = out.stderr();
    assert_eq!(
        stderr.matches("no answer within 2 s").count(),
        2,
        "{stderr}"
    );
    assert_eq!((a.requests().len(), b.requests().len()), (1, 1));
}

#[test]
fn runs_that_are_not_of_record_tell_no_one() {
    let t = items(Engine::Sqlite);
    let hook = Hook::ok();
    plan(&t, "overwrite", &hook_table(&hook.url("/h"), ""));
    migplan(&t, ["run", "plan.toml", "--dry-run"]).success();
    migplan(&t, ["validate", "plan.toml"]).success();
    assert!(hook.requests().is_empty(), "{:?}", hook.requests());
}

#[test]
fn plan_errors_name_the_place_and_never_the_secret() {
    let t = items(Engine::Sqlite);
    let hooks = hook_table(
        &format!("ftp://hooks.example.com/services/T0/B0/{SECRET}"),
        "format = \"slak\"\non = [\"failed\", \"rolledback\"]",
    );
    plan(&t, "overwrite", &hooks);
    let out = migplan(&t, ["validate", "plan.toml"]).run();
    assert!(!out.output.status.success());
    // `validate` reports on stdout, `run` on stderr: both are looked at.
    let said = out.stdout() + &out.stderr();
    assert!(!said.contains(SECRET), "{said}");
    for expected in [
        "plan.toml:10:7",
        "`[[notify]] url` has the scheme `ftp`",
        "plan.toml:11:10",
        "did you mean `slack`?",
        "plan.toml:12:17",
        "did you mean `rolled_back`?",
    ] {
        assert!(said.contains(expected), "no {expected:?} in {said}");
    }
    let out = migplan(&t, ["run", "plan.toml"]).code(2);
    assert!(out.stderr().contains("plan.toml:10:7"), "{}", out.stderr());
    assert!(!out.stderr().contains(SECRET), "{}", out.stderr());
}
