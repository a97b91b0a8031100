-- +goose Up
ALTER TABLE apps ADD (settings CLOB NULL CHECK (settings IS JSON));
ALTER TABLE template_versions ADD (class VARCHAR2(16 CHAR) DEFAULT 'TRANSACTIONAL' NOT NULL);

-- A user's opt-outs: channel '*' means every channel, class '*' every class (MySQL writes '':
-- Oracle stores '' as NULL, which a primary key refuses).
CREATE TABLE user_optouts (
  app_id NUMBER(19) NOT NULL,
  user_id VARCHAR2(128 CHAR) NOT NULL,
  channel VARCHAR2(16 CHAR) NOT NULL,
  class VARCHAR2(16 CHAR) NOT NULL,
  created_at TIMESTAMP(3) NOT NULL,
  PRIMARY KEY (app_id, user_id, channel, class)
);

-- +goose Down
DROP TABLE user_optouts;
ALTER TABLE template_versions DROP (class);
ALTER TABLE apps DROP (settings);
