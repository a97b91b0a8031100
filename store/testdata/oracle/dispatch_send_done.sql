UPDATE tasks SET status = CASE WHEN status = 'RUNNING' THEN 'COMPLETED' ELSE status END, shards_done = LEAST(shards_done + 1, shards_total), updated_at = :1 WHERE id = :2
