INSERT IGNORE INTO task_shards (task_id, shard_no, first_user, last_user, `size`, updated_at) VALUES (?,?,?,?,?,?),(?,?,?,?,?,?)
