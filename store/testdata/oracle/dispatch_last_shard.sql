SELECT shard_no, last_user FROM task_shards WHERE task_id = :1 ORDER BY shard_no DESC FETCH FIRST 1 ROWS ONLY
