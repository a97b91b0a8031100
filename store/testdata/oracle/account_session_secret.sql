MERGE INTO settings t USING (SELECT :1 AS name, :2 AS value FROM dual) s ON (t.name = s.name) WHEN NOT MATCHED THEN INSERT (name, value) VALUES (s.name, s.value)
