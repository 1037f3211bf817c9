//! tiku (题库): deterministic generator of realistic exam question-bank data.
//!
//! Applies the schema scripts in `--migrations` (default
//! `examples/tiku/migrations/sqlite`) with refinery, then fills every table of a
//! SQLite database file, one transaction per table, parents before children.
//!
//! ```text
//! cargo run --release --example tiku -- --db /tmp/tiku.db --scale 0.01 --seed 42
//! ```
//!
//! Rows are inserted at schema version 2 (or 1 with `--schema-version 1`);
//! later scripts then migrate them in place, as they would a live database.
//!
//! Scale 1 is about 100,000 questions and 1,000,000 practice details. Scale 0
//! only applies the schema. The same `--seed` and `--scale` always produce the
//! same rows (the only thing that differs between two runs is refinery's
//! `refinery_schema_history.applied_on`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::{Connection, params};

#[derive(Parser, Debug)]
#[command(about = "Generate deterministic tiku (question bank) data into a SQLite database")]
struct Args {
    /// SQLite database file to create or fill (must not already hold tiku rows)
    #[arg(long)]
    db: PathBuf,
    /// Size factor: 1 = 100,000 questions and ~1,000,000 practice details; 0 = schema only
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Random seed; same seed and scale give identical data
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Directory with refinery migration scripts (V1__*.sql, V2__*.sql, ...)
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tiku/migrations/sqlite"))]
    migrations: PathBuf,
    /// Stop at this schema version (default: the latest script)
    #[arg(long)]
    schema_version: Option<u32>,
}

/// The schema version the inserts are written for; a database at a later
/// version gets its data at this one, then the later scripts.
const DATA_VERSION: u32 = 2;

/// Tables in foreign-key order (parents first).
const TABLES: [&str; 8] = [
    "users",
    "categories",
    "question_books",
    "questions",
    "practices",
    "practice_details",
    "mistakes",
    "weaknesses",
];

type BoxError = Box<dyn std::error::Error>;

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("tiku: error: {e}");
        std::process::exit(1);
    }
}

fn migrate(
    conn: &mut Connection,
    migrations: &[refinery::Migration],
    version: u32,
    dir: &Path,
) -> Result<(), BoxError> {
    let report = refinery::Runner::new(migrations)
        .set_target(refinery::Target::Version(version as _))
        .run(conn)
        .map_err(|e| {
            format!(
                "applying migrations from {} failed: {e} (if the tables were created without \
             refinery, start from an empty database file)",
                dir.display()
            )
        })?;
    for m in report.applied_migrations() {
        println!("applied migration V{}__{}", m.version(), m.name());
    }
    Ok(())
}

