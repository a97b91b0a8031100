MERGE INTO tasks t USING (SELECT :1 AS id, :2 AS status FROM dual) s ON (t.id = s.id) WHEN MATCHED THEN UPDATE SET t.status = s.status WHERE t.status <> 'DONE'
