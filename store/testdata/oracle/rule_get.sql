SELECT r.app_id, r.name, v.version, v.routes, v.variables FROM rules r
		JOIN rule_versions v ON v.rule_id = r.id WHERE r.id = :1 AND v.version = CASE WHEN :2 = 0 THEN r.version ELSE :3 END
