SELECT ((TRUNC(CAST(created_at AS DATE)) - DATE '2000-01-01') * 96 + EXTRACT(HOUR FROM created_at) * 4 + TRUNC(EXTRACT(MINUTE FROM created_at) / 15)) FROM delivery
