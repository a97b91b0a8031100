SELECT "SIZE", "WE""IRD" FROM task_shards
