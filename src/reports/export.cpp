#include "reports/export.hpp"

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

// Rows into a constant-memory workbook; a new sheet every kRowsPerSheet rows (XLSX holds
// 1 048 576 rows a sheet).
class XlsxWriter final : public RowWriter {
 public:
  static constexpr std::int64_t kRowsPerSheet = 1'000'000;
  XlsxWriter(ExportJob::State& s, const std::string& path, const std::string& tmp_dir, std::string sheet,
             const std::vector<Column>& cols)
      : s_(s), cols_(cols), sheet_(std::move(sheet)), tmp_dir_(tmp_dir) {
    lxw_workbook_options o{};
    o.constant_memory = LXW_TRUE;
    o.tmpdir = const_cast<char*>(tmp_dir_.c_str());
    o.use_zip64 = LXW_TRUE;
    wb_ = workbook_new_opt(path.c_str(), &o);
    if (wb_) {
      header_ = workbook_add_format(wb_);
      format_set_bold(header_);
      format_set_bg_color(header_, 0xDDE7F5);
      new_sheet();
    }
  }
  ~XlsxWriter() override {
    if (wb_) lxw_workbook_free(wb_);
  }
  bool ok() const { return wb_ && ws_; }
  bool add(const std::vector<std::string>& cells) override {
    if (s_.cancelled) return false;
    if (row_ > kRowsPerSheet) new_sheet();
    for (size_t i = 0; i < cols_.size() && i < cells.size(); ++i) {
      auto c = static_cast<lxw_col_t>(i);
      if (cells[i].empty()) continue;
      if (cols_[i].kind == CellKind::kNumber) {
        char* end = nullptr;
        double v = std::strtod(cells[i].c_str(), &end);
        if (end && *end == '\0') {
          worksheet_write_number(ws_, row_, c, v, nullptr);
          continue;
        }
      }
      worksheet_write_string(ws_, row_, c, cells[i].c_str(), nullptr);
    }
    ++row_;
    ++rows;
    return true;
  }
  // Writes the zip; false on failure.
  bool close() {
    lxw_error e = workbook_close(wb_);
    wb_ = nullptr;
    if (e != LXW_NO_ERROR) error = lxw_strerror(e);
    return e == LXW_NO_ERROR;
  }
  std::int64_t rows = 0;
  std::string error;

 private:
  void new_sheet() {
    ++sheets_;
    std::string name = sheets_ == 1 ? sheet_ : sheet_ + std::to_string(sheets_);
    ws_ = workbook_add_worksheet(wb_, name.c_str());
    if (!ws_) return;
    for (size_t i = 0; i < cols_.size(); ++i) {
      auto c = static_cast<lxw_col_t>(i);
      worksheet_set_column(ws_, c, c, cols_[i].width, nullptr);
      worksheet_write_string(ws_, 0, c, cols_[i].title.c_str(), header_);
    }
    worksheet_freeze_panes(ws_, 1, 0);
    row_ = 1;
  }
  ExportJob::State& s_;
  const std::vector<Column>& cols_;
  std::string sheet_;
  std::string tmp_dir_;
  lxw_workbook* wb_ = nullptr;
  lxw_worksheet* ws_ = nullptr;
  lxw_format* header_ = nullptr;
  lxw_row_t row_ = 1;
  int sheets_ = 0;
};

// Queues the bytes of an (already unlinked) file; false when cancelled or unreadable.
bool queue_file(ExportJob::State& s, int fd, size_t piece, std::int64_t& bytes) {
  for (;;) {
    std::string buf(piece, '\0');
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) return false;
    if (n == 0) return true;
    buf.resize(static_cast<size_t>(n));
    bytes += n;
    if (!s.push(std::move(buf))) return false;
  }
}

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
        std::filesystem::create_directories(opt.tmp_dir);
        std::string path = opt.tmp_dir + "/export-" + quick_random_hex(8) + ".xlsx";
        {
          XlsxWriter w(*state, path, opt.tmp_dir, sheet, cols);
          if (!w.ok()) {
            st.error = "cannot create the workbook";
          } else {
            Status r = producer(w);
            st.rows = w.rows;
            if (!r) st.error = r.error().message;
            if (r && !state->cancelled) ok = w.close();
            if (!w.error.empty()) st.error = w.error;
          }
        }
        if (ok) {
          int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
          std::error_code ec;
          std::filesystem::remove(path, ec);  // the open descriptor keeps the bytes until read
          ok = fd >= 0 && queue_file(*state, fd, opt.piece_bytes, st.bytes);
          if (fd >= 0) ::close(fd);
        } else {
          std::error_code ec;
          std::filesystem::remove(path, ec);
        }
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
