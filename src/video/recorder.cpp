#include "video/recorder.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "storage/database.hpp"

namespace mingchu::video {
namespace fs = std::filesystem;
namespace {

constexpr const char* kInsert =
    "INSERT INTO recordings (id, camera_id, unit_id, jpath, start_at, end_at, bytes, sm3, path, node, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
constexpr const char* kSelectCols = "SELECT id, camera_id, path, start_at, end_at, bytes, sm3 FROM recordings";
constexpr const char* kByPath = "SELECT id FROM recordings WHERE path = $1";
constexpr const char* kRecent = "SELECT id, path FROM recordings WHERE node = $1 AND created_at >= $2";
constexpr const char* kDelete = "DELETE FROM recordings WHERE id = $1";
constexpr const char* kExpired =
    "SELECT r.id, r.path FROM recordings r JOIN cameras c ON c.id = r.camera_id "
    "WHERE r.node = $1 AND r.end_at < $2 - c.retention_days * 86400000 ORDER BY r.start_at LIMIT 500";
constexpr const char* kOrphans =
    "SELECT r.id, r.path FROM recordings r WHERE r.node = $1 AND r.end_at < $2 AND NOT EXISTS "
    "(SELECT 1 FROM cameras c WHERE c.id = r.camera_id) LIMIT 500";
constexpr const char* kTotal = "SELECT COALESCE(SUM(bytes), 0) FROM recordings WHERE node = $1";
constexpr const char* kOldest = "SELECT id, path, bytes FROM recordings WHERE node = $1 ORDER BY start_at LIMIT 50";

RecordingRow row_of(const storage::Row& r) {
  RecordingRow x;
  x.id = r.text(0);
  x.camera_id = r.text(1);
  x.path = r.text(2);
  x.start_at = r.integer(3);
  x.end_at = r.integer(4);
  x.bytes = r.integer(5);
  x.sm3 = r.text(6);
  return x;
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

bool write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string file_sm3(const fs::path& p, std::int64_t* bytes) {
  crypto::Sm3 h;
  int fd = ::open(p.c_str(), O_RDONLY);
  std::int64_t total = 0;
  if (fd >= 0) {
    std::string buf(1 << 16, '\0');
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n <= 0) break;
      h.update(std::string_view(buf.data(), static_cast<size_t>(n)));
      total += n;
    }
    ::close(fd);
  }
  if (bytes) *bytes = total;
  return h.final_hex();
}

}  // namespace

Recorder::Recorder(storage::Database& db, const Clock& clock, Metrics& metrics, RecorderOptions opt)
    : db_(db),
      clock_(clock),
      opt_(std::move(opt)),
      bytes_counter_(metrics.counter("mingchu_video_recording_bytes_total", "", "bytes written to recordings")),
      files_counter_(metrics.counter("mingchu_video_recording_files_total", "", "recording files indexed")) {
  fs::create_directories(opt_.root);
  finalizer_ = std::thread([this] { finalize_loop(); });
}

Recorder::~Recorder() {
  close_all();
  {
    std::lock_guard lk(q_mu_);
    stop_ = true;
  }
  q_cv_.notify_all();
  if (finalizer_.joinable()) finalizer_.join();
}

