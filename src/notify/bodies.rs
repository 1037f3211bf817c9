//! The body each platform expects: `json` is migplan's own object; Slack
//! gets mrkdwn blocks; DingTalk, Feishu and WeCom get markdown with
//! Chinese labels (their users read Chinese; the values stay as they are).

use serde_json::{Value, json};

use super::{Format, RunEnd, Summary};

pub(super) fn body(format: Format, s: &Summary) -> Value {
    match format {
        Format::Json => s.to_json(),
        Format::Slack => slack(s),
        Format::Dingtalk => dingtalk(s),
        Format::Feishu => feishu(s),
        Format::Wecom => wecom(s),
    }
}

/// The words of a message, in one language.
struct Labels {
    ended: fn(RunEnd) -> &'static str,
    run: &'static str,
    database: &'static str,
    operator: &'static str,
    message: &'static str,
    duration: &'static str,
    rows_label: &'static str,
    rows: fn(u64, u64) -> String,
    backup: &'static str,
    undoes: &'static str,
    error: &'static str,
}

const ENGLISH: Labels = Labels {
    ended: |e| match e {
        RunEnd::Succeeded => "succeeded",
        RunEnd::Failed => "failed",
        RunEnd::RolledBack => "rolled back",
    },
    run: "run",
    database: "database",
    operator: "operator",
    message: "message",
    duration: "duration",
    rows_label: "rows",
    rows: |rows, tables| format!("{rows} rows in {tables} tables"),
    backup: "backup",
    undoes: "undid run",
    error: "error",
};

const CHINESE: Labels = Labels {
    ended: |e| match e {
        RunEnd::Succeeded => "迁移成功",
        RunEnd::Failed => "迁移失败",
        RunEnd::RolledBack => "已回滚",
    },
    run: "运行",
    database: "数据库",
    operator: "操作人",
    message: "说明",
    duration: "耗时",
    rows_label: "数据",
    rows: |rows, tables| format!("{tables} 张表，{rows} 行"),
    backup: "备份",
    undoes: "回滚的运行",
    error: "错误",
};

/// "migplan: `tiku` import succeeded (run 12)", in the labels' language.
fn title(s: &Summary, l: &Labels) -> String {
    let run =
        s.id.map_or_else(String::new, |id| format!(" ({} {id})", l.run));
    format!("migplan: `{}` {} {}{run}", s.plan, s.kind, (l.ended)(s.end))
}

/// The facts worth a line, as (label, value).
fn facts(s: &Summary, l: &Labels) -> Vec<(&'static str, String)> {
    let mut out = vec![
        (l.database, s.database.clone()),
        (l.operator, s.operator.clone()),
        (l.duration, seconds(s.duration_ms)),
    ];
    if let Some(m) = &s.message {
        out.push((l.message, m.clone()));
    }
    if let Some(c) = s.counts().filter(|c| c.tables > 0) {
        out.push((l.rows_label, (l.rows)(c.rows, c.tables)));
    }
    if let Some(id) = s.undoes {
        out.push((l.undoes, id.to_string()));
    }
    if let Some(b) = &s.backup {
        out.push((l.backup, b.clone()));
    }
    if let Some(e) = &s.error {
        out.push((l.error, e.clone()));
    }
    out
}

fn seconds(ms: u64) -> String {
    format!("{}.{} s", ms / 1000, (ms % 1000) / 100)
}

/// Markdown lines `- **label**: value` (DingTalk, Feishu's lark_md).
fn markdown_list(s: &Summary, l: &Labels) -> String {
    facts(s, l)
        .iter()
        .map(|(k, v)| format!("- **{k}**: {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn slack(s: &Summary) -> Value {
    let l = &ENGLISH;
    let lines: Vec<String> = facts(s, l)
        .iter()
        .map(|(k, v)| format!("*{k}*: {}", slack_escape(v)))
        .collect();
    let title = slack_escape(&title(s, l));
    json!({
        "text": title,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("*{title}*")}},
            {"type": "section", "text": {"type": "mrkdwn", "text": lines.join("\n")}},
        ],
    })
}

/// Slack reads `&`, `<` and `>` as markup (links, mentions).
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn dingtalk(s: &Summary) -> Value {
    let l = &CHINESE;
    let title = title(s, l);
    json!({
        "msgtype": "markdown",
        "markdown": {
            "title": title,
            "text": format!("### {title}\n\n{}", markdown_list(s, l)),
        },
    })
}

fn feishu(s: &Summary) -> Value {
    let l = &CHINESE;
    let colour = match s.end {
        RunEnd::Succeeded => "green",
        RunEnd::Failed => "red",
        RunEnd::RolledBack => "orange",
    };
    json!({
        "msg_type": "interactive",
        "card": {
            "header": {
                "title": {"tag": "plain_text", "content": title(s, l)},
                "template": colour,
            },
            "elements": [
                {"tag": "div", "text": {"tag": "lark_md", "content": markdown_list(s, l)}},
            ],
        },
    })
}

fn wecom(s: &Summary) -> Value {
    let l = &CHINESE;
    let colour = match s.end {
        RunEnd::Succeeded => "info",
        RunEnd::Failed => "warning",
        RunEnd::RolledBack => "comment",
    };
    let lines: Vec<String> = facts(s, l)
        .iter()
        .map(|(k, v)| format!("> {k}：{v}"))
        .collect();
    json!({
        "msgtype": "markdown",
        "markdown": {
            "content": format!(
                "**<font color=\"{colour}\">{}</font>**\n{}",
                title(s, l),
                lines.join("\n")
            ),
        },
    })
}
