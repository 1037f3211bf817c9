-- Undoes version 1: every tiku table, children before their parents, with
-- their rows, indexes and keys.
DROP TABLE weaknesses;
DROP TABLE mistakes;
DROP TABLE practice_details;
DROP TABLE practices;
DROP TABLE questions;
DROP TABLE question_books;
DROP TABLE categories;
DROP TABLE users;
