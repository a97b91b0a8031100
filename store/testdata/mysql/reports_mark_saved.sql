UPDATE delivery_20261127 SET saved = 1, saved_cost = CASE id WHEN ? THEN ? WHEN ? THEN ? ELSE saved_cost END WHERE id IN (?,?) AND saved = 0
