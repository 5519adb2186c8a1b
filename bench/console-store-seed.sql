-- SPDX-License-Identifier: Apache-2.0
-- console-store-seed.sql: fills a console SQLite store (schema made by the
-- store itself: `console-store-bench ingest DB 1 1` first) with :N events
-- spread over the 30 days before :END (epoch microseconds), the same shape
-- as console-store-bench.c generates, by SQL: a 10-million-event store in
-- minutes instead of the ingestion path's hour on a loaded 2-core machine.
-- The rows, the free-text index and the rollups are what
-- bw_store_add_events would have written (the ingestion path itself is
-- measured separately).  bench/console-store-bench.sh substitutes N and END.
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1000000;
BEGIN;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < @N@),
g AS (SELECT i, (i * 2654435761) % 4294967291 AS r,
             ((i % 1000003) * 2246822519 + i) % 4294967291 AS r2 FROM s),
f AS (SELECT i, r, r2,
             printf('%016x%016x', r, i) AS id,
             @END@ - 2592000000000 + i * (2592000000000 / @N@) AS t,
             printf('proxy-%02d', r % 20 + 1) AS node,
             CASE (r2 / 500000) % 10 WHEN 7 THEN 'clamd' WHEN 8 THEN 'clamd' WHEN 9 THEN 'quarantine' ELSE 'icap' END AS comp,
             (r2 / 50000) % 10 < 8 AS det,
             printf('Win.Trojan.Agent-%d', (r / 20) % 500) AS thr,
             printf('10.%d.%d.%d', (r / 7) % 20, (r / 140) % 250, (r / 35000) % 20) AS client,
             printf('http://site%d.example/dl/file%d.exe', r2 % 5000, (r2 / 5000) % 10) AS url,
             printf('user%d', (r / 3) % 3000) AS usr
      FROM g)
INSERT INTO events (id, time, received, node, component, type, severity, threat, client, usr, object,
                    action, verdict, json)
SELECT id, t, t, node, comp, CASE WHEN det THEN 'detection' ELSE 'scan' END, CASE WHEN det THEN 4 ELSE 1 END,
       CASE WHEN det THEN thr END, client, usr, url, CASE WHEN det THEN 'deny' ELSE 'allow' END,
       CASE WHEN det THEN 'INFECTED' ELSE 'CLEAN' END,
       printf('{"id":"%s","time":"%s.%06dZ","node":"%s","component":"%s","type":"%s","severity":"%s",'
              || '"verdict":"%s","action":"%s",%s"object":{"url":"%s","size":%d,"sha256":"%016x%016x%016x%016x"},'
              || '"client":{"ip":"%s","user":"%s","group":"default"},"method":"RESPMOD"}',
              id, strftime('%Y-%m-%dT%H:%M:%S', t / 1000000, 'unixepoch'), t % 1000000, node, comp,
              CASE WHEN det THEN 'detection' ELSE 'scan' END, CASE WHEN det THEN 'high' ELSE 'info' END,
              CASE WHEN det THEN 'INFECTED' ELSE 'CLEAN' END, CASE WHEN det THEN 'deny' ELSE 'allow' END,
              CASE WHEN det THEN '"threats":["' || thr || '"],' ELSE '' END, url, r % 100000, r, r2, r + i, r2 + i,
              client, usr)
FROM f;
COMMIT;
BEGIN;
INSERT INTO events_fts (rowid, body)
SELECT seq, node || ' ' || type || ' ' || COALESCE(threat || ' ', '') || object || ' '
       || client || ' ' || usr FROM events;
INSERT INTO events_th (rowid, threat) SELECT seq, threat FROM events WHERE threat <> '';
COMMIT;
BEGIN;
INSERT INTO rollup_h (dim, key, t, events, detections)
SELECT d, k, h, COUNT(*), SUM(det) FROM (
  SELECT 0 AS d, '' AS k, time / 3600000000 * 3600 AS h, type = 'detection' AS det FROM events
  UNION ALL SELECT 1, threat, time / 3600000000 * 3600, type = 'detection' FROM events WHERE threat IS NOT NULL
  UNION ALL SELECT 2, client, time / 3600000000 * 3600, type = 'detection' FROM events
  UNION ALL SELECT 3, object, time / 3600000000 * 3600, type = 'detection' FROM events
  UNION ALL SELECT 4, component, time / 3600000000 * 3600, type = 'detection' FROM events
  UNION ALL SELECT 5, node, time / 3600000000 * 3600, type = 'detection' FROM events)
GROUP BY d, k, h;
INSERT INTO rollup_d (dim, key, t, events, detections)
SELECT dim, key, t / 86400 * 86400, SUM(events), SUM(detections) FROM rollup_h GROUP BY dim, key, t / 86400;
UPDATE counters SET n = (SELECT COUNT(*) FROM events) WHERE name = 'events';
COMMIT;
ANALYZE;
