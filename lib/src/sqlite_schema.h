#pragma once

// Private to the library: the tables of the SQLite store, and the upgrade of a file written by
// an earlier tykhook to them.
//
// tykhook_claims      one row per claimed key (the idempotency store); a queued delivery's
//                     claim names its entry (`entry`), and is its only index by key
// tykhook_queue_entries
//                     one row per queued delivery, in the order queued; one index, by state
//
// Each delivery so writes one row at a random place in a B-tree (its claim, keyed by the hash
// of its body); everything else it writes goes to the growing ends of the tables and indexes,
// which the deliveries of one commit share (bench/README.md, "The delivery queue").

#include "sqlite_db.h"

namespace tykhook::detail {

/// The schema this build writes, kept in the file's `PRAGMA user_version`. 0: a file from
/// before the version was kept (claims alone, or claims beside the first queue table).
inline constexpr int sqlite_schema_version = 2;

/// Creates the tables and the index where they are missing, and upgrades a file of an earlier
/// schema in one transaction (so a crash leaves it as it was, and of several processes opening
/// it at once one upgrades it). Throws tykhook::Error for a file of a later schema, which this
/// build cannot read.
void set_up_sqlite_schema(const SqliteDb& db);

}  // namespace tykhook::detail
