MERGE INTO delivery t USING (SELECT :1 AS id, :2 AS status FROM dual) s ON (t.day = DATE '2026-11-27' AND t.id = s.id) WHEN MATCHED THEN UPDATE SET t.status = s.status WHERE t.status <> 'SUPPRESSED'
