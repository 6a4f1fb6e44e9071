// A bounded pool of connections made by a factory; the shared part of both engines.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

#include "storage/database.hpp"

namespace mingchu::storage {

class PooledDatabase : public Database {
 public:
  using Factory = std::function<std::unique_ptr<Connection>()>;
  PooledDatabase(Dialect d, int size, Factory f, std::string description);
  Dialect dialect() const override { return dialect_; }
  Conn acquire() override;
  void release(std::unique_ptr<Connection> c) override;
  std::string describe() const override { return description_; }

 private:
  Dialect dialect_;
  int size_;
  Factory factory_;
  std::string description_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
};

std::unique_ptr<Connection> open_sqlite(const std::string& path);
// The SQLite pool with its WAL checkpointer thread.
std::unique_ptr<Database> open_sqlite_database(const std::string& path, int pool_size);
std::unique_ptr<Connection> open_postgres(const std::string& conninfo);

}  // namespace mingchu::storage
