/* SPDX-License-Identifier: Apache-2.0 */
/* The schema of the console's store, shared by both engines.
 *
 * Versions: the table schema_version holds one row per migration applied;
 * bw_store_open applies the missing ones in order, each in one transaction
 * with its row (store.c: migrate), so a database is always at a whole
 * version, and a console older than its database refuses to open it.
 * Each engine's migration i is its own text (store-sqlite.c, store-pg.c)
 * because a few types differ (identity columns, the free-text index); the
 * tables that are written alike in both come from here, so the logical
 * schema is the same: a change is a new migration in both lists.
 *
 * Times are microseconds since the epoch (BIGINT), hashes lowercase hex.
 * Nothing secret is stored in clear: enrolment tokens, node credentials
 * and session tokens as SHA-256, passwords as Argon2id strings. */
#include "console/store-int.h"

const char bw_store_schema_common_v1[] =
    /* The rollups' second index: a bucket's keys by count, for the top-N
     * candidates (store-events.c). */
    "CREATE INDEX rollup_h_top ON rollup_h (dim, t, events);\n"
    "CREATE INDEX rollup_d_top ON rollup_d (dim, t, events);\n"
    "CREATE TABLE counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL);\n"
    "INSERT INTO counters (name, n) VALUES ('events', 0);\n"
    "CREATE TABLE nodes (id TEXT PRIMARY KEY, name TEXT NOT NULL, grp TEXT NOT NULL, "
    "  cred TEXT NOT NULL UNIQUE, enrolled BIGINT NOT NULL, last_seen BIGINT, revoked BIGINT, "
    "  report TEXT);\n"
    /* A name is enrolled at most once at a time; a revoked node's name can
     * enrol again (a reinstalled machine). */
    "CREATE UNIQUE INDEX nodes_name ON nodes (name) WHERE revoked IS NULL;\n"
    "CREATE TABLE enroll_tokens (hash TEXT PRIMARY KEY, grp TEXT NOT NULL, expires BIGINT NOT NULL, "
    "  created BIGINT NOT NULL, used BIGINT, node_id TEXT);\n"
    "CREATE TABLE policies (grp TEXT NOT NULL, version BIGINT NOT NULL, conf TEXT NOT NULL, "
    "  updated BIGINT NOT NULL, updated_by TEXT, PRIMARY KEY (grp, version));\n"
    "CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL, pwhash TEXT NOT NULL, "
    "  failures INTEGER NOT NULL DEFAULT 0, locked_until BIGINT, created BIGINT NOT NULL);\n"
    "CREATE TABLE sessions (hash TEXT PRIMARY KEY, usr TEXT NOT NULL, csrf TEXT NOT NULL, "
    "  expires BIGINT NOT NULL, created BIGINT NOT NULL);\n"
    "CREATE INDEX sessions_usr ON sessions (usr);\n"
    "CREATE INDEX tasks_node ON tasks (node_id, state);\n";
