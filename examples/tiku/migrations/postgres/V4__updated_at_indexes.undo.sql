-- Undoes version 4: the updated_at indexes (no data is lost).
DROP INDEX idx_weaknesses_updated_at;
DROP INDEX idx_mistakes_updated_at;
DROP INDEX idx_practice_details_updated_at;
DROP INDEX idx_practices_updated_at;
DROP INDEX idx_questions_updated_at;
DROP INDEX idx_question_books_updated_at;
DROP INDEX idx_categories_updated_at;
DROP INDEX idx_users_updated_at;
