-- tiku (题库) question-bank schema, version 1.
--
-- Written for SQLite but kept close to portable SQL: plain CREATE TABLE with
-- column-level types, named FOREIGN KEY clauses and CHECK/UNIQUE constraints.
-- PostgreSQL / MySQL variants will live in ../migrations-postgres/ etc.
--
-- Declared types and what they hold:
--   INTEGER        whole numbers (ids, counts, milliseconds)
--   TEXT           strings (Chinese text is UTF-8)
--   BOOLEAN        0 / 1
--   DECIMAL(p,s)   exact decimals; the generator binds them as text such as
--                  '1234.50' (note: SQLite's NUMERIC affinity stores them as
--                  REAL/INTEGER, e.g. 1234.5 / 1234)
--   TIMESTAMP      'YYYY-MM-DD HH:MM:SS' text, UTC
--   JSON           JSON document as text
--   BLOB           raw bytes

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    mail          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    nickname      TEXT,
    avatar        BLOB,
    is_active     BOOLEAN NOT NULL DEFAULT 1,
    balance       DECIMAL(12,2) NOT NULL DEFAULT 0,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

-- Three-level hierarchy: subject -> chapter -> knowledge point.
-- Rows are mostly parent-first by id, but a few were re-parented under a
-- category with a higher id.
CREATE TABLE categories (
    id          INTEGER PRIMARY KEY,
    parent_id   INTEGER,
    name        TEXT NOT NULL,
    level       INTEGER NOT NULL CHECK (level BETWEEN 1 AND 3),
    sort_order  INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    CONSTRAINT fk_categories_parent FOREIGN KEY (parent_id) REFERENCES categories (id)
);
CREATE INDEX idx_categories_parent ON categories (parent_id);

CREATE TABLE question_books (
    id           INTEGER PRIMARY KEY,
    category_id  INTEGER NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT,
    price        DECIMAL(12,2) NOT NULL DEFAULT 0,
    is_published BOOLEAN NOT NULL DEFAULT 0,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    CONSTRAINT fk_question_books_category FOREIGN KEY (category_id) REFERENCES categories (id)
);
CREATE INDEX idx_question_books_category ON question_books (category_id);

CREATE TABLE questions (
    id           INTEGER PRIMARY KEY,
    book_id      INTEGER NOT NULL,
    category_id  INTEGER NOT NULL,
    qtype        TEXT NOT NULL CHECK (qtype IN ('single', 'multiple', 'judge')),
    content      TEXT NOT NULL,
    options      JSON NOT NULL,
    answer       TEXT NOT NULL,
    analysis     TEXT,
    difficulty   INTEGER NOT NULL CHECK (difficulty BETWEEN 1 AND 5),
    status       TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'archived')),
    created_by   INTEGER NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    CONSTRAINT fk_questions_book FOREIGN KEY (book_id) REFERENCES question_books (id),
    CONSTRAINT fk_questions_category FOREIGN KEY (category_id) REFERENCES categories (id),
    CONSTRAINT fk_questions_created_by FOREIGN KEY (created_by) REFERENCES users (id)
);
CREATE INDEX idx_questions_book ON questions (book_id);
CREATE INDEX idx_questions_category ON questions (category_id);

CREATE TABLE practices (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL,
    book_id      INTEGER NOT NULL,
    score        INTEGER CHECK (score BETWEEN 0 AND 100),
    started_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    CONSTRAINT fk_practices_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_practices_book FOREIGN KEY (book_id) REFERENCES question_books (id)
);
CREATE INDEX idx_practices_user ON practices (user_id);
CREATE INDEX idx_practices_book ON practices (book_id);

CREATE TABLE practice_details (
    id             INTEGER PRIMARY KEY,
    practice_id    INTEGER NOT NULL,
    question_id    INTEGER NOT NULL,
    chosen_answer  TEXT,
    is_correct     BOOLEAN NOT NULL,
    time_spent_ms  INTEGER NOT NULL CHECK (time_spent_ms >= 0),
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT fk_practice_details_practice FOREIGN KEY (practice_id) REFERENCES practices (id),
    CONSTRAINT fk_practice_details_question FOREIGN KEY (question_id) REFERENCES questions (id)
);
CREATE INDEX idx_practice_details_practice ON practice_details (practice_id);
CREATE INDEX idx_practice_details_question ON practice_details (question_id);

CREATE TABLE mistakes (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL,
    question_id    INTEGER NOT NULL,
    wrong_count    INTEGER NOT NULL DEFAULT 1 CHECK (wrong_count >= 1),
    last_wrong_at  TIMESTAMP NOT NULL,
    note           TEXT,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT fk_mistakes_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_mistakes_question FOREIGN KEY (question_id) REFERENCES questions (id),
    CONSTRAINT uq_mistakes_user_question UNIQUE (user_id, question_id)
);
CREATE INDEX idx_mistakes_question ON mistakes (question_id);

CREATE TABLE weaknesses (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL,
    category_id    INTEGER NOT NULL,
    attempt_count  INTEGER NOT NULL CHECK (attempt_count >= 1),
    correct_count  INTEGER NOT NULL CHECK (correct_count >= 0),
    accuracy       DECIMAL(5,4) NOT NULL CHECK (accuracy BETWEEN 0 AND 1),
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    CONSTRAINT fk_weaknesses_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_weaknesses_category FOREIGN KEY (category_id) REFERENCES categories (id),
    CONSTRAINT uq_weaknesses_user_category UNIQUE (user_id, category_id)
);
CREATE INDEX idx_weaknesses_category ON weaknesses (category_id);
