SELECT r.app_id, r.name, v.version, v.routes, v.variables FROM rules r
		JOIN rule_versions v ON v.rule_id = r.id WHERE r.id = ? AND v.version = IF(? = 0, r.version, ?)
