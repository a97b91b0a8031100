DELETE FROM inflight WHERE started_at < :1 AND ROWNUM <= 10000
