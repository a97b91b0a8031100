SELECT COUNT(*), COALESCE(SUM("SIZE"), 0) FROM task_shards WHERE task_id = :1
