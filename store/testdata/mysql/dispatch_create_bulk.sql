INSERT INTO tasks (app_id, name, kind, lane, status, template_id, template_version, rule_id, rule_version,
		audience_id, user_ids, variables, priority, cron, start_at, next_run_at, day, created_by, created_at, updated_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
