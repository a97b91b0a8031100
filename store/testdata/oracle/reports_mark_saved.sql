UPDATE (SELECT * FROM delivery WHERE day = DATE '2026-11-27') SET saved = 1, saved_cost = CASE id WHEN :1 THEN :2 WHEN :3 THEN :4 ELSE saved_cost END WHERE id IN (:5,:6) AND saved = 0