fn run(args: &Args) -> Result<(), BoxError> {
    if !(args.scale >= 0.0 && args.scale.is_finite()) {
        return Err(format!("--scale must be a finite number >= 0, got {}", args.scale).into());
    }
    let start = Instant::now();
    let migrations = refinery::load_sql_migrations(&args.migrations).map_err(|e| {
        format!(
            "cannot load migrations from {}: {e}",
            args.migrations.display()
        )
    })?;
    if migrations.is_empty() {
        return Err(format!(
            "no V*__*.sql migrations found in {}",
            args.migrations.display()
        )
        .into());
    }
    let mut conn = Connection::open(&args.db)?;
    refuse_if_populated(&conn, &args.db)?;
    let latest = migrations.iter().map(|m| m.version()).max().unwrap_or(0) as u32;
    let version = args.schema_version.unwrap_or(latest);
    if version > latest || version == 0 {
        return Err(format!("--schema-version must be between 1 and {latest}").into());
    }
    let data_version = version.min(DATA_VERSION);
    migrate(&mut conn, &migrations, data_version, &args.migrations)?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = OFF;")?;

    let mut counts = Vec::new();
    if args.scale > 0.0 {
        let mut g = Generator::new(args.seed, args.scale);
        g.schema_version = data_version;
        g.insert_all(&mut conn)?;
    }
    if version > data_version {
        migrate(&mut conn, &migrations, version, &args.migrations)?;
    }
    for t in TABLES {
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?;
        counts.push((t, n));
    }
    let fk_problems: i64 =
        conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })?;
    if fk_problems != 0 {
        return Err(
            format!("generated data has {fk_problems} foreign key violations (bug)").into(),
        );
    }
    drop(conn);

    println!("{:<18} {:>10}", "table", "rows");
    let mut total = 0;
    for (t, n) in &counts {
        println!("{t:<18} {n:>10}");
        total += n;
    }
    println!("{:<18} {:>10}", "total", total);
    println!(
        "wrote {} (seed {}, scale {}) in {:.2}s",
        args.db.display(),
        args.seed,
        args.scale,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn refuse_if_populated(conn: &Connection, path: &Path) -> Result<(), BoxError> {
    for t in TABLES {
        let exists: bool = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            [t],
            |r| r.get(0),
        )?;
        if !exists {
            continue;
        }
        let has_rows: bool =
            conn.query_row(&format!("SELECT EXISTS(SELECT 1 FROM {t})"), [], |r| {
                r.get(0)
            })?;
        if has_rows {
            return Err(format!(
                "{} already holds tiku data (table `{t}` has rows); refusing to write into it. \
                 Delete the file or pass a new --db path.",
                path.display()
            )
            .into());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Time: seconds since 2025-01-01 00:00:00 UTC, data spans 18 months.

const DAY: i64 = 86_400;
/// 2025-01-01 .. 2026-07-01 is 546 days.
const SPAN: i64 = 546 * DAY;
/// Days from 1970-01-01 to 2025-01-01.
const EPOCH_2025_DAYS: i64 = 20_089;

/// Formats as `YYYY-MM-DD HH:MM:SS`.
fn ts(secs: i64) -> String {
    let secs = secs.clamp(0, SPAN - 1);
    let days = EPOCH_2025_DAYS + secs.div_euclid(DAY);
    let sod = secs.rem_euclid(DAY);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

// ---------------------------------------------------------------------------
// Word lists.

const SURNAMES: [(&str, &str); 30] = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("赵", "zhao"),
    ("黄", "huang"),
    ("周", "zhou"),
    ("吴", "wu"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("胡", "hu"),
    ("朱", "zhu"),
    ("高", "gao"),
    ("林", "lin"),
    ("何", "he"),
    ("郭", "guo"),
    ("马", "ma"),
    ("罗", "luo"),
    ("梁", "liang"),
    ("宋", "song"),
    ("郑", "zheng"),
    ("谢", "xie"),
    ("韩", "han"),
    ("唐", "tang"),
    ("冯", "feng"),
    ("于", "yu"),
    ("董", "dong"),
    ("欧阳", "ouyang"),
];

const GIVEN: [(&str, &str); 40] = [
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀", "xiu"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("桂", "gui"),
    ("文", "wen"),
    ("华", "hua"),
    ("鹏", "peng"),
    ("宇", "yu"),
    ("浩", "hao"),
    ("欣", "xin"),
    ("婷", "ting"),
    ("晨", "chen"),
    ("子", "zi"),
    ("涵", "han"),
    ("梓", "zi"),
    ("轩", "xuan"),
    ("思", "si"),
    ("雨", "yu"),
    ("嘉", "jia"),
    ("怡", "yi"),
    ("博", "bo"),
    ("睿", "rui"),
];

const MAIL_DOMAINS: [&str; 8] = [
    "qq.com",
    "163.com",
    "126.com",
    "foxmail.com",
    "sina.com",
    "gmail.com",
    "outlook.com",
    "edu.cn",
];

/// Level-1 categories (subjects / exams), their chapters (level 2) and the
/// knowledge points (level 3) the chapters draw from.
struct Subject {
    name: &'static str,
    chapters: &'static [&'static str],
    topics: &'static [&'static str],
}

const SUBJECTS: [Subject; 12] = [
    Subject {
        name: "高中数学",
        chapters: &[
            "集合与函数",
            "三角函数",
            "数列",
            "立体几何",
            "概率与统计",
            "导数及其应用",
        ],
        topics: &[
            "函数的单调性",
            "函数的奇偶性",
            "等差数列的通项公式",
            "等比数列求和",
            "正弦定理",
            "余弦定理",
            "空间向量",
            "古典概型",
            "条件概率",
            "导数的几何意义",
        ],
    },
    Subject {
        name: "高中物理",
        chapters: &[
            "运动学",
            "牛顿运动定律",
            "机械能",
            "电场",
            "电磁感应",
            "热学",
        ],
        topics: &[
            "匀变速直线运动",
            "自由落体运动",
            "牛顿第二定律",
            "动能定理",
            "机械能守恒定律",
            "库仑定律",
            "电容器",
            "法拉第电磁感应定律",
            "楞次定律",
            "理想气体状态方程",
        ],
    },
    Subject {
        name: "高中化学",
        chapters: &[
            "物质的量",
            "化学反应与能量",
            "元素周期律",
            "有机化学基础",
            "电化学",
        ],
        topics: &[
            "摩尔质量",
            "化学平衡移动",
            "原电池原理",
            "电解池",
            "同分异构体",
            "元素周期表",
            "氧化还原反应",
            "盖斯定律",
        ],
    },
    Subject {
        name: "高中生物",
        chapters: &["细胞的结构", "遗传与进化", "稳态与调节", "生态系统"],
        topics: &[
            "光合作用",
            "细胞呼吸",
            "有丝分裂",
            "减数分裂",
            "孟德尔遗传定律",
            "伴性遗传",
            "神经调节",
            "生态系统的能量流动",
        ],
    },
    Subject {
        name: "大学英语四级",
        chapters: &["词汇与语法", "阅读理解", "翻译", "听力策略"],
        topics: &[
            "虚拟语气",
            "定语从句",
            "非谓语动词",
            "长难句分析",
            "主谓一致",
            "倒装句",
            "同义替换",
        ],
    },
    Subject {
        name: "计算机二级",
        chapters: &["数据结构与算法", "程序设计基础", "数据库设计", "操作系统"],
        topics: &[
            "栈和队列",
            "二叉树的遍历",
            "排序算法",
            "SQL查询语句",
            "进程调度",
            "关系模型",
            "软件测试方法",
            "指针与数组",
        ],
    },
    Subject {
        name: "初级会计",
        chapters: &["会计概述", "资产", "负债与所有者权益", "收入费用与利润"],
        topics: &[
            "会计要素",
            "会计等式",
            "固定资产折旧",
            "应收账款",
            "存货计价",
            "应付职工薪酬",
            "收入确认",
            "所得税费用",
        ],
    },
    Subject {
        name: "法律职业资格",
        chapters: &["宪法", "民法总则", "合同法", "刑法总论", "行政法"],
        topics: &[
            "基本权利",
            "民事行为能力",
            "诉讼时效",
            "合同的效力",
            "违约责任",
            "正当防卫",
            "紧急避险",
            "犯罪未遂",
            "行政许可",
            "行政复议",
        ],
    },
    Subject {
        name: "教师资格证",
        chapters: &["教育学基础", "教育心理学", "教育法律法规", "职业道德"],
        topics: &[
            "建构主义学习理论",
            "最近发展区",
            "学习动机",
            "操作性条件反射",
            "班级管理",
            "教师职业道德规范",
            "义务教育法",
        ],
    },
    Subject {
        name: "执业药师",
        chapters: &["药理学", "药物化学", "药事管理", "临床药学"],
        topics: &[
            "药物的不良反应",
            "抗菌药物",
            "药物代谢动力学",
            "处方管理",
            "药物相互作用",
            "特殊药品管理",
        ],
    },
    Subject {
        name: "公务员行测",
        chapters: &["言语理解", "数量关系", "判断推理", "资料分析", "常识判断"],
        topics: &[
            "片段阅读",
            "逻辑填空",
            "工程问题",
            "类比推理",
            "图形推理",
            "定义判断",
            "增长率计算",
            "比重计算",
        ],
    },
    Subject {
        name: "中国近现代史纲要",
        chapters: &[
            "近代中国的探索",
            "新民主主义革命",
            "社会主义建设",
            "改革开放",
        ],
        topics: &[
            "鸦片战争",
            "洋务运动",
            "辛亥革命",
            "五四运动",
            "遵义会议",
            "土地改革",
            "十一届三中全会",
            "社会主义市场经济",
        ],
    },
];

const PREDICATES: [&str; 16] = [
    "在任何条件下都成立",
    "只适用于特定的前提条件",
    "是理解该知识点的基础概念",
    "需要结合具体情境进行分析",
    "与{}没有任何联系",
    "是{}的必要条件",
    "可以由{}直接推导得出",
    "常与{}一起综合考查",
    "其结论与{}恰好相反",
    "在实际应用中通常忽略不计",
    "属于历年考试的高频考点",
    "的核心在于把握本质特征",
    "强调过程而不是结果",
    "的适用范围比{}更广",
    "可以用图像直观地表示",
    "必须满足守恒关系",
];

const STEMS: [&str; 6] = [
    "下列关于{}的说法，正确的是（ ）",
    "下列关于{}的说法，错误的是（ ）",
    "关于{}，以下表述不正确的是（ ）",
    "在学习{}时，应当首先掌握的是（ ）",
    "某同学在复习{}时得出以下结论，其中正确的是（ ）",
    "根据{}的相关原理，下列判断合理的是（ ）",
];

const MULTI_STEMS: [&str; 2] = [
    "下列关于{}的说法中，正确的有（ ）（多选）",
    "以下哪些选项符合{}的要求？（ ）（多选）",
];

const JUDGE_STEMS: [&str; 3] = [
    "判断：{}{}。（ ）",
    "{}{}，这一说法是否正确？（ ）",
    "判断正误：{}{}。",
];

const ANALYSIS_TAILS: [&str; 6] = [
    "解题时要注意审题，抓住关键词。",
    "此类题目在近年考试中多次出现，务必熟练掌握。",
    "易错点在于混淆相近概念，建议结合教材例题复习。",
    "可以采用排除法快速锁定答案。",
    "注意区分定义中的限定条件。",
    "建议画图辅助理解。",
];

const BOOK_KINDS: [&str; 6] = [
    "真题汇编",
    "模拟试卷",
    "章节练习",
    "考前冲刺卷",
    "高频考点精练",
    "易错题集",
];

const MISTAKE_NOTES: [&str; 6] = [
    "粗心看错了选项",
    "概念混淆，需要重新看教材",
    "计算错误",
    "没有注意题目中的“不正确”",
    "知识点遗忘，加入复习计划",
    "考试时间不够，蒙的",
];

const HASH_CHARS: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// ---------------------------------------------------------------------------
// In-memory model (only what later tables need).

struct User {
    created: i64,
    /// Probability of answering an average question correctly.
    skill: f64,
}

struct Category {
    parent: Option<usize>,
    name: String,
    level: u8,
    sort_order: u32,
    created: i64,
    updated: i64,
    /// Parent at insert time; differs from `parent` for re-parented rows.
    original_parent: Option<usize>,
}

struct Book {
    category: usize,
    title: String,
    description: Option<String>,
    price: String,
    published: bool,
    created: i64,
    updated: i64,
}

struct Question {
    book: usize,
    category: usize,
    created: i64,
    difficulty: u8,
    qtype: u8,  // 0 single, 1 multiple, 2 judge
    answer: u8, // bit mask, A = 1
    status: u8, // 0 draft, 1 published, 2 archived
}

struct Practice {
    user: usize,
    book: usize,
    started: i64,
    finished: Option<i64>,
    score: Option<i64>,
    updated: i64,
}

struct Detail {
    practice: u32,
    question: u32,
    chosen: u8, // bit mask, 0 = skipped
    correct: bool,
    time_ms: u32,
    at: i64,
}

fn answer_letters(mask: u8) -> String {
    let mut s = String::new();
    for (i, c) in ['A', 'B', 'C', 'D'].iter().enumerate() {
        if mask & (1 << i) != 0 {
            s.push(*c);
        }
    }
    s
}

fn count(base: f64, scale: f64, min: usize) -> usize {
    ((base * scale).round() as usize).max(min)
}

struct Generator {
    seed: u64,
    scale: f64,
    /// 1 leaves out V2's `questions.visit_count`.
    schema_version: u32,
    users: Vec<User>,
    categories: Vec<Category>,
    /// Level-3 descendants (by final tree) of every category; leaf -> itself.
    leaves_under: Vec<Vec<usize>>,
    books: Vec<Book>,
    questions: Vec<Question>,
    /// Non-draft questions of each book (indexes into `questions`).
    book_questions: Vec<Vec<u32>>,
    practices: Vec<Practice>,
    details: Vec<Detail>,
}

impl Generator {
    fn new(seed: u64, scale: f64) -> Self {
        Generator {
            seed,
            scale,
            schema_version: DATA_VERSION,
            users: Vec::new(),
            categories: Vec::new(),
            leaves_under: Vec::new(),
            books: Vec::new(),
            questions: Vec::new(),
            book_questions: Vec::new(),
            practices: Vec::new(),
            details: Vec::new(),
        }
    }

    /// One independent random stream per table, so changing how one table is
    /// generated does not reshuffle the others.
    fn rng(&self, stream: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn insert_all(&mut self, conn: &mut Connection) -> Result<(), BoxError> {
        let t = Instant::now();
        self.insert_users(conn)?;
        eprintln!("  users            {:>7.2}s", t.elapsed().as_secs_f64());
        self.insert_categories(conn)?;
        eprintln!("  categories       {:>7.2}s", t.elapsed().as_secs_f64());
        self.insert_books(conn)?;
        eprintln!("  question_books   {:>7.2}s", t.elapsed().as_secs_f64());
        self.insert_questions(conn)?;
        eprintln!("  questions        {:>7.2}s", t.elapsed().as_secs_f64());
        self.gen_practices();
        self.insert_practices(conn)?;
        eprintln!("  practices        {:>7.2}s", t.elapsed().as_secs_f64());
        self.insert_details(conn)?;
        eprintln!("  practice_details {:>7.2}s", t.elapsed().as_secs_f64());
        self.insert_mistakes(conn)?;
        eprintln!("  mistakes         {:>7.2}s", t.elapsed().as_secs_f64());
        self.insert_weaknesses(conn)?;
        eprintln!("  weaknesses       {:>7.2}s", t.elapsed().as_secs_f64());
        Ok(())
    }

    // -- users --------------------------------------------------------------

    fn insert_users(&mut self, conn: &mut Connection) -> Result<(), BoxError> {
        let mut rng = self.rng(1);
        let n = count(5_000.0, self.scale, 5);
        let mut created: Vec<i64> = (0..n)
            .map(|_| rng.random_range(0..SPAN - 30 * DAY))
            .collect();
        created.sort_unstable();
        // The first account is the administrator, created at the very start.
        created[0] = 0;

        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO users (id, username, mail, password_hash, nickname, avatar, \
                 is_active, balance, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for (i, &c) in created.iter().enumerate() {
                let id = i as i64 + 1;
                let (sn, sn_py) = SURNAMES[rng.random_range(0..SURNAMES.len())];
                let (g1, g1_py) = GIVEN[rng.random_range(0..GIVEN.len())];
                let two = rng.random_bool(0.6);
                let (g2, g2_py) = GIVEN[rng.random_range(0..GIVEN.len())];
                let (username, nickname) = if i == 0 {
                    ("admin".to_string(), Some("题库管理员".to_string()))
                } else {
                    let py = if two {
                        format!("{sn_py}{g1_py}{g2_py}")
                    } else {
                        format!("{sn_py}{g1_py}")
                    };
                    let nick = if rng.random_bool(0.1) {
                        None
                    } else if two {
                        Some(format!("{sn}{g1}{g2}"))
                    } else {
                        Some(format!("{sn}{g1}"))
                    };
                    (format!("{py}{id}"), nick)
                };
                let domain = MAIL_DOMAINS[rng.random_range(0..MAIL_DOMAINS.len())];
                let mail = if i == 0 {
                    "admin@tiku.example.com".to_string()
                } else if rng.random_bool(0.3) {
                    // QQ-number style address, unique per user.
                    format!(
                        "{}@{domain}",
                        100_000_000 + id * 7_919 + rng.random_range(0..7_919)
                    )
                } else {
                    format!("{username}@{domain}")
                };
                let mut hash = String::with_capacity(60);
                hash.push_str("$2b$12$");
                for _ in 0..53 {
                    hash.push(HASH_CHARS[rng.random_range(0..HASH_CHARS.len())] as char);
                }
                let avatar: Option<Vec<u8>> = if rng.random_bool(0.05) {
                    let len = rng.random_range(24..160);
                    let mut b = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
                    b.extend((0..len).map(|_| rng.random::<u8>()));
                    Some(b)
                } else {
                    None
                };
                let is_active = i == 0 || rng.random_bool(0.92);
                let balance = if i == 1 {
                    // Edge case: the largest value DECIMAL(12,2) can hold.
                    "9999999999.99".to_string()
                } else if rng.random_bool(0.7) {
                    "0.00".to_string()
                } else {
                    let cents: u64 = rng.random_range(1..500_000);
                    format!("{}.{:02}", cents / 100, cents % 100)
                };
                let updated = if rng.random_bool(0.4) {
                    rng.random_range(c..SPAN)
                } else {
                    c
                };
                stmt.execute(params![
                    id,
                    username,
                    mail,
                    hash,
                    nickname,
                    avatar,
                    is_active,
                    balance,
                    ts(c),
                    ts(updated)
                ])?;
                let skill = rng.random_range(0.62..0.99);
                self.users.push(User { created: c, skill });
            }
        }
        tx.commit()?;
        Ok(())
    }

    // -- categories ---------------------------------------------------------

    fn insert_categories(&mut self, conn: &mut Connection) -> Result<(), BoxError> {
        let mut rng = self.rng(2);
        // ~17 categories per subject on average; scale 1 gives ~200.
        let roots = count(200.0 / 17.0, self.scale, 2);
        let mut topic_uses: BTreeMap<&str, u32> = BTreeMap::new();
        let mut t = 0i64;
        // Depth-first: subject, its first chapter, that chapter's points, ...
        for r in 0..roots {
            let subj = &SUBJECTS[r % SUBJECTS.len()];
            let (subject, chapters) = (subj.name, subj.chapters);
            let name = if r < SUBJECTS.len() {
                subject.to_string()
            } else {
                format!("{subject}（第{}版）", r / SUBJECTS.len() + 1)
            };
            t += rng.random_range(60..3 * 3600);
            let root = self.categories.len();
            self.categories.push(Category {
                parent: None,
                original_parent: None,
                name,
                level: 1,
                sort_order: r as u32 + 1,
                created: t,
                updated: t,
            });
            let n_ch = rng.random_range(2..=5).min(chapters.len());
            for (ci, ch) in chapters.iter().take(n_ch).enumerate() {
                t += rng.random_range(60..3600);
                let chapter = self.categories.len();
                self.categories.push(Category {
                    parent: Some(root),
                    original_parent: Some(root),
                    name: format!("第{}章 {ch}", ci + 1),
                    level: 2,
                    sort_order: ci as u32 + 1,
                    created: t,
                    updated: t,
                });
                let n_pt = rng.random_range(2..=5);
                for pi in 0..n_pt {
                    t += rng.random_range(60..1800);
                    let topic = subj.topics[rng.random_range(0..subj.topics.len())];
                    let uses = topic_uses.entry(topic).or_insert(0);
                    *uses += 1;
                    let name = if *uses == 1 {
                        topic.to_string()
                    } else {
                        format!("{topic}（{uses}）")
                    };
                    self.categories.push(Category {
                        parent: Some(chapter),
                        original_parent: Some(chapter),
                        name,
                        level: 3,
                        sort_order: pi as u32 + 1,
                        created: t,
                        updated: t,
                    });
                }
            }
        }
        // Re-parent a handful of knowledge points: the first point of a
        // subject's first chapter moves to the subject's last chapter, which
        // has a higher id than the point (children-first for an importer).
        let root_ids: Vec<usize> = (0..self.categories.len())
            .filter(|&c| self.categories[c].level == 1)
            .collect();
        let moves = roots.min(6);
        for &root in root_ids.iter().take(moves) {
            let chapters: Vec<usize> = (0..self.categories.len())
                .filter(|&c| self.categories[c].parent == Some(root))
                .collect();
            let first_points: Vec<usize> = (0..self.categories.len())
                .filter(|&c| self.categories[c].parent == Some(chapters[0]))
                .collect();
            if chapters.len() < 2 || first_points.len() < 2 {
                continue; // keep at least one point under the old chapter
            }
            let leaf = first_points[0];
            let target = *chapters.last().unwrap();
            debug_assert!(target > leaf);
            let cat = &mut self.categories[leaf];
            cat.parent = Some(target);
            cat.updated = rng.random_range(60 * DAY..SPAN);
        }

        // Leaves under every category (final tree).
        let n = self.categories.len();
        self.leaves_under = vec![Vec::new(); n];
        for c in 0..n {
            if self.categories[c].level != 3 {
                continue;
            }
            let mut cur = Some(c);
            while let Some(x) = cur {
                self.leaves_under[x].push(c);
                cur = self.categories[x].parent;
            }
        }

        let tx = conn.transaction()?;
        {
            let mut ins = tx.prepare(
                "INSERT INTO categories (id, parent_id, name, level, sort_order, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (i, c) in self.categories.iter().enumerate() {
                ins.execute(params![
                    i as i64 + 1,
                    c.original_parent.map(|p| p as i64 + 1),
                    c.name,
                    c.level,
                    c.sort_order,
                    ts(c.created),
                    ts(c.updated)
                ])?;
            }
            // The moves happened later in the system's life: an UPDATE, as the
            // application would do it.
            let mut upd = tx.prepare("UPDATE categories SET parent_id = ?1 WHERE id = ?2")?;
            for (i, c) in self.categories.iter().enumerate() {
                if c.parent != c.original_parent {
                    upd.execute(params![c.parent.map(|p| p as i64 + 1), i as i64 + 1])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    // -- question_books -----------------------------------------------------

    fn insert_books(&mut self, conn: &mut Connection) -> Result<(), BoxError> {
        let mut rng = self.rng(3);
        let n = count(1_000.0, self.scale, 3);
        // Books belong to a subject (level 1) or a chapter (level 2) that has
        // knowledge points under it.
        let owners: Vec<usize> = (0..self.categories.len())
            .filter(|&c| self.categories[c].level < 3 && !self.leaves_under[c].is_empty())
            .collect();
        let mut created: Vec<i64> = (0..n)
            .map(|_| rng.random_range(7 * DAY..SPAN - 60 * DAY))
            .collect();
        created.sort_unstable();
        for (i, &c) in created.iter().enumerate() {
            let category = owners[rng.random_range(0..owners.len())];
            let cat = &self.categories[category];
            let year = if c < 365 * DAY { 2025 } else { 2026 };
            let kind = BOOK_KINDS[rng.random_range(0..BOOK_KINDS.len())];
            let subject = match cat.parent {
                None => cat.name.clone(),
                Some(p) => format!("{}·{}", self.categories[p].name, cat.name),
            };
            let title = format!("{year}年{subject}{kind}（第{}套）", i % 9 + 1);
            let description = if rng.random_bool(0.3) {
                None
            } else {
                Some(format!(
                    "本书收录{subject}相关习题，按考点编排，附详细解析。适合{}复习使用。",
                    ["零基础", "基础巩固", "考前冲刺", "查漏补缺"][rng.random_range(0..4)]
                ))
            };
            let price = if rng.random_bool(0.4) {
                "0.00".to_string()
            } else {
                [
                    "9.90", "19.90", "29.00", "39.90", "49.50", "99.00", "128.00",
                ][rng.random_range(0..7)]
                .to_string()
            };
            let published = rng.random_bool(0.9);
            let updated = if rng.random_bool(0.5) {
                rng.random_range(c..SPAN)
            } else {
                c
            };
            self.books.push(Book {
                category,
                title,
                description,
                price,
                published,
                created: c,
                updated,
            });
        }
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO question_books (id, category_id, title, description, price, is_published, \
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for (i, b) in self.books.iter().enumerate() {
                stmt.execute(params![
                    i as i64 + 1,
                    b.category as i64 + 1,
                    b.title,
                    b.description,
                    b.price,
                    b.published,
                    ts(b.created),
                    ts(b.updated)
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    // -- questions ----------------------------------------------------------

    fn insert_questions(&mut self, conn: &mut Connection) -> Result<(), BoxError> {
        let mut rng = self.rng(4);
        let n = count(100_000.0, self.scale, 30);
        let nb = self.books.len();
        for i in 0..n {
            // Every book gets questions; the rest are spread at random.
            let book = if i < nb { i } else { rng.random_range(0..nb) };
            let b = &self.books[book];
            let leaves = &self.leaves_under[b.category];
            let category = leaves[rng.random_range(0..leaves.len())];
            let created = (b.created + rng.random_range(0..30 * DAY)).min(SPAN - 1);
            let qtype = match rng.random_range(0..10) {
                0..=6 => 0,
                7 | 8 => 1,
                _ => 2,
            };
            let answer = match qtype {
                0 => 1u8 << rng.random_range(0..4),
                1 => loop {
                    let m = rng.random_range(3u8..16);
                    if m.count_ones() >= 2 {
                        break m;
                    }
                },
                _ => 1u8 << rng.random_range(0..2),
            };
            let status = match rng.random_range(0..20) {
                0 | 1 => 0,
                2 => 2,
                _ => 1,
            };
            self.questions.push(Question {
                book,
                category,
                created,
                difficulty: rng.random_range(1..=5),
                qtype,
                answer,
                status,
            });
        }
        // Ids follow creation time, like an auto-increment column would.
        self.questions.sort_by_key(|q| q.created);
        self.book_questions = vec![Vec::new(); nb];
        for (i, q) in self.questions.iter().enumerate() {
            if q.status != 0 {
                self.book_questions[q.book].push(i as u32);
            }
        }

        let n_users = self.users.len();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare(if self.schema_version >= 2 {
                "INSERT INTO questions (id, book_id, category_id, qtype, content, options, answer, \
                 analysis, difficulty, status, created_by, created_at, updated_at, visit_count) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
            } else {
                "INSERT INTO questions (id, book_id, category_id, qtype, content, options, answer, \
                 analysis, difficulty, status, created_by, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            })?;
            let mut content = String::new();
            let mut options = String::new();
            let mut analysis = String::new();
            for (i, q) in self.questions.iter().enumerate() {
                let topic = base_topic(&self.categories[q.category].name);
                // A related knowledge point of the same subject.
                let mut root = q.category;
                while let Some(p) = self.categories[root].parent {
                    root = p;
                }
                let related = SUBJECTS
                    [(self.categories[root].sort_order as usize - 1) % SUBJECTS.len()]
                .topics;
                let other = loop {
                    let o = related[rng.random_range(0..related.len())];
                    if o != topic {
                        break o;
                    }
                };
                content.clear();
                options.clear();
                analysis.clear();
                let n_opts = if q.qtype == 2 { 2 } else { 4 };
                if q.qtype == 2 {
                    let stem = JUDGE_STEMS[rng.random_range(0..JUDGE_STEMS.len())];
                    let pred =
                        PREDICATES[rng.random_range(0..PREDICATES.len())].replace("{}", other);
                    content.push_str(&stem.replacen("{}", topic, 1).replacen("{}", &pred, 1));
                    options.push_str(r#"{"A":"正确","B":"错误"}"#);
                } else {
                    let stems: &[&str] = if q.qtype == 1 { &MULTI_STEMS } else { &STEMS };
                    let stem = stems[rng.random_range(0..stems.len())];
                    content.push_str(&stem.replace("{}", topic));
                    if rng.random_bool(0.05) {
                        // Some questions carry a second line with a formula or code.
                        content.push_str("\n已知 f(x) = x² − 2x + 1，且 x ∈ [0, 2]。");
                    }
                    options.push('{');
                    let mut used = [usize::MAX; 4];
                    for k in 0..4 {
                        let p = loop {
                            let p = rng.random_range(0..PREDICATES.len());
                            if !used.contains(&p) {
                                break p;
                            }
                        };
                        used[k] = p;
                        let text = format!("{topic}{}", PREDICATES[p].replace("{}", other));
                        if k > 0 {
                            options.push(',');
                        }
                        // Occasionally a quote inside the option text, escaped for JSON.
                        let text = if rng.random_bool(0.02) {
                            format!("{text}（即所谓的\\\"{other}\\\"）")
                        } else {
                            text
                        };
                        write!(options, "\"{}\":\"{text}\"", (b'A' + k as u8) as char)?;
                    }
                    options.push('}');
                }
                let answer = answer_letters(q.answer);
                let analysis_opt = if rng.random_bool(0.15) {
                    None
                } else {
                    write!(analysis, "本题考查{topic}的相关知识。正确答案为{answer}。")?;
                    if n_opts == 4 {
                        let wrong: String = answer_letters(!q.answer & 0x0F)
                            .chars()
                            .map(|c| format!("{c}项"))
                            .collect::<Vec<_>>()
                            .join("、");
                        write!(analysis, "{wrong}的表述与{other}的结论混淆，故排除。")?;
                    }
                    analysis.push_str(ANALYSIS_TAILS[rng.random_range(0..ANALYSIS_TAILS.len())]);
                    Some(analysis.as_str())
                };
                let qtype = ["single", "multiple", "judge"][q.qtype as usize];
                let status = ["draft", "published", "archived"][q.status as usize];
                // Authors are mostly the first few (staff) accounts.
                let author = if rng.random_bool(0.8) {
                    rng.random_range(0..n_users.min(20))
                } else {
                    rng.random_range(0..n_users)
                };
                let updated = if rng.random_bool(0.3) {
                    rng.random_range(q.created..SPAN)
                } else {
                    q.created
                };
                let visits: i64 = if q.status == 0 {
                    0
                } else {
                    (rng.random_range(0.0..8.0f64).exp() as i64) - 1
                };
                let (id, book, category, author) = (
                    i as i64 + 1,
                    q.book as i64 + 1,
                    q.category as i64 + 1,
                    author as i64 + 1,
                );
                let (created, updated) = (ts(q.created), ts(updated));
                let mut values = params![
                    id,
                    book,
                    category,
                    qtype,
                    content,
                    options,
                    answer,
                    analysis_opt,
                    q.difficulty,
                    status,
                    author,
                    created,
                    updated,
                    visits
                ]
                .to_vec();
                if self.schema_version < 2 {
                    values.pop();
                }
                stmt.execute(&values[..])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    // -- practices and details ----------------------------------------------

    fn gen_practices(&mut self) {
        let mut rng = self.rng(5);
        let n = count(50_000.0, self.scale, 10);
        let usable: Vec<usize> = (0..self.books.len())
            .filter(|&b| !self.book_questions[b].is_empty())
            .collect();
        let nu = self.users.len();
        let mut practices = Vec::with_capacity(n);
        let mut plans: Vec<(Vec<u32>, bool)> = Vec::with_capacity(n);
        for _ in 0..n {
            // Skewed: a minority of users and books get most of the activity.
            let user = ((nu as f64) * rng.random::<f64>().powf(1.6)) as usize;
            let book = usable[((usable.len() as f64) * rng.random::<f64>().powi(2)) as usize];
            let lo = self.users[user]
                .created
                .max(self.books[book].created + 30 * DAY)
                .min(SPAN - 2 * DAY);
            let started = rng.random_range(lo..SPAN - DAY);
            let qs = &self.book_questions[book];
            let want = rng.random_range(10..=30).min(qs.len());
            // Distinct questions of the book (partial Fisher-Yates on a copy).
            let mut pool = qs.clone();
            for k in 0..want {
                let j = rng.random_range(k..pool.len());
                pool.swap(k, j);
            }
            pool.truncate(want);
            let finished = !rng.random_bool(0.05);
            practices.push(Practice {
                user,
                book,
                started,
                finished: None,
                score: None,
                updated: started,
            });
            plans.push((pool, finished));
        }
        // Ids follow start time.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| (practices[i].started, i));
        let mut sorted = Vec::with_capacity(n);
        let mut slots: Vec<Option<Practice>> = practices.into_iter().map(Some).collect();
        let mut sorted_plans = Vec::with_capacity(n);
        let mut plan_slots: Vec<Option<(Vec<u32>, bool)>> = plans.into_iter().map(Some).collect();
        for i in order {
            sorted.push(slots[i].take().unwrap());
            sorted_plans.push(plan_slots[i].take().unwrap());
        }

        let mut rng = self.rng(6);
        let mut details = Vec::with_capacity(n * 20);
        for (pi, (p, (qs, finished))) in sorted.iter_mut().zip(sorted_plans).enumerate() {
            let skill = self.users[p.user].skill;
            // Unfinished practices stop part-way.
            let answered = if finished {
                qs.len()
            } else {
                rng.random_range(1..=qs.len())
            };
            let mut t_ms: i64 = 0;
            let mut correct_n = 0;
            for &qi in qs.iter().take(answered) {
                let q = &self.questions[qi as usize];
                let time_ms: u32 = rng.random_range(3_000..120_000) + q.difficulty as u32 * 5_000;
                t_ms += time_ms as i64;
                let p_ok = (skill - 0.07 * (q.difficulty as f64 - 3.0)).clamp(0.15, 0.99);
                let skipped = rng.random_bool(0.02);
                let (chosen, correct) = if skipped {
                    (0, false)
                } else if rng.random_bool(p_ok) {
                    (q.answer, true)
                } else {
                    let n_opts = if q.qtype == 2 { 2 } else { 4 };
                    let wrong = loop {
                        let m = if q.qtype == 1 {
                            rng.random_range(1u8..16)
                        } else {
                            1u8 << rng.random_range(0..n_opts)
                        };
                        if m != q.answer {
                            break m;
                        }
                    };
                    (wrong, false)
                };
                correct_n += correct as i64;
                details.push(Detail {
                    practice: pi as u32,
                    question: qi,
                    chosen,
                    correct,
                    time_ms,
                    at: (p.started + t_ms / 1000).min(SPAN - 1),
                });
            }
            let end = (p.started + t_ms / 1000 + rng.random_range(0..120)).min(SPAN - 1);
            if finished {
                p.finished = Some(end);
                p.score = Some((100 * correct_n + qs.len() as i64 / 2) / qs.len() as i64);
            }
            p.updated = end;
        }
        self.practices = sorted;
        self.details = details;
    }

    fn insert_practices(&mut self, conn: &mut Connection) -> Result<(), BoxError> {
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO practices (id, user_id, book_id, score, started_at, finished_at, \
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for (i, p) in self.practices.iter().enumerate() {
                let started = ts(p.started);
                stmt.execute(params![
                    i as i64 + 1,
                    p.user as i64 + 1,
                    p.book as i64 + 1,
                    p.score,
                    started,
                    p.finished.map(ts),
                    started,
                    ts(p.updated)
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn insert_details(&mut self, conn: &mut Connection) -> Result<(), BoxError> {
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO practice_details (id, practice_id, question_id, chosen_answer, is_correct, \
                 time_spent_ms, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )?;
            const LETTERS: [&str; 16] = [
                "", "A", "B", "AB", "C", "AC", "BC", "ABC", "D", "AD", "BD", "ABD", "CD", "ACD",
                "BCD", "ABCD",
            ];
            for (i, d) in self.details.iter().enumerate() {
                let chosen = if d.chosen == 0 {
                    None
                } else {
                    Some(LETTERS[d.chosen as usize])
                };
                stmt.execute(params![
                    i as i64 + 1,
                    d.practice as i64 + 1,
                    d.question as i64 + 1,
                    chosen,
                    d.correct,
                    d.time_ms,
                    ts(d.at)
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    // -- mistakes (derived from wrong answers) -------------------------------

    fn insert_mistakes(&mut self, conn: &mut Connection) -> Result<(), BoxError> {
        let mut rng = self.rng(7);
        // (user, question) -> (wrong count, first wrong, last wrong)
        let mut agg: BTreeMap<(u32, u32), (u32, i64, i64)> = BTreeMap::new();
        for d in &self.details {
            if d.correct {
                continue;
            }
            let user = self.practices[d.practice as usize].user as u32;
            let e = agg.entry((user, d.question)).or_insert((0, d.at, d.at));
            e.0 += 1;
            e.1 = e.1.min(d.at);
            e.2 = e.2.max(d.at);
        }
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO mistakes (id, user_id, question_id, wrong_count, last_wrong_at, note, \
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for (i, ((user, question), (n, first, last))) in agg.iter().enumerate() {
                let note = if rng.random_bool(0.1) {
                    Some(MISTAKE_NOTES[rng.random_range(0..MISTAKE_NOTES.len())])
                } else {
                    None
                };
                let last_s = ts(*last);
                stmt.execute(params![
                    i as i64 + 1,
                    *user as i64 + 1,
                    *question as i64 + 1,
                    n,
                    last_s,
                    note,
                    ts(*first),
                    last_s
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    // -- weaknesses (derived: each user's worst knowledge points) ------------

    fn insert_weaknesses(&mut self, conn: &mut Connection) -> Result<(), BoxError> {
        // (user, leaf category) -> (attempts, correct, first, last)
        let mut agg: BTreeMap<(u32, u32), (u32, u32, i64, i64)> = BTreeMap::new();
        for d in &self.details {
            let user = self.practices[d.practice as usize].user as u32;
            let cat = self.questions[d.question as usize].category as u32;
            let e = agg.entry((user, cat)).or_insert((0, 0, d.at, d.at));
            e.0 += 1;
            e.1 += d.correct as u32;
            e.2 = e.2.min(d.at);
            e.3 = e.3.max(d.at);
        }
        // Per user, up to 4 points with at least 3 attempts and accuracy < 90%,
        // worst first.
        let mut rows: Vec<Row> = Vec::new();
        let mut cur: Vec<Row> = Vec::new();
        type Row = (u32, u32, u32, u32, i64, i64);
        fn flush(cur: &mut Vec<Row>, rows: &mut Vec<Row>) {
            // accuracy = correct / attempts; compare a/b < c/d as a*d < c*b
            cur.sort_by(|x, y| {
                ((x.3 as u64) * (y.2 as u64))
                    .cmp(&((y.3 as u64) * (x.2 as u64)))
                    .then(x.1.cmp(&y.1))
            });
            rows.extend(cur.drain(..).take(4));
        }
        let mut last_user = u32::MAX;
        for (&(user, cat), &(attempts, correct, first, last)) in &agg {
            if user != last_user {
                flush(&mut cur, &mut rows);
                last_user = user;
            }
            if attempts >= 3 && (correct as f64) < 0.9 * attempts as f64 {
                cur.push((user, cat, attempts, correct, first, last));
            }
        }
        flush(&mut cur, &mut rows);

        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO weaknesses (id, user_id, category_id, attempt_count, correct_count, \
                 accuracy, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for (i, &(user, cat, attempts, correct, first, last)) in rows.iter().enumerate() {
                // Exact 4-digit rounding in integers: round(10000 * c / a).
                let bp = (20_000 * correct as u64 + attempts as u64) / (2 * attempts as u64);
                let accuracy = format!("{}.{:04}", bp / 10_000, bp % 10_000);
                stmt.execute(params![
                    i as i64 + 1,
                    user as i64 + 1,
                    cat as i64 + 1,
                    attempts,
                    correct,
                    accuracy,
                    ts(first),
                    ts(last)
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// Category name without the "（2）" suffix added for repeated topics.
fn base_topic(name: &str) -> &str {
    name.split('（').next().unwrap_or(name)
}
