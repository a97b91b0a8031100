INSERT INTO tasks (app_id, name, kind, lane, status, template_id, template_version, rule_id, rule_version,
		audience_id, user_ids, variables, priority, day, parent_id, created_by, created_at, updated_at)
		VALUES (:1, :2, :3, :4, 'RUNNING', :5, :6, :7, :8, :9, :10, :11, :12, :13, :14, 'scheduler', :15, :16) RETURNING id INTO :17
