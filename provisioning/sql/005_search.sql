-- 005_search: the subscriber search served by indexes (issue 5).
--
-- provd's GET /api/v1/subscribers?q=TEXT finds the subscribers whose user
-- part or display name contains TEXT, case-insensitively and as typed:
--   lower(user_part) LIKE '%' || <lower(TEXT), '\', '%', '_' escaped> || '%'
-- (the same for display_name). A B-tree cannot serve a LIKE with a leading
-- wildcard, so this was a sequential scan (about 250 ms with 1,000,000
-- subscribers); pg_trgm's GIN indexes of trigrams serve it for any text of
-- three characters or more (shorter texts still read the table, and are
-- few: a GUI sends a search from the third character on).
--
-- pg_trgm is a trusted extension since PostgreSQL 13: the owner of the
-- database (the vocal role of make run and of the test harness) may create
-- it without being a superuser. Where provd's role does not own the
-- database, a superuser runs CREATE EXTENSION pg_trgm once beforehand, and
-- this migration then finds it there.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX subscribers_user_part_trgm ON subscribers USING gin (lower(user_part) gin_trgm_ops);
CREATE INDEX subscribers_display_name_trgm ON subscribers USING gin (lower(display_name) gin_trgm_ops);
