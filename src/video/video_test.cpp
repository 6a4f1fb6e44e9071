// The media core without a network: media tokens, a stream fed by a scripted source of real
// H.264 (encoded here with libx264) into live segments, FLV, the GOP and the ring, snapshots,
// MP4 clips, and the recorder's crash recovery against every test engine.
#include <gtest/gtest.h>

extern "C" {
#include <libavcodec/avcodec.h>
}

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/ids.hpp"
#include "core/time.hpp"
#include "core/validate.hpp"
#include "storage/database.hpp"
#include "storage/testing.hpp"
#include "video/media_token.hpp"
#include "video/recorder.hpp"
#include "video/stream.hpp"

namespace mingchu::video {
namespace {
namespace fs = std::filesystem;

// ---------------------------------------------------------------- tokens, URLs

TEST(MediaTokens, RoundTripAndRefusals) {
  MediaTokens t("k1");
  MediaGrant g;
  g.kind = "vod";
  g.camera_id = "cam_1";
  g.from = 1000;
  g.to = 2000;
  g.expires_at = 50'000;
  std::string tok = t.issue(g);
  auto back = t.verify(tok, 10'000);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->kind, "vod");
  EXPECT_EQ(back->camera_id, "cam_1");
  EXPECT_EQ(back->from, 1000);
  EXPECT_EQ(back->to, 2000);

  auto expired = t.verify(tok, 50'000);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().kind, ErrorKind::kForbidden);
  EXPECT_NE(expired.error().message.find("expired"), std::string::npos);

  EXPECT_FALSE(MediaTokens("k2").verify(tok, 10'000).ok()) << "another key";
  std::string flipped = tok;
  flipped[3] = flipped[3] == '0' ? '1' : '0';
  EXPECT_FALSE(t.verify(flipped, 10'000).ok()) << "a changed body";
  for (const std::string& bad : std::vector<std::string>{"", ".", "zz.zz", "6c69.00", std::string(2000, 'a'), tok + "0"}) {
    auto r = t.verify(bad, 10'000);
    ASSERT_FALSE(r.ok()) << bad.substr(0, 20);
    EXPECT_EQ(r.error().code, "invalid_media_token");
  }
}

TEST(StreamUrls, OnlyRtspWithoutShellCharacters) {
  EXPECT_TRUE(valid_rtsp_url("rtsp://127.0.0.1:554/ch1"));
  EXPECT_TRUE(valid_rtsp_url("rtsp://admin:pa55@127.0.0.1/Streaming/Channels/101"));
  EXPECT_TRUE(valid_rtsp_url("rtsps://cam.example/live?channel=1&subtype=0"));
  for (const char* bad : {"file:///etc/passwd", "http://127.0.0.1/a", "pipe:0", "rtsp://", "rtsp:///x", "rtsp://:554/x",
                          "rtsp://h/a b", "rtsp://h/a;id", "rtsp://h/$(id)", "rtsp://h/`id`", "rtsp://h/a|b",
                          "rtsp://h/a\nb", "rtsp://h/a&b", "rtsp://h/a?b=1&c=$(id)", "rtsp://h/\xe4\xb8\xad", " rtsp://h/x"}) {
    EXPECT_FALSE(valid_rtsp_url(bad)) << bad;
  }
  EXPECT_EQ(redact_url("rtsp://admin:pw@127.0.0.1/x"), "rtsp://***@127.0.0.1/x");
  EXPECT_EQ(redact_url("rtsp://127.0.0.1/x@y"), "rtsp://127.0.0.1/x@y");
}

// ---------------------------------------------------------------- a scripted H.264 source

// Real H.264 access units: a moving square, 160x96, 25 fps, a keyframe every `gop` frames.
struct Encoded {
  CodecInfo codec;
  std::vector<SourceUnit> units;
};

Encoded encode_h264(int frames, int gop) {
  Encoded out;
  const AVCodec* c = avcodec_find_encoder_by_name("libx264");
  if (!c) c = avcodec_find_encoder(AV_CODEC_ID_H264);
  EXPECT_NE(c, nullptr);
  AVCodecContext* ctx = avcodec_alloc_context3(c);
  ctx->width = 160;
  ctx->height = 96;
  ctx->pix_fmt = AV_PIX_FMT_YUV420P;
  ctx->time_base = {1, 25};
  ctx->gop_size = gop;
  ctx->max_b_frames = 0;
  AVDictionary* o = nullptr;
  av_dict_set(&o, "preset", "ultrafast", 0);
  av_dict_set(&o, "tune", "zerolatency", 0);
  EXPECT_EQ(avcodec_open2(ctx, c, &o), 0);
  av_dict_free(&o);
  AVCodecParameters* par = avcodec_parameters_alloc();
  avcodec_parameters_from_context(par, ctx);
  out.codec = CodecInfo(par);
  avcodec_parameters_free(&par);
  AVFrame* f = av_frame_alloc();
  f->format = ctx->pix_fmt;
  f->width = ctx->width;
  f->height = ctx->height;
  av_frame_get_buffer(f, 0);
  AVPacket* p = av_packet_alloc();
  auto drain = [&] {
    while (avcodec_receive_packet(ctx, p) == 0) {
      SourceUnit u;
      u.has_ts = true;
      u.pts_us = p->pts * 40000;
      u.dts_us = p->dts * 40000;
      u.key = (p->flags & AV_PKT_FLAG_KEY) != 0;
      u.packet = take_packet(p);
      out.units.push_back(std::move(u));
    }
  };
  for (int i = 0; i < frames; ++i) {
    av_frame_make_writable(f);
    for (int y = 0; y < ctx->height; ++y) {
      for (int x = 0; x < ctx->width; ++x) {
        bool square = x >= (i * 4) % 140 && x < (i * 4) % 140 + 20 && y >= 38 && y < 58;
        f->data[0][y * f->linesize[0] + x] = square ? 235 : 40;
      }
    }
    for (int y = 0; y < ctx->height / 2; ++y) {
      for (int x = 0; x < ctx->width / 2; ++x) {
        f->data[1][y * f->linesize[1] + x] = 128;
        f->data[2][y * f->linesize[2] + x] = 128;
      }
    }
    f->pts = i;
    f->pict_type = i % gop == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    avcodec_send_frame(ctx, f);
    drain();
  }
  avcodec_send_frame(ctx, nullptr);
  drain();
  av_packet_free(&p);
  av_frame_free(&f);
  avcodec_free_context(&ctx);
  return out;
}

// Plays the encoded units once, then fails like a camera that went away.
class ScriptedSource final : public Source {
 public:
  ScriptedSource(const Encoded& e, bool works) : e_(e), works_(works) {}
  Result<CodecInfo> open() override {
    if (!works_) return Error{ErrorKind::kUnavailable, "camera_unreachable", "connection refused", {}};
    return e_.codec;
  }
  Result<SourceUnit> read() override {
    if (stop_ || i_ >= e_.units.size()) return Error{ErrorKind::kUnavailable, "camera_unreachable", "ended", {}};
    return e_.units[i_++];
  }
  void interrupt() override { stop_ = true; }

 private:
  const Encoded& e_;
  bool works_;
  size_t i_ = 0;
  std::atomic<bool> stop_{false};
};

class FixedClock final : public Clock {
 public:
  TimeMs now_ms() const override { return 1'800'000'000'000; }
};

template <typename Fn>
bool eventually(Fn fn, int ms = 10000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return fn();
}

std::string temp_file(const std::string& name, const std::string& data) {
  fs::path p = fs::temp_directory_path() / ("mingchu-video-" + quick_random_hex(6) + "-" + name);
  std::ofstream(p, std::ios::binary) << data;
  return p.string();
}

TEST(Stream, LiveSegmentsFlvGopRingSnapshotAndClip) {
  static const Encoded enc = encode_h264(250, 25);  // 10 s, a keyframe every second
  ASSERT_GT(enc.units.size(), 200u);
  FixedClock clock;
  StreamOptions so;
  so.camera_id = "cam_test";
  so.quality = "hd";
  so.ring = std::chrono::seconds(30);
  so.backoff_min = std::chrono::milliseconds(50);
  int opens = 0;
  Stream s(so, clock, [&](const RtspOptions&) { return std::make_unique<ScriptedSource>(enc, opens++ == 0); });

  std::vector<Segment> hooked;
  std::mutex hm;
  s.source_output().set_segment_hook([&](const CodecInfo&, const Segment& seg) {
    std::lock_guard lk(hm);
    hooked.push_back(seg);
  });
  std::atomic<int> ready{0};
  s.when_ready(&s.source_output(), [&](Status st) { ready = st.ok() ? 1 : 2; },
               std::chrono::steady_clock::now() + std::chrono::seconds(10));
  auto flv = s.source_output().subscribe_flv(64 << 20);
  s.start();
  ASSERT_TRUE(eventually([&] { return ready.load() != 0; }));
  EXPECT_EQ(ready.load(), 1);
  // the script ends; the second open fails: the stream reports it
  ASSERT_TRUE(eventually([&] { return s.stats().state == "failed"; }));
  StreamStats st = s.stats();
  EXPECT_EQ(st.codec, "h264");
  EXPECT_EQ(st.width, 160);
  EXPECT_EQ(st.frames, enc.units.size());
  EXPECT_EQ(st.error, "connection refused");

  // live HLS: 1 s segments cut at keyframes, each a readable MPEG-TS starting with a keyframe
  auto playlist = s.source_output().playlist();
  ASSERT_TRUE(playlist.has_value());
  EXPECT_NE(playlist->find("#EXT-X-TARGETDURATION:1\n"), std::string::npos) << *playlist;
  {
    std::lock_guard lk(hm);
    ASSERT_GE(hooked.size(), 8u);
    for (const Segment& seg : hooked) {
      EXPECT_NEAR(static_cast<double>(seg.duration_us), 1e6, 1) << seg.seq;
      EXPECT_EQ(seg.wall_end_ms - seg.wall_start_ms, 1000) << seg.seq;  // wall times follow the timestamps
    }
    auto data = s.source_output().segment(hooked.back().seq);
    ASSERT_NE(data, nullptr);
    std::string f = temp_file("seg.ts", *data);
    CodecInfo c;
    auto units = read_ts_file(f, 0, &c);
    fs::remove(f);
    ASSERT_TRUE(units.ok()) << units.error().message;
    EXPECT_EQ(units->size(), 25u);
    EXPECT_TRUE(units->front().key);
    EXPECT_EQ(c.codec_name(), "h264");
  }
  // the FLV viewer got a header and every frame
  std::string bytes;
  while (auto b = flv->next(std::chrono::milliseconds(0))) bytes += *b;
  ASSERT_GT(bytes.size(), 1000u);
  EXPECT_EQ(bytes.substr(0, 3), "FLV");
  {
    std::string f = temp_file("live.flv", bytes);
    // reading it back with the TS reader must fail cleanly (wrong container), not crash
    EXPECT_FALSE(read_ts_file(f, 0, nullptr).ok());
    fs::remove(f);
  }

  // the last GOP decodes to a JPEG
  CodecInfo codec;
  auto gop = s.source_output().last_gop(&codec);
  ASSERT_FALSE(gop.empty());
  EXPECT_TRUE(gop.front().key);
  auto jpeg = keyframe_to_jpeg(codec, gop);
  ASSERT_TRUE(jpeg.ok()) << jpeg.error().message;
  EXPECT_EQ(static_cast<unsigned char>((*jpeg)[0]), 0xff);
  EXPECT_EQ(static_cast<unsigned char>((*jpeg)[1]), 0xd8);

  // the ring: a range starts at the keyframe at or before its start
  std::int64_t t0 = gop.front().wall_ms - 5000;
  auto range = s.source_output().ring_range(t0 + 500, t0 + 2500, &codec);
  ASSERT_FALSE(range.empty());
  EXPECT_TRUE(range.front().key);
  EXPECT_LE(range.front().wall_ms, t0 + 500);
  EXPECT_LE(range.back().wall_ms, t0 + 2500);
  std::string mp4 = (fs::temp_directory_path() / ("mingchu-clip-" + quick_random_hex(6) + ".mp4")).string();
  ASSERT_TRUE(write_mp4(mp4, codec, range).ok());
  EXPECT_GT(fs::file_size(mp4), 1000u);
  fs::remove(mp4);

  // a waiter after the source failed learns it at once
  std::atomic<int> late{0};
  LiveOutput empty(std::chrono::milliseconds(1000), 3, std::chrono::seconds(0));
  s.when_ready(&empty, [&](Status r) { late = r.ok() ? 1 : 2; }, std::chrono::steady_clock::now() + std::chrono::seconds(5));
  ASSERT_TRUE(eventually([&] { return late.load() != 0; }));
  EXPECT_EQ(late.load(), 2);
  s.stop();
}

TEST(ByteQueue, SlowViewerIsClosedNotBuffered) {
  ByteQueue q(100);
  EXPECT_TRUE(q.push(std::string(60, 'a')));
  EXPECT_FALSE(q.push(std::string(60, 'b')));
  EXPECT_TRUE(q.closed());
  EXPECT_FALSE(q.next(std::chrono::milliseconds(0)).has_value());
}

// ---------------------------------------------------------------- the recorder

class RecorderTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    db_ = storage::open_test_database(GetParam());
    root_ = fs::temp_directory_path() / ("mingchu-rec-" + quick_random_hex(6));
    storage::Conn c = db_->acquire();
    c->exec("INSERT INTO jurisdictions (id, parent_id, level, code, name, path, created_at) "
            "VALUES ('j1', NULL, 'province', '320000', 'p', '/j1/', 0)");
    c->exec("INSERT INTO units (id, jurisdiction_id, jpath, name, store_type, disclosure_token, created_at, updated_at) "
            "VALUES ('u1', 'j1', '/j1/', 'u', 'restaurant', 'tok1', 0, 0)");
    c->exec("INSERT INTO cameras (id, unit_id, jpath, name, area, created_at, updated_at, record, retention_days) "
            "VALUES ('cam1', 'u1', '/j1/', 'c', 'cooking', 0, 0, 'continuous', 15)");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::unique_ptr<storage::Database> db_;
  fs::path root_;
  Metrics metrics_;
};

std::vector<Segment> segments_of(const Encoded& enc) {
  // cut the script into 1 s segments the way a live output does
  std::vector<Segment> out;
  LiveOutput lo(std::chrono::milliseconds(1000), 100, std::chrono::seconds(0));
  lo.set_segment_hook([&](const CodecInfo&, const Segment& s) { out.push_back(s); });
  std::int64_t wall0 = 1'800'000'000'000;
  for (const auto& u : enc.units) {
    AccessUnit au{u.packet, u.dts_us, u.pts_us, wall0 + u.dts_us / 1000, u.key};
    lo.push(enc.codec, au);
  }
  return out;
}

TEST_P(RecorderTest, FilesAreIndexedOnlyWhenWholeAndACrashIsRecovered) {
  static const Encoded enc = encode_h264(250, 25);
  auto segs = segments_of(enc);
  ASSERT_GE(segs.size(), 9u);
  FixedClock clock;
  RecorderOptions ro;
  ro.root = root_;
  ro.node = "n1";
  ro.file_span = std::chrono::seconds(3);
  ro.min_free_bytes = 0;
  {
    Recorder rec(*db_, clock, metrics_, ro);
    for (size_t i = 0; i < 7; ++i) rec.append("cam1", "u1", "/j1/", segs[i]);
    rec.flush();
    // files of 3 s each are closed; the 7th segment opened a third file, still being written
    auto rows = rec.list("cam1", 0, INT64_MAX);
    ASSERT_EQ(rows.size(), 2u);
    for (const auto& r : rows) {
      EXPECT_TRUE(fs::exists(rec.path_of(r))) << r.path;
      EXPECT_EQ(static_cast<std::int64_t>(fs::file_size(rec.path_of(r))), r.bytes);
      EXPECT_EQ(r.end_at - r.start_at, 3000);  // three 1 s segments
    }
    auto [part, start] = rec.open_file("cam1");
    ASSERT_FALSE(part.empty());
    EXPECT_TRUE(fs::exists(part));
  }
  // the destructor closed the open file properly; simulate the crash by hand instead: a .part
  // whose last write was torn in the middle of a TS packet, and a row whose file is gone
  std::string rel_dir = "cam1/" + format_date(local_day(1'800'000'000'000));
  fs::create_directories(root_ / rel_dir);
  std::string torn = *segs[7].data + *segs[8].data;
  torn.resize(torn.size() - 100);  // not a multiple of 188 any more
  fs::path part = root_ / rel_dir / (std::to_string(segs[7].wall_start_ms) + "_n1.ts.part");
  std::ofstream(part, std::ios::binary) << torn;
  fs::path garbage = root_ / rel_dir / "1800000099000_n1.ts.part";
  std::ofstream(garbage, std::ios::binary) << std::string(500, 'x');
  {
    storage::Conn c = db_->acquire();
    c->exec("INSERT INTO recordings (id, camera_id, unit_id, jpath, start_at, end_at, bytes, sm3, path, node, created_at) "
            "VALUES ('rec_gone', 'cam1', 'u1', '/j1/', 1, 2, 3, 'x', 'cam1/none.ts', 'n1', $1)",
            {clock.now_ms()});
  }
  Recorder rec(*db_, clock, metrics_, ro);
  rec.recover();
  EXPECT_FALSE(fs::exists(part));
  EXPECT_FALSE(fs::exists(garbage)) << "nothing readable: discarded";
  EXPECT_FALSE(rec.get("rec_gone").has_value()) << "a row without its file is removed";
  auto rows = rec.list("cam1", 0, INT64_MAX);
  auto it = std::find_if(rows.begin(), rows.end(), [&](const RecordingRow& r) { return r.start_at == segs[7].wall_start_ms; });
  ASSERT_NE(it, rows.end());
  fs::path recovered = rec.path_of(*it);
  ASSERT_TRUE(fs::exists(recovered));
  EXPECT_EQ(fs::file_size(recovered) % 188, 0u);
  EXPECT_EQ(static_cast<std::int64_t>(fs::file_size(recovered)), it->bytes);
  EXPECT_GT(it->end_at - it->start_at, 1000) << "the recovered span comes from the frames it holds";
  auto units = read_ts_file(recovered.string(), it->start_at, nullptr);
  ASSERT_TRUE(units.ok());
  EXPECT_GT(units->size(), 25u);
}

TEST_P(RecorderTest, RetentionByDaysAndQuota) {
  static const Encoded enc = encode_h264(100, 25);
  auto segs = segments_of(enc);
  ASSERT_GE(segs.size(), 3u);
  FixedClock clock;
  RecorderOptions ro;
  ro.root = root_;
  ro.node = "n1";
  ro.file_span = std::chrono::seconds(1);
  ro.min_free_bytes = 0;
  Recorder rec(*db_, clock, metrics_, ro);
  for (const auto& s : segs) rec.append("cam1", "u1", "/j1/", s);
  rec.close_all();
  rec.flush();
  auto rows = rec.list("cam1", 0, INT64_MAX);
  ASSERT_EQ(rows.size(), segs.size());
  // nothing is older than 15 days (the fixed clock is at the recordings' time)
  EXPECT_EQ(rec.enforce_retention(), 0);
  // a quota smaller than two files: the oldest go first
  RecorderOptions small = ro;
  small.quota_bytes = static_cast<std::uint64_t>(rows.back().bytes) + 10;
  Recorder quota(*db_, clock, metrics_, small);
  EXPECT_EQ(quota.enforce_retention(), static_cast<int>(rows.size()) - 1);
  auto left = quota.list("cam1", 0, INT64_MAX);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, rows.back().id);
  EXPECT_FALSE(fs::exists(rec.path_of(rows.front())));
  // retention by days: the camera keeps 1 day, the clock moves 2 days on
  {
    storage::Conn c = db_->acquire();
    c->exec("UPDATE cameras SET retention_days = 1 WHERE id = 'cam1'");
  }
  class Later final : public Clock {
   public:
    TimeMs now_ms() const override { return 1'800'000'000'000 + 2 * kDayMs; }
  } later;
  Recorder aged(*db_, later, metrics_, ro);
  EXPECT_EQ(aged.enforce_retention(), 1);
  EXPECT_TRUE(aged.list("cam1", 0, INT64_MAX).empty());
}

INSTANTIATE_TEST_SUITE_P(Engines, RecorderTest, ::testing::ValuesIn(storage::test_engines()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace mingchu::video
