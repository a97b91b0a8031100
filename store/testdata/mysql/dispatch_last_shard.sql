SELECT shard_no, last_user FROM task_shards WHERE task_id = ? ORDER BY shard_no DESC LIMIT 1
