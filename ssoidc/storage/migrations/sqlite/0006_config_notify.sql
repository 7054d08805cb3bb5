-- Version 6: PostgreSQL announces configuration-version changes with NOTIFY; SQLite nodes read the version per
-- request (one page of the shared memory map), so there is nothing to do here.
SELECT 1;
