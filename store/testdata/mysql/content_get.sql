SELECT t.app_id, t.name, v.version, v.class, v.variables, v.variants, v.created_at
		FROM templates t JOIN template_versions v ON v.template_id = t.id
		WHERE t.id = ? AND v.version = IF(? = 0, t.version, ?)
