INSERT INTO tasks (app_id, name, kind, lane, status, template_id, template_version, rule_id, rule_version,
		audience_id, user_ids, variables, priority, cron, start_at, next_run_at, day, created_by, created_at, updated_at)
		VALUES (:1,:2,:3,:4,:5,:6,:7,:8,:9,:10,:11,:12,:13,:14,:15,:16,:17,:18,:19,:20) RETURNING id INTO :21
