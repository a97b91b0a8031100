-- +goose Up
ALTER TABLE rule_versions ADD (variables CLOB NULL CHECK (variables IS JSON));

-- +goose Down
ALTER TABLE rule_versions DROP (variables);
