SELECT id, address FROM (SELECT * FROM delivery WHERE day = DATE '2026-11-27') WHERE id BETWEEN :1 AND :2 AND address IN (:3,:4)
