SELECT id, status FROM (SELECT * FROM delivery WHERE day = DATE '2026-11-27') WHERE id IN (:1,:2)
