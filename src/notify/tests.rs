use std::time::Duration;

use serde_json::json;

use super::*;

fn summary(end: RunEnd) -> Summary {
    Summary {
        id: Some(12),
        plan: "tiku".into(),
        kind: "import".into(),
        end,
        database: "postgres://app:***@db/tiku".into(),
        operator: "Ann <ann@example.com>".into(),
        message: None,
        started_at: "2024-05-01T00:00:00.000Z".into(),
        finished_at: "2024-05-01T00:00:03.250Z".into(),
        duration_ms: 3250,
        error: (end == RunEnd::Failed).then(|| "table `users`: duplicate key 7".into()),
        backup: Some("/srv/backups/tiku.json.zst".into()),
        undoes: None,
        report: Some(json!([{
            "file": "b.json",
            "dry_run": false,
            "tables": [
                {"table": "users", "inserted": 5, "identical": 1, "overwritten": 2, "skipped": 0, "failed": 0},
                {"table": "posts", "inserted": 3, "identical": 0, "overwritten": 0, "skipped": 4, "failed": 0},
            ],
        }])),
    }
}

fn hook(format: Format, secret: Option<&str>) -> Webhook {
    Webhook {
        url: "https://hooks.slack.com/services/T0/B0/S3cr3t".into(),
        format,
        on: RunEnd::NAMES.iter().map(|(_, e)| *e).collect(),
        secret: secret.map(String::from),
        timeout: Duration::from_secs(1),
    }
}

#[test]
fn counts_add_the_rows_written_of_every_table() {
    let c = summary(RunEnd::Succeeded).counts().unwrap();
    assert_eq!((c.rows, c.tables), (10, 2));
    let export = Summary {
        report: Some(
            json!({"file": "x.json", "tables": [{"table": "a", "rows": 7, "whole": false}]}),
        ),
        ..summary(RunEnd::Succeeded)
    };
    let c = export.counts().unwrap();
    assert_eq!((c.rows, c.tables), (7, 1));
}

#[test]
fn the_json_body_is_version_1() {
    let body = summary(RunEnd::Failed).to_json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["event"], "run.finished");
    let run = &body["run"];
    assert_eq!(run["id"], 12);
    assert_eq!(run["status"], "failed");
    assert_eq!(run["rows"], 10);
    assert_eq!(run["tables"], 2);
    assert_eq!(run["duration_ms"], 3250);
    assert_eq!(run["error"], "table `users`: duplicate key 7");
    assert!(run["undoes"].is_null());
    let keys: Vec<&str> = run
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "id",
        "plan",
        "kind",
        "status",
        "database",
        "operator",
        "message",
        "started_at",
        "finished_at",
        "duration_ms",
        "rows",
        "tables",
        "error",
        "backup",
        "undoes",
        "report",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
}

#[test]
fn slack_gets_text_and_mrkdwn_blocks_with_markup_escaped() {
    let body = bodies::body(Format::Slack, &summary(RunEnd::Succeeded));
    let text = body["text"].as_str().unwrap();
    assert_eq!(text, "migplan: `tiku` import succeeded (run 12)");
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["text"]["type"], "mrkdwn");
    let facts = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(
        facts.contains("*operator*: Ann &lt;ann@example.com&gt;"),
        "{facts}"
    );
    assert!(facts.contains("*rows*: 10 rows in 2 tables"), "{facts}");
    assert!(facts.contains("*duration*: 3.2 s"), "{facts}");
}

#[test]
fn the_chinese_platforms_get_their_markdown() {
    let s = summary(RunEnd::Failed);
    let ding = bodies::body(Format::Dingtalk, &s);
    assert_eq!(ding["msgtype"], "markdown");
    let title = ding["markdown"]["title"].as_str().unwrap();
    assert_eq!(title, "migplan: `tiku` import 迁移失败 (运行 12)");
    let text = ding["markdown"]["text"].as_str().unwrap();
    assert!(text.starts_with(&format!("### {title}\n")), "{text}");
    assert!(
        text.contains("- **错误**: table `users`: duplicate key 7"),
        "{text}"
    );
    assert!(text.contains("- **数据**: 2 张表，10 行"), "{text}");

    let lark = bodies::body(Format::Feishu, &s);
    assert_eq!(lark["msg_type"], "interactive");
    assert_eq!(lark["card"]["header"]["template"], "red");
    assert_eq!(lark["card"]["elements"][0]["text"]["tag"], "lark_md");

    let wecom = bodies::body(Format::Wecom, &summary(RunEnd::RolledBack));
    assert_eq!(wecom["msgtype"], "markdown");
    let content = wecom["markdown"]["content"].as_str().unwrap();
    assert!(content.contains("已回滚"), "{content}");
    assert!(
        content.contains("> 数据库：postgres://app:***@db/tiku"),
        "{content}"
    );
}

#[test]
fn dingtalk_signs_the_url_and_feishu_the_body() {
    let url = sign::dingtalk_url(
        "https://oapi.dingtalk.com/robot/send?access_token=t",
        "SECx",
        1_700_000_000_000,
    );
    let expected = sign::hmac(b"SECx", b"1700000000000\nSECx");
    let encoded = serde_urlencoded::to_string([("sign", &expected)]).unwrap();
    assert_eq!(
        url,
        format!(
            "https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000000&{encoded}"
        )
    );
    let mut body = json!({"msg_type": "text"});
    sign::feishu_body(&mut body, "SECx", 1_700_000_000);
    assert_eq!(body["timestamp"], "1700000000");
    assert_eq!(body["sign"], sign::hmac(b"1700000000\nSECx", b""));
}

#[test]
fn hmac_matches_a_known_vector() {
    // RFC 4231, test case 2.
    let mac = sign::hmac(b"Jefe", b"what do ya want for nothing?");
    let hex: String = {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(mac)
            .unwrap();
        raw.iter().map(|b| format!("{b:02x}")).collect()
    };
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn a_webhook_never_shows_its_secrets() {
    let h = hook(Format::Dingtalk, Some("SECsigning"));
    let shown = format!("{h:?} {}", serde_json::to_string(&h).unwrap());
    assert!(
        !shown.contains("S3cr3t") && !shown.contains("SECsigning"),
        "{shown}"
    );
    assert!(
        shown.contains("https://hooks.slack.com/services/T0/B0/***"),
        "{shown}"
    );
    let scrubbed = scrub(
        "bad uri: https://hooks.slack.com/services/T0/B0/S3cr3t with SECsigning",
        &h,
    );
    assert!(
        !scrubbed.contains("S3cr3t") && !scrubbed.contains("SECsigning"),
        "{scrubbed}"
    );
}

#[test]
fn a_webhook_hears_only_its_endings() {
    let mut h = hook(Format::Json, None);
    h.on = vec![RunEnd::Failed];
    assert!(h.listens_to(RunEnd::Failed));
    assert!(!h.listens_to(RunEnd::Succeeded));
    assert!(!h.listens_to(RunEnd::RolledBack));
}
