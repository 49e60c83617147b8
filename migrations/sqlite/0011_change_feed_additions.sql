-- PostgreSQL's 0011 announces inserts apart from other changes. SQLite serves one process,
-- which has no change feed: nothing to add.
SELECT 1;
