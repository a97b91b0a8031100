SELECT COUNT(fallback_at) FROM (SELECT * FROM delivery WHERE day = DATE '2026-11-27') WHERE id > :1 AND id < :2
