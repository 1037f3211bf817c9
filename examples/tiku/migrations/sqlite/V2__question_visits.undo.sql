-- Undoes version 2: the popularity index, then questions.visit_count (its
-- counts are lost).
DROP INDEX idx_questions_book_visits;
ALTER TABLE questions DROP COLUMN visit_count;
