-- 0001: the first schema of the content store. See migrate.go for the placeholders.
-- Times are BIGINT Unix milliseconds, 0 meaning never.

-- The viewer page: one row, id 1. Links and sections are JSON arrays.
CREATE TABLE page (
  id INT NOT NULL PRIMARY KEY,
  title VARCHAR(120) NOT NULL,
  description TEXT NOT NULL,
  announcement VARCHAR(280) NOT NULL,
  links MEDIUMTEXT NOT NULL,
  sections MEDIUMTEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  updated_by VARCHAR(64) NOT NULL
){{TABLE_OPTIONS}};

-- How each zone is shown to viewers. effects is a JSON array, or NULL for "every announced effect".
CREATE TABLE zone_settings (
  zone VARCHAR(40) NOT NULL PRIMARY KEY,
  name VARCHAR(64) NOT NULL,
  sort_order INT NOT NULL,
  hidden SMALLINT NOT NULL,
  disabled SMALLINT NOT NULL,
  effects MEDIUMTEXT NULL,
  updated_at BIGINT NOT NULL
){{TABLE_OPTIONS}};

-- Named light states. name_key is the name case-folded: names are unique ignoring case.
CREATE TABLE presets (
  id {{AUTO_ID}},
  name VARCHAR(60) NOT NULL,
  name_key VARCHAR(255) NOT NULL, -- 60 runes fold into at most 180
  commands MEDIUMTEXT NOT NULL,
  created_at BIGINT NOT NULL,
  created_by VARCHAR(64) NOT NULL,
  updated_at BIGINT NOT NULL
){{TABLE_OPTIONS}};
CREATE UNIQUE INDEX presets_name_key ON presets (name_key);

-- Dashboard accounts. name is lower case.
CREATE TABLE accounts (
  id {{AUTO_ID}},
  name VARCHAR(32) NOT NULL,
  role VARCHAR(16) NOT NULL,
  password_hash VARCHAR(255) NOT NULL,
  created_at BIGINT NOT NULL
){{TABLE_OPTIONS}};
CREATE UNIQUE INDEX accounts_name ON accounts (name);

-- Dashboard sessions, by the SHA-256 of the cookie's random id.
CREATE TABLE sessions (
  hash VARBINARY(32) NOT NULL PRIMARY KEY,
  account_id BIGINT NOT NULL,
  csrf VARCHAR(128) NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  CONSTRAINT sessions_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE
){{TABLE_OPTIONS}};
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Bridge and API tokens, by the SHA-256 of the token.
CREATE TABLE tokens (
  id {{AUTO_ID}},
  kind VARCHAR(16) NOT NULL,
  name VARCHAR(60) NOT NULL,
  hint VARCHAR(8) NOT NULL,
  hash VARBINARY(32) NOT NULL,
  created_at BIGINT NOT NULL,
  created_by VARCHAR(64) NOT NULL,
  last_used_at BIGINT NOT NULL,
  revoked_at BIGINT NOT NULL
){{TABLE_OPTIONS}};
CREATE UNIQUE INDEX tokens_hash ON tokens (hash);

-- Who changed what.
CREATE TABLE audit_log (
  id {{AUTO_ID}},
  created_at BIGINT NOT NULL,
  actor VARCHAR(64) NOT NULL,
  action VARCHAR(64) NOT NULL,
  target VARCHAR(200) NOT NULL,
  detail TEXT NOT NULL
){{TABLE_OPTIONS}};
CREATE INDEX audit_log_created ON audit_log (created_at);

-- Every print job the hub accepted and what became of it.
CREATE TABLE prints (
  id VARCHAR(128) NOT NULL PRIMARY KEY,
  source VARCHAR(16) NOT NULL,
  author VARCHAR(64) NOT NULL,
  body TEXT NOT NULL,
  amount BIGINT NOT NULL,
  currency VARCHAR(8) NOT NULL,
  created_at BIGINT NOT NULL,
  state VARCHAR(16) NOT NULL,
  reason VARCHAR(500) NOT NULL,
  updated_at BIGINT NOT NULL
){{TABLE_OPTIONS}};
CREATE INDEX prints_created ON prints (created_at);
CREATE INDEX prints_state ON prints (state, created_at);

-- Viewers the moderators blocked: kind "name" (lower case) or "ip" (canonical).
CREATE TABLE blocks (
  kind VARCHAR(8) NOT NULL,
  value VARCHAR(64) NOT NULL,
  reason VARCHAR(200) NOT NULL,
  blocked_by VARCHAR(64) NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (kind, value)
){{TABLE_OPTIONS}};
CREATE INDEX blocks_created ON blocks (created_at);
