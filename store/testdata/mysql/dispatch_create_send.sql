INSERT INTO tasks (app_id, name, kind, lane, status, template_id, template_version, rule_id, rule_version,
		variables, priority, day, total, shards_total, shards_done, created_by, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
