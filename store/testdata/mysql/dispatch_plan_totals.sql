SELECT COUNT(*), COALESCE(SUM(`size`), 0) FROM task_shards WHERE task_id = ?
