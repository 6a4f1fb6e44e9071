// Small SQL builders shared by every repository, written once so that the engines' differences
// (row locks, multi-row INSERTs) live in one place. Pure functions; thread safe.
//
// Failure: the statements they run throw storage::DbError like any other.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "storage/database.hpp"

namespace mingchu::storage {

// Row locks for read-modify-write: " FOR UPDATE" on PostgreSQL; "" on SQLite, whose BEGIN
// IMMEDIATE already serialises writers.
std::string for_update(const Connection& c);

// "($k, $k+1, ...)" for the values, which are appended to ps (k = ps.size() + 1 before the
// call): `"... WHERE id IN " + in_list(ps, ids)`. values must not be empty.
std::string in_list(Params& ps, const std::vector<std::string>& values);

// The largest IN (...) list the helpers below build (PostgreSQL allows 65 535 parameters,
// SQLite 32 766; a list this long keeps statements short and plans cached).
inline constexpr size_t kMaxInList = 500;

// Runs fn(chunk) for consecutive chunks of at most kMaxInList values.
void for_each_chunk(const std::vector<std::string>& values,
                    const std::function<void(const std::vector<std::string>&)>& fn);

// Multi-row INSERT of rows (each of cols.size() values). On PostgreSQL in chunks of at most 64
// rows, sized in powers of two so the prepared-statement caches see few distinct texts; on
// SQLite one cached single-row statement stepped per row (no round trips to save).
// suffix follows each statement, e.g. " ON CONFLICT (k) DO UPDATE SET ..." for upserts (the
// rows must then have distinct keys).
void insert_rows(Connection& c, const std::string& table, const std::vector<std::string>& cols,
                 const std::vector<Params>& rows, const std::string& suffix = "");

}  // namespace mingchu::storage
