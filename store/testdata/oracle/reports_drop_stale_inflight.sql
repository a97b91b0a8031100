DELETE FROM inflight_batch WHERE started_at < :1 AND ROWNUM <= 10000
