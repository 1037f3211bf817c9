-- Version 3: users.mail becomes users.email, and questions gain a level
-- label (easy / medium / hard) derived from their 1-5 difficulty.
-- adapters/tiku.toml upgrades older backups the same way (step 2 -> 3).
ALTER TABLE users RENAME COLUMN mail TO email;
ALTER TABLE questions ADD COLUMN level TEXT NOT NULL DEFAULT 'medium'
    CHECK (level IN ('easy', 'medium', 'hard'));
UPDATE questions SET level = CASE
    WHEN difficulty <= 2 THEN 'easy'
    WHEN difficulty = 3 THEN 'medium'
    ELSE 'hard'
END;
