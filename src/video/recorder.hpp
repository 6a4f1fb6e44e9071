// Recording (录像): the live segments of a recording camera appended to MPEG-TS files of about a
// minute under <data>/recordings/<camera>/<YYYY-MM-DD>/<start_ms>_<node>.ts, and the index of
// those files in the database (table `recordings`: camera, start, end, bytes, SM3).
//
// Crash safety: a file is written as "<name>.part"; when it is complete it is fsynced, its row
// is inserted, and only then is it renamed to "<name>.ts" (and the directory fsynced). recover()
// at start finishes what a crash interrupted: a ".part" whose row exists is renamed; any other
// ".part" is probed — its complete frames are kept (truncated to whole TS packets, indexed with
// their real duration) or, when none is readable, the file is deleted; a recent row whose file
// is missing is deleted. So the index never points at a missing or truncated file.
//
// Threads: append()/close() are called by the pullers (any thread); a finalizer thread does the
// fsync, insert and rename. Retention and listings may be called from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "crypto/sm3.hpp"
#include "video/stream.hpp"

namespace mingchu::storage {
class Database;
}

namespace mingchu::video {

struct RecordingRow {
  std::string id, camera_id, path;
  std::int64_t start_at = 0, end_at = 0, bytes = 0;
  std::string sm3;
};

struct RecorderOptions {
  std::filesystem::path root;  // <data>/recordings
  std::string node = "node";
  std::chrono::seconds file_span{60};
  std::uint64_t quota_bytes = 0;       // 0: no quota
  std::uint64_t min_free_bytes = 512ull << 20;  // keep at least this much disk free
};

class Recorder {
 public:
  Recorder(storage::Database& db, const Clock& clock, Metrics& metrics, RecorderOptions opt);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Finishes what a crash interrupted (see above). Call once before the first append().
  void recover();

  // A live segment of a recording camera (called by its puller).
  void append(const std::string& camera_id, const std::string& unit_id, const std::string& jpath,
              const Segment& seg);
  // The camera stopped recording (or its stream stopped): finish its open file.
  void close(const std::string& camera_id);
  void close_all();
  // Waits until every closed file is indexed (tests, shutdown).
  void flush();

  // Indexed files of a camera overlapping [from, to], oldest first.
  std::vector<RecordingRow> list(const std::string& camera_id, std::int64_t from, std::int64_t to) const;
  std::optional<RecordingRow> get(const std::string& id) const;
  // The file being written for the camera: its path and wall start (empty when none).
  std::pair<std::filesystem::path, std::int64_t> open_file(const std::string& camera_id) const;
  std::filesystem::path path_of(const RecordingRow& r) const { return opt_.root / r.path; }

  // Deletes files past their camera's retention_days, then the oldest while over the quota or
  // short of free disk. Returns the number of files deleted.
  int enforce_retention();
  std::uint64_t bytes_written() const { return bytes_written_; }
  std::uint64_t disk_free() const;

 private:
  struct OpenFile {
    int fd = -1;
    std::string rel;  // relative final path
    std::string id;
    std::string unit_id, jpath;
    std::int64_t start = 0, end = 0, bytes = 0;
    crypto::Sm3 sm3;
  };
  struct Closed {
    std::string id, camera_id, unit_id, jpath, rel, sm3;
    std::int64_t start = 0, end = 0, bytes = 0;
    int fd = -1;
  };
  void finalize_loop();
  void finalize(Closed& c);
  void close_locked(const std::string& camera_id);
  void delete_row_and_file(const std::string& id, const std::string& rel);

  storage::Database& db_;
  const Clock& clock_;
  RecorderOptions opt_;
  Counter& bytes_counter_;
  Counter& files_counter_;
  mutable std::mutex mu_;
  std::map<std::string, OpenFile> open_;
  std::mutex q_mu_;
  std::condition_variable q_cv_, q_done_;
  std::deque<Closed> queue_;
  int in_flight_ = 0;
  bool stop_ = false;
  std::thread finalizer_;
  std::atomic<std::uint64_t> bytes_written_{0};
};

}  // namespace mingchu::video
