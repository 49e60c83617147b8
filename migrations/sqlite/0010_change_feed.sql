-- PostgreSQL's 0010 makes the database announce every change to the replicas sharing it.
-- SQLite serves one process, which drops its own cached views as it writes: nothing to add.
SELECT 1;
