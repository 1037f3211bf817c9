-- Version 2: count how often a question page is viewed, and look questions
-- up by popularity within a book.
ALTER TABLE questions ADD COLUMN visit_count integer NOT NULL DEFAULT 0;
CREATE INDEX idx_questions_book_visits ON questions (book_id, visit_count);
