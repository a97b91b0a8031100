SELECT id, at, actor, action, app_id, target, remote_addr FROM audit_log WHERE 1=1 AND app_id = :1 AND id < :2 ORDER BY id DESC FETCH FIRST :3 ROWS ONLY