void Recorder::recover() {
  std::error_code ec;
  int renamed = 0, kept = 0, dropped = 0, missing = 0;
  const std::string suffix = "_" + opt_.node + ".ts.part";
  std::vector<fs::path> parts;
  for (auto it = fs::recursive_directory_iterator(opt_.root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (it->is_regular_file() && name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      parts.push_back(it->path());
    }
  }
  for (const fs::path& part : parts) {
    fs::path final_path = part;
    final_path.replace_extension();  // drop ".part"
    std::string rel = fs::relative(final_path, opt_.root).string();
    storage::Conn c = db_.acquire();
    if (!c->query(kByPath, {rel}).empty()) {
      fs::rename(part, final_path, ec);
      fsync_dir(final_path.parent_path());
      ++renamed;
      continue;
    }
    // <root>/<camera>/<date>/<start>_<node>.ts.part
    std::string camera_id = part.parent_path().parent_path().filename().string();
    std::int64_t start = std::atoll(part.filename().string().c_str());
    auto cam = c->query("SELECT unit_id, jpath FROM cameras WHERE id = $1", {camera_id});
    // a torn last write leaves a partial 188-byte packet: cut it off
    std::uintmax_t size = fs::file_size(part, ec);
    if (!ec && size % 188 != 0) fs::resize_file(part, size - size % 188, ec);
    auto span = probe_ts_file(part.string());
    if (!span || cam.empty() || start <= 0) {
      fs::remove(part, ec);
      ++dropped;
      continue;
    }
    std::int64_t bytes = 0;
    std::string sm3 = file_sm3(part, &bytes);
    std::int64_t end = start + std::max<std::int64_t>(40, (span->last_dts_us - span->first_dts_us) / 1000 + 40);
    c->exec(kInsert, {new_id("rec"), camera_id, cam[0].text(0), cam[0].text(1), start, end, bytes, sm3, rel,
                      opt_.node, clock_.now_ms()});
    fs::rename(part, final_path, ec);
    fsync_dir(final_path.parent_path());
    ++kept;
  }
  // rows whose file vanished (a crash between insert and rename with the .part also lost, or
  // a disk that lost its tail): only recent rows can be in that state
  storage::Conn c = db_.acquire();
  for (const auto& r : c->query(kRecent, {opt_.node, clock_.now_ms() - 24 * kHourMs})) {
    if (!fs::exists(opt_.root / r.text(1))) {
      c->exec(kDelete, {r.text(0)});
      ++missing;
    }
  }
  if (renamed + kept + dropped + missing > 0) {
    log::info("recordings recovered after an interrupted run",
              {{"renamed", std::to_string(renamed)}, {"recovered", std::to_string(kept)},
               {"discarded", std::to_string(dropped)}, {"missing_rows_removed", std::to_string(missing)}});
  }
}

void Recorder::append(const std::string& camera_id, const std::string& unit_id, const std::string& jpath,
                      const Segment& seg) {
  std::lock_guard lk(mu_);
  auto it = open_.find(camera_id);
  if (it != open_.end() &&
      (seg.discontinuity || seg.wall_start_ms - it->second.start >= opt_.file_span.count() * 1000)) {
    close_locked(camera_id);
    it = open_.end();
  }
  if (it == open_.end()) {
    OpenFile f;
    f.start = seg.wall_start_ms;
    f.unit_id = unit_id;
    f.jpath = jpath;
    f.id = new_id("rec");
    std::string day = format_date(local_day(seg.wall_start_ms));
    fs::path dir = opt_.root / camera_id / day;
    std::error_code ec;
    fs::create_directories(dir, ec);
    std::string name = std::to_string(seg.wall_start_ms) + "_" + opt_.node + ".ts";
    f.rel = (fs::path(camera_id) / day / name).string();
    std::string part = (dir / (name + ".part")).string();
    f.fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (f.fd < 0) {
      log::warn("cannot create a recording file", {{"path", part}, {"error", std::strerror(errno)}});
      return;
    }
    it = open_.emplace(camera_id, std::move(f)).first;
  }
  OpenFile& f = it->second;
  if (!write_all(f.fd, *seg.data)) {
    log::warn("recording write failed; the file is closed", {{"camera", camera_id}, {"error", std::strerror(errno)}});
    close_locked(camera_id);
    return;
  }
  f.sm3.update(*seg.data);
  f.bytes += static_cast<std::int64_t>(seg.data->size());
  f.end = seg.wall_end_ms;
  bytes_written_ += seg.data->size();
  bytes_counter_.inc(seg.data->size());
}

void Recorder::close_locked(const std::string& camera_id) {
  auto it = open_.find(camera_id);
  if (it == open_.end()) return;
  OpenFile& f = it->second;
  Closed c;
  c.id = f.id;
  c.camera_id = camera_id;
  c.unit_id = f.unit_id;
  c.jpath = f.jpath;
  c.rel = f.rel;
  c.start = f.start;
  c.end = std::max(f.end, f.start + 1);
  c.bytes = f.bytes;
  c.sm3 = f.sm3.final_hex();
  c.fd = f.fd;
  open_.erase(it);
  {
    std::lock_guard q(q_mu_);
    queue_.push_back(std::move(c));
  }
  q_cv_.notify_one();
}

void Recorder::close(const std::string& camera_id) {
  std::lock_guard lk(mu_);
  close_locked(camera_id);
}

void Recorder::close_all() {
  std::lock_guard lk(mu_);
  while (!open_.empty()) close_locked(open_.begin()->first);
}

void Recorder::flush() {
  std::unique_lock lk(q_mu_);
  q_done_.wait(lk, [this] { return queue_.empty() && in_flight_ == 0; });
}

void Recorder::finalize_loop() {
  std::unique_lock lk(q_mu_);
  for (;;) {
    q_cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (stop_) return;
      continue;
    }
    Closed c = std::move(queue_.front());
    queue_.pop_front();
    ++in_flight_;
    lk.unlock();
    finalize(c);
    lk.lock();
    --in_flight_;
    q_done_.notify_all();
  }
}

