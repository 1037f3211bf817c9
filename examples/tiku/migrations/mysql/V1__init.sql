-- tiku (题库) question-bank schema, version 1, MySQL/MariaDB (InnoDB, utf8mb4).
-- The same tables as ../sqlite/V1__init.sql with MySQL's own types:
-- auto_increment keys, tinyint(1) booleans, decimal, datetime(6), json, blob.
-- MySQL commits each statement on its own: scripts are kept one statement
-- per table so a failure is easy to locate.

CREATE TABLE users (
    id            bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username      varchar(64) NOT NULL UNIQUE,
    mail          varchar(255) NOT NULL UNIQUE,
    password_hash text NOT NULL,
    nickname      varchar(64),
    avatar        blob,
    is_active     tinyint(1) NOT NULL DEFAULT 1,
    balance       numeric(12,2) NOT NULL DEFAULT 0,
    created_at    datetime(6) NOT NULL,
    updated_at    datetime(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE categories (
    id          bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
    parent_id   bigint,
    name        varchar(128) NOT NULL,
    level       smallint NOT NULL CHECK (level BETWEEN 1 AND 3),
    sort_order  integer NOT NULL DEFAULT 0,
    created_at  datetime(6) NOT NULL,
    updated_at  datetime(6) NOT NULL,
    CONSTRAINT fk_categories_parent FOREIGN KEY (parent_id) REFERENCES categories (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX idx_categories_parent ON categories (parent_id);

CREATE TABLE question_books (
    id           bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
    category_id  bigint NOT NULL,
    title        varchar(255) NOT NULL,
    description  text,
    price        numeric(12,2) NOT NULL DEFAULT 0,
    is_published tinyint(1) NOT NULL DEFAULT 0,
    created_at   datetime(6) NOT NULL,
    updated_at   datetime(6) NOT NULL,
    CONSTRAINT fk_question_books_category FOREIGN KEY (category_id) REFERENCES categories (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX idx_question_books_category ON question_books (category_id);

CREATE TABLE questions (
    id           bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
    book_id      bigint NOT NULL,
    category_id  bigint NOT NULL,
    qtype        varchar(16) NOT NULL CHECK (qtype IN ('single', 'multiple', 'judge')),
    content      text NOT NULL,
    options      json NOT NULL,
    answer       text NOT NULL,
    analysis     text,
    difficulty   smallint NOT NULL CHECK (difficulty BETWEEN 1 AND 5),
    status       varchar(16) NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'archived')),
    created_by   bigint NOT NULL,
    created_at   datetime(6) NOT NULL,
    updated_at   datetime(6) NOT NULL,
    CONSTRAINT fk_questions_book FOREIGN KEY (book_id) REFERENCES question_books (id),
    CONSTRAINT fk_questions_category FOREIGN KEY (category_id) REFERENCES categories (id),
    CONSTRAINT fk_questions_created_by FOREIGN KEY (created_by) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX idx_questions_book ON questions (book_id);
CREATE INDEX idx_questions_category ON questions (category_id);

CREATE TABLE practices (
    id           bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id      bigint NOT NULL,
    book_id      bigint NOT NULL,
    score        smallint CHECK (score BETWEEN 0 AND 100),
    started_at   datetime(6) NOT NULL,
    finished_at  datetime(6),
    created_at   datetime(6) NOT NULL,
    updated_at   datetime(6) NOT NULL,
    CONSTRAINT fk_practices_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_practices_book FOREIGN KEY (book_id) REFERENCES question_books (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX idx_practices_user ON practices (user_id);
CREATE INDEX idx_practices_book ON practices (book_id);

CREATE TABLE practice_details (
    id             bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
    practice_id    bigint NOT NULL,
    question_id    bigint NOT NULL,
    chosen_answer  text,
    is_correct     tinyint(1) NOT NULL,
    time_spent_ms  integer NOT NULL CHECK (time_spent_ms >= 0),
    created_at     datetime(6) NOT NULL,
    updated_at     datetime(6) NOT NULL,
    CONSTRAINT fk_practice_details_practice FOREIGN KEY (practice_id) REFERENCES practices (id),
    CONSTRAINT fk_practice_details_question FOREIGN KEY (question_id) REFERENCES questions (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX idx_practice_details_practice ON practice_details (practice_id);
CREATE INDEX idx_practice_details_question ON practice_details (question_id);

CREATE TABLE mistakes (
    id             bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id        bigint NOT NULL,
    question_id    bigint NOT NULL,
    wrong_count    integer NOT NULL DEFAULT 1 CHECK (wrong_count >= 1),
    last_wrong_at  datetime(6) NOT NULL,
    note           text,
    created_at     datetime(6) NOT NULL,
    updated_at     datetime(6) NOT NULL,
    CONSTRAINT fk_mistakes_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_mistakes_question FOREIGN KEY (question_id) REFERENCES questions (id),
    CONSTRAINT uq_mistakes_user_question UNIQUE (user_id, question_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX idx_mistakes_question ON mistakes (question_id);

CREATE TABLE weaknesses (
    id             bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id        bigint NOT NULL,
    category_id    bigint NOT NULL,
    attempt_count  integer NOT NULL CHECK (attempt_count >= 1),
    correct_count  integer NOT NULL CHECK (correct_count >= 0),
    accuracy       numeric(5,4) NOT NULL CHECK (accuracy BETWEEN 0 AND 1),
    created_at     datetime(6) NOT NULL,
    updated_at     datetime(6) NOT NULL,
    CONSTRAINT fk_weaknesses_user FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT fk_weaknesses_category FOREIGN KEY (category_id) REFERENCES categories (id),
    CONSTRAINT uq_weaknesses_user_category UNIQUE (user_id, category_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX idx_weaknesses_category ON weaknesses (category_id);
