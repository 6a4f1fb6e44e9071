#include "reports/export.hpp"

#include "reports/xlsx_stream.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/ids.hpp"
#include "core/log.hpp"

namespace mingchu::reports {

std::optional<ExportFormat> parse_export_format(std::string_view s) {
  if (s == "csv") return ExportFormat::kCsv;
  if (s == "xlsx") return ExportFormat::kXlsx;
  return std::nullopt;
}

std::string csv_field(std::string_view v, CellKind kind) {
  std::string s;
  if (kind == CellKind::kText && !v.empty() &&
      (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r')) {
    s = "'";
  }
  s.append(v);
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';
    q += c;
  }
  q += '"';
  return q;
}

struct ExportJob::State {
  std::mutex mu;
  std::condition_variable space;  // the producer waits for room in the queue
  std::deque<std::string> queue;
  size_t max_pieces = 16;
  bool done = false;
  bool failed = false;
  std::atomic<bool> cancelled{false};

  // Producer side: false when cancelled.
  bool push(std::string piece) {
    std::unique_lock lk(mu);
    space.wait(lk, [&] { return queue.size() < max_pieces || cancelled.load(); });
    if (cancelled) return false;
    queue.push_back(std::move(piece));
    return true;
  }
  void finish(bool ok) {
    std::lock_guard g(mu);
    done = true;
    failed = !ok;
  }
};

ExportJob::~ExportJob() { cancel(); }

std::optional<std::string> ExportJob::read() {
  std::lock_guard g(s_->mu);
  if (!s_->queue.empty()) {
    std::string p = std::move(s_->queue.front());
    s_->queue.pop_front();
    s_->space.notify_one();
    return p;
  }
  if (s_->done) return std::nullopt;
  return std::string();
}

bool ExportJob::failed() const {
  std::lock_guard g(s_->mu);
  return s_->failed || s_->cancelled;
}

void ExportJob::cancel() {
  {
    std::lock_guard g(s_->mu);
    if (s_->done && s_->queue.empty()) return;
    s_->cancelled = true;
    s_->queue.clear();
  }
  s_->space.notify_all();
}

namespace {

class CsvWriter final : public RowWriter {
 public:
  CsvWriter(ExportJob::State& s, const std::vector<Column>& cols, size_t piece) : s_(s), cols_(cols), piece_(piece) {
    buf_ = "\xEF\xBB\xBF";  // BOM: Excel then reads UTF-8
    std::vector<std::string> head;
    for (const auto& c : cols_) head.push_back(c.title);
    line(head, true);
  }
  bool add(const std::vector<std::string>& cells) override {
    if (s_.cancelled) return false;
    line(cells, false);
    ++rows;
    if (buf_.size() >= piece_) return flush();
    return true;
  }
  bool flush() {
    if (buf_.empty()) return !s_.cancelled;
    bytes += static_cast<std::int64_t>(buf_.size());
    std::string p;
    p.swap(buf_);
    buf_.reserve(piece_ + 1024);
    return s_.push(std::move(p));
  }
  std::int64_t rows = 0, bytes = 0;

 private:
  void line(const std::vector<std::string>& cells, bool header) {
    for (size_t i = 0; i < cols_.size(); ++i) {
      if (i) buf_ += ',';
      if (i < cells.size()) buf_ += csv_field(cells[i], header ? CellKind::kText : cols_[i].kind);
    }
    buf_ += "\r\n";
  }
  ExportJob::State& s_;
  const std::vector<Column>& cols_;
  size_t piece_;
  std::string buf_;
};

// Rows into a workbook that is streamed while it is written (reports/xlsx_stream.hpp).
class XlsxWriter final : public RowWriter {
 public:
  XlsxWriter(ExportJob::State& s, std::string sheet, const std::vector<Column>& cols, size_t piece)
      : s_(s),
        x_(
            [this](std::string&& p) {
              bytes += static_cast<std::int64_t>(p.size());
              return s_.push(std::move(p));
            },
            std::move(sheet), xlsx_columns(cols), piece) {}
  bool add(const std::vector<std::string>& cells) override {
    if (s_.cancelled) return false;
    if (!x_.write_row(cells)) return false;
    ++rows;
    return true;
  }
  bool close() { return x_.close(); }
  std::string error() const { return s_.cancelled ? std::string() : x_.error(); }
  std::int64_t rows = 0, bytes = 0;

 private:
  static std::vector<XlsxColumn> xlsx_columns(const std::vector<Column>& cols) {
    std::vector<XlsxColumn> out;
    for (const auto& c : cols) out.push_back({c.title, c.kind == CellKind::kNumber, c.width});
    return out;
  }
  ExportJob::State& s_;
  XlsxStream x_;
};

}  // namespace

ExportService::ExportService(ExportOptions opt, Metrics* metrics) : opt_(std::move(opt)), metrics_(metrics) {
  if (metrics_) {
    active_gauge_ = &metrics_->gauge("mingchu_exports_active", "", "Exports whose producer thread is running");
    rows_counter_ = &metrics_->counter("mingchu_export_rows_total", "", "Rows written by exports");
  }
}

ExportService::~ExportService() {
  // the jobs' threads use the metrics: give cancelled ones a moment to end
  wait_idle(std::chrono::seconds(5));
}

void ExportService::wait_idle(std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (active_->load() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Result<std::shared_ptr<ExportJob>> ExportService::start(ExportFormat format, std::string sheet_name,
                                                        std::vector<Column> columns, RowProducer producer,
                                                        std::function<void(const ExportStats&)> on_done) {
  if (active_->fetch_add(1) >= opt_.max_concurrent) {
    active_->fetch_sub(1);
    Error e = Error::unavailable("too many exports are running; try again shortly");
    e.code = "too_many_exports";
    return e;
  }
  if (active_gauge_) active_gauge_->add(1);
  auto state = std::make_shared<ExportJob::State>();
  state->max_pieces = opt_.queue_pieces;
  auto job = std::make_shared<ExportJob>(state);
  std::thread([state, format, sheet = std::move(sheet_name), cols = std::move(columns), producer = std::move(producer),
               on_done = std::move(on_done), opt = opt_, active = active_, gauge = active_gauge_,
               rows_counter = rows_counter_]() mutable {
    ExportStats st;
    bool ok = false;
    try {
      if (format == ExportFormat::kCsv) {
        CsvWriter w(*state, cols, opt.piece_bytes);
        Status r = producer(w);
        ok = r && w.flush();
        if (!r) st.error = r.error().message;
        st.rows = w.rows;
        st.bytes = w.bytes;
      } else {
        XlsxWriter w(*state, sheet, cols, opt.piece_bytes);
        Status r = producer(w);
        ok = r && !state->cancelled && w.close();
        if (!r) st.error = r.error().message;
        if (st.error.empty()) st.error = w.error();
        st.rows = w.rows;
        st.bytes = w.bytes;
      }
    } catch (const std::exception& e) {
      ok = false;
      st.error = e.what();
    }
    st.cancelled = state->cancelled;
    st.failed = !ok && !st.cancelled;
    if (st.failed) log::warn("export failed", {{"error", st.error}, {"rows", std::to_string(st.rows)}});
    state->finish(ok);
    if (rows_counter) rows_counter->inc(static_cast<std::uint64_t>(st.rows));
    if (on_done) {
      try {
        on_done(st);
      } catch (const std::exception& e) {
        log::warn("export bookkeeping failed", {{"error", e.what()}});
      }
    }
    if (gauge) gauge->add(-1);
    active->fetch_sub(1);
  }).detach();
  return job;
}

}  // namespace mingchu::reports