void Recorder::finalize(Closed& c) {
  fs::path final_path = opt_.root / c.rel;
  fs::path part = final_path;
  part += ".part";
  ::fsync(c.fd);
  ::close(c.fd);
  std::error_code ec;
  if (c.bytes == 0) {
    fs::remove(part, ec);
    return;
  }
  try {
    storage::Conn conn = db_.acquire();
    conn->exec(kInsert, {c.id, c.camera_id, c.unit_id, c.jpath, c.start, c.end, c.bytes, c.sm3, c.rel, opt_.node,
                         clock_.now_ms()});
  } catch (const std::exception& e) {
    // the .part stays: recover() indexes it at the next start
    log::warn("cannot index a recording; kept for recovery", {{"path", c.rel}, {"error", e.what()}});
    return;
  }
  fs::rename(part, final_path, ec);
  fsync_dir(final_path.parent_path());
  files_counter_.inc();
}

std::vector<RecordingRow> Recorder::list(const std::string& camera_id, std::int64_t from, std::int64_t to) const {
  storage::Conn c = db_.acquire();
  // start_at is indexed; a file is at most a few minutes long, so look a little before `from`
  auto rows = c->query(std::string(kSelectCols) +
                           " WHERE camera_id = $1 AND start_at >= $2 AND start_at <= $3 AND end_at >= $4 "
                           "ORDER BY start_at LIMIT 20000",
                       {camera_id, from - 10 * kMinuteMs, to, from});
  std::vector<RecordingRow> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(row_of(r));
  return out;
}

std::optional<RecordingRow> Recorder::get(const std::string& id) const {
  storage::Conn c = db_.acquire();
  auto rows = c->query(std::string(kSelectCols) + " WHERE id = $1", {id});
  if (rows.empty()) return std::nullopt;
  return row_of(rows[0]);
}

std::pair<fs::path, std::int64_t> Recorder::open_file(const std::string& camera_id) const {
  std::lock_guard lk(mu_);
  auto it = open_.find(camera_id);
  if (it == open_.end()) return {{}, 0};
  fs::path p = opt_.root / it->second.rel;
  p += ".part";
  return {p, it->second.start};
}

void Recorder::delete_row_and_file(const std::string& id, const std::string& rel) {
  {
    storage::Conn c = db_.acquire();
    c->exec(kDelete, {id});  // the row first: the index never points at a deleted file
  }
  std::error_code ec;
  fs::remove(opt_.root / rel, ec);
}

std::uint64_t Recorder::disk_free() const {
  struct statvfs st {};
  if (::statvfs(opt_.root.c_str(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

int Recorder::enforce_retention() {
  int deleted = 0;
  std::int64_t now = clock_.now_ms();
  std::vector<std::pair<std::string, std::string>> victims;
  {
    storage::Conn c = db_.acquire();
    for (const auto& r : c->query(kExpired, {opt_.node, now})) victims.emplace_back(r.text(0), r.text(1));
    for (const auto& r : c->query(kOrphans, {opt_.node, now - 15 * kDayMs})) victims.emplace_back(r.text(0), r.text(1));
  }
  for (const auto& [id, rel] : victims) {
    delete_row_and_file(id, rel);
    ++deleted;
  }
  // quota and free disk: oldest first
  for (int round = 0; round < 100; ++round) {
    std::int64_t total = 0;
    storage::Rows oldest;
    {
      storage::Conn c = db_.acquire();
      total = c->query(kTotal, {opt_.node})[0].integer(0);
      bool over = opt_.quota_bytes > 0 && static_cast<std::uint64_t>(total) > opt_.quota_bytes;
      bool short_of_disk = opt_.min_free_bytes > 0 && disk_free() < opt_.min_free_bytes;
      if (!over && !short_of_disk) break;
      oldest = c->query(kOldest, {opt_.node});
    }
    if (oldest.empty()) break;
    for (const auto& r : oldest) {
      delete_row_and_file(r.text(0), r.text(1));
      ++deleted;
      total -= r.integer(2);
      if (opt_.quota_bytes > 0 && static_cast<std::uint64_t>(total) <= opt_.quota_bytes &&
          disk_free() >= opt_.min_free_bytes) {
        break;
      }
    }
  }
  if (deleted > 0) log::info("recordings past retention deleted", {{"files", std::to_string(deleted)}});
  return deleted;
}

}  // namespace mingchu::video
