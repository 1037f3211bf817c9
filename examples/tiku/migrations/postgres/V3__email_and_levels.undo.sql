-- Undoes version 3: questions lose their level label (its values are lost;
-- difficulty, which they were derived from, stays), and users.email becomes
-- users.mail again (its values kept, its unique index with it).
ALTER TABLE questions DROP COLUMN level;
ALTER TABLE users RENAME COLUMN email TO mail;
