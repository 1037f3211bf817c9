-- Version 4: an index on every table's updated_at, so that an incremental
-- export (`migplan export --since T`, `run --follows`) finds the rows
-- changed after T through the index instead of reading every row.
CREATE INDEX idx_users_updated_at ON users (updated_at);
CREATE INDEX idx_categories_updated_at ON categories (updated_at);
CREATE INDEX idx_question_books_updated_at ON question_books (updated_at);
CREATE INDEX idx_questions_updated_at ON questions (updated_at);
CREATE INDEX idx_practices_updated_at ON practices (updated_at);
CREATE INDEX idx_practice_details_updated_at ON practice_details (updated_at);
CREATE INDEX idx_mistakes_updated_at ON mistakes (updated_at);
CREATE INDEX idx_weaknesses_updated_at ON weaknesses (updated_at);
