SELECT id, at, actor, action, app_id, target, remote_addr FROM audit_log WHERE 1=1 AND app_id = ? AND id < ? ORDER BY id DESC LIMIT ?
