// Exports of the console's lists as CSV (UTF-8 with a BOM, so Excel reads the Chinese) or
// XLSX (reports/xlsx_stream.hpp), produced while they are downloaded.
//
// An ExportJob runs its RowProducer on a thread of its own; the rows are encoded into pieces
// of about 64 KiB that wait in a bounded queue for the HTTP connection to send them, so a
// million-row export holds a few pieces in memory, not the file, and no I/O thread waits for
// the database. XLSX is streamed the same way: a zip whose entries are deflated as the rows
// arrive, its directory written after the last row.
//
// Cancellation: when the client goes away, cancel() makes the producer stop at its next row,
// and the thread ends; mingchu_exports_active counts jobs
// whose thread is still running. ExportService bounds how many run at once.
//
// Threads: read(), failed() and cancel() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/metrics.hpp"
#include "core/result.hpp"

namespace mingchu::reports {

enum class ExportFormat { kCsv, kXlsx };
std::optional<ExportFormat> parse_export_format(std::string_view s);

enum class CellKind { kText, kNumber };

struct Column {
  std::string title;
  CellKind kind = CellKind::kText;
  double width = 16;  // characters, XLSX only
};

// The producer's side. add() returns false once the export was cancelled: stop producing.
class RowWriter {
 public:
  virtual ~RowWriter() = default;
  virtual bool add(const std::vector<std::string>& cells) = 0;
};

// Produces the rows (runs on the export's thread). An error ends the download truncated.
using RowProducer = std::function<Status(RowWriter&)>;

// One CSV field: quoted when needed; a text cell that a spreadsheet would take for a formula
// (= + - @ and tab/CR first) is prefixed with ' (CSV injection).
std::string csv_field(std::string_view v, CellKind kind);

struct ExportStats {
  std::int64_t rows = 0;
  std::int64_t bytes = 0;
  bool cancelled = false;
  bool failed = false;
  std::string error;
};

class ExportJob {
 public:
  struct State;
  explicit ExportJob(std::shared_ptr<State> s) : s_(std::move(s)) {}
  ~ExportJob();  // cancels (a job dropped before its end is a cancelled one)

  // The next piece of the file: bytes; "" when none is ready yet; nullopt at the end.
  std::optional<std::string> read();
  bool failed() const;
  void cancel();

 private:
  std::shared_ptr<State> s_;
};

struct ExportOptions {
  size_t piece_bytes = 64 * 1024;
  size_t queue_pieces = 16;
  int max_concurrent = 4;
  std::int64_t max_rows = 2'000'000;   // beyond this the export ends with an error row
};

class ExportService {
 public:
  ExportService(ExportOptions opt, Metrics* metrics);
  ~ExportService();

  // Starts a job; kUnavailable "too_many_exports" when max_concurrent are running.
  // on_done runs on the job's thread when it ends (rows written, cancelled or failed).
  Result<std::shared_ptr<ExportJob>> start(ExportFormat format, std::string sheet_name, std::vector<Column> columns,
                                           RowProducer producer, std::function<void(const ExportStats&)> on_done);
  int active() const { return active_->load(); }
  // Waits (up to timeout) until no job's thread runs: call before what the producers use goes.
  void wait_idle(std::chrono::milliseconds timeout);
  const ExportOptions& options() const { return opt_; }

 private:
  ExportOptions opt_;
  Metrics* metrics_;
  // shared with the jobs' threads, which may outlive a request but not the process
  std::shared_ptr<std::atomic<int>> active_ = std::make_shared<std::atomic<int>>(0);
  Gauge* active_gauge_ = nullptr;
  Counter* rows_counter_ = nullptr;
};

}  // namespace mingchu::reports
