// The GB/T 28181 wire formats: SIP parsing and responses, digest, TCP framing, MANSCDP (UTF-8 and
// GB2312, hostile documents), RTP, the PS demuxer (with and without PSM, split anywhere, garbage
// in between, frames over several PES) and the PTZ command bytes.
#include <random>

#include <gtest/gtest.h>

#include "sip/manscdp.hpp"
#include "sip/media_wire.hpp"
#include "sip/sip_message.hpp"

namespace mingchu::sip {
namespace {

const std::string kRegister =
    "REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bK1234\r\n"
    "From: <sip:34020000001320000001@3402000000>;tag=abc\r\n"
    "To: <sip:34020000001320000001@3402000000>\r\n"
    "Call-ID: 77@127.0.0.1\r\n"
    "CSeq: 2 REGISTER\r\n"
    "Contact: <sip:34020000001320000001@127.0.0.1:5070>\r\n"
    "Authorization: Digest username=\"34020000001320000001\", realm=\"3402000000\", nonce=\"n1\", "
    "uri=\"sip:34020000002000000001@3402000000\", response=\"0123\", algorithm=MD5\r\n"
    "Expires: 3600\r\n"
    "Content-Length: 0\r\n\r\n";

TEST(Sip, ParsesARegisterWithCredentials) {
  auto m = parse_sip(kRegister);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->request);
  EXPECT_EQ(m->method, "REGISTER");
  EXPECT_EQ(m->from_user, "34020000001320000001");
  EXPECT_EQ(m->from_tag, "abc");
  EXPECT_EQ(m->to_tag, "");
  EXPECT_EQ(m->cseq, 2u);
  EXPECT_EQ(m->cseq_method, "REGISTER");
  EXPECT_EQ(m->branch, "z9hG4bK1234");
  ASSERT_TRUE(m->expires);
  EXPECT_EQ(*m->expires, 3600);
  ASSERT_TRUE(m->auth);
  EXPECT_EQ(m->auth->username, "34020000001320000001");
  EXPECT_EQ(m->auth->realm, "3402000000");
  EXPECT_EQ(m->auth->nonce, "n1");
  EXPECT_EQ(m->auth->uri, "sip:34020000002000000001@3402000000");
}

TEST(Sip, ResponseKeepsTheTransactionAndAddsATag) {
  auto m = parse_sip(kRegister);
  ASSERT_TRUE(m);
  std::string r = build_response(*m, 401, "Unauthorized", "srvtag", {{"WWW-Authenticate", "Digest realm=\"x\""}});
  auto p = parse_sip(r);
  ASSERT_TRUE(p) << r;
  EXPECT_FALSE(p->request);
  EXPECT_EQ(p->status, 401);
  EXPECT_EQ(p->branch, "z9hG4bK1234");
  EXPECT_EQ(p->call_id, "77@127.0.0.1");
  EXPECT_EQ(p->cseq, 2u);
  EXPECT_EQ(p->from_tag, "abc");
  EXPECT_EQ(p->to_tag, "srvtag");
  EXPECT_EQ(p->www_realm, "x");
}

TEST(Sip, RefusesMalformedAndOversized) {
  for (std::string bad : {std::string("hello"), std::string("garbage that is not SIP at all\r\n\r\n"),
                          std::string("REGISTER sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n"),
                          std::string("MESSAGE sip:a@b SIP/2.0\r\nCSeq: 99999999999999 MESSAGE\r\n\r\n"),
                          std::string(kMaxMessageBytes + 1, 'A')}) {
    auto m = parse_sip(bad);
    ASSERT_FALSE(m) << bad.substr(0, 40);
    EXPECT_EQ(m.error().code, "bad_sip");
  }
  // no Call-ID
  std::string no_call = kRegister;
  no_call.erase(no_call.find("Call-ID"), std::string("Call-ID: 77@127.0.0.1\r\n").size());
  EXPECT_FALSE(parse_sip(no_call));
  // a negative Expires
  std::string neg = kRegister;
  neg.replace(neg.find("Expires: 3600"), 13, "Expires: -5");
  EXPECT_FALSE(parse_sip(neg));
}

TEST(Sip, FramesMessagesOnAStream) {
  std::string body = "<x/>";
  std::string msg = "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 4\r\n\r\n" + body;
  EXPECT_EQ(sip_frame_length(msg.substr(0, 10)), 0);
  EXPECT_EQ(sip_frame_length(msg.substr(0, msg.size() - 1)), 0);
  EXPECT_EQ(sip_frame_length(msg), static_cast<long>(msg.size()));
  EXPECT_EQ(sip_frame_length(msg + "MESSAGE"), static_cast<long>(msg.size()));
  EXPECT_EQ(sip_frame_length("MESSAGE sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabc"), 36);
  EXPECT_EQ(sip_frame_length("MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 99999999\r\n\r\n"), -1);
  EXPECT_EQ(sip_frame_length("MESSAGE sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n"), -1);
  EXPECT_EQ(sip_frame_length(std::string(kMaxMessageBytes + 10, 'a')), -1);
}

TEST(Digest, Rfc2617Example) {
  DigestCredentials c;
  c.username = "Mufasa";
  c.realm = "testrealm@host.com";
  c.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
  c.uri = "/dir/index.html";
  c.qop = "auth";
  c.nc = "00000001";
  c.cnonce = "0a4f113b";
  EXPECT_EQ(digest_response(c, "GET", "Circle Of Life"), "6629fae49393a05397450978507c4ef1");
  // without qop: MD5(HA1:nonce:HA2)
  c.qop.clear();
  std::string ha1 = md5_hex("Mufasa:testrealm@host.com:Circle Of Life");
  std::string ha2 = md5_hex("GET:/dir/index.html");
  EXPECT_EQ(digest_response(c, "GET", "Circle Of Life"), md5_hex(ha1 + ":" + c.nonce + ":" + ha2));
  EXPECT_NE(digest_response(c, "GET", "circle of life"), digest_response(c, "GET", "Circle Of Life"));
  EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
}

TEST(Manscdp, KeepaliveAndCatalogInUtf8) {
  auto k = parse_manscdp(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>43</SN>\r\n"
      "<DeviceID>34020000001320000001</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n");
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_EQ(k->root, "Notify");
  EXPECT_EQ(k->cmd_type, "Keepalive");
  EXPECT_EQ(k->sn, "43");
  EXPECT_EQ(k->device_id, "34020000001320000001");
  EXPECT_EQ(k->fields["Status"], "OK");
  auto c = parse_manscdp(
      "<?xml version=\"1.0\"?><Response><CmdType>Catalog</CmdType><SN>7</SN><DeviceID>1</DeviceID><SumNum>2</SumNum>"
      "<DeviceList Num=\"2\"><Item><DeviceID>34020000001310000001</DeviceID><Name>后厨 &amp; 凉菜</Name></Item>"
      "<Item><DeviceID>34020000001310000002</DeviceID><Name>b</Name><Info><X>deep</X></Info></Item></DeviceList>"
      "</Response>");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->items.size(), 2u);
  EXPECT_EQ(c->items[0]["DeviceID"], "34020000001310000001");
  EXPECT_EQ(c->items[0]["Name"], "后厨 & 凉菜");
  EXPECT_EQ(c->items[1]["Name"], "b");
  EXPECT_EQ(c->items[1].count("X"), 0u);
  EXPECT_EQ(c->fields["SumNum"], "2");
}

TEST(Manscdp, Gb2312BodiesBecomeUtf8) {
  // 模拟 in GB2312 is C4 A3 C4 E2
  std::string body =
      "<?xml version=\"1.0\" encoding=\"GB2312\"?><Response><CmdType>DeviceInfo</CmdType><SN>1</SN>"
      "<DeviceName>\xC4\xA3\xC4\xE2</DeviceName></Response>";
  auto x = parse_manscdp(body);
  ASSERT_TRUE(x) << x.error().message;
  EXPECT_EQ(x->fields["DeviceName"], "模拟");
  // no declaration, not UTF-8: read as GB18030 too
  auto y = parse_manscdp("<Response><CmdType>DeviceInfo</CmdType><DeviceName>\xC4\xA3\xC4\xE2</DeviceName></Response>");
  ASSERT_TRUE(y);
  EXPECT_EQ(y->fields["DeviceName"], "模拟");
  // an invalid byte is replaced, not a failure
  auto z = parse_manscdp("<?xml version=\"1.0\" encoding=\"GB2312\"?><R><CmdType>A</CmdType><N>\xFF\xFF</N></R>");
  ASSERT_TRUE(z);
  EXPECT_TRUE(valid_utf8(z->fields["N"]));
}

TEST(Manscdp, RefusesHostileDocuments) {
  std::string deep = "<a><CmdType>x</CmdType>";
  for (int i = 0; i < 20; ++i) deep += "<b>";
  for (int i = 0; i < 20; ++i) deep += "</b>";
  deep += "</a>";
  std::string many = "<Response><CmdType>Catalog</CmdType><DeviceList>";
  for (size_t i = 0; i <= kMaxItems; ++i) many += "<Item><DeviceID>1</DeviceID></Item>";
  many += "</DeviceList></Response>";
  for (const std::string& bad :
       {std::string(""), std::string("not xml"), std::string("<Notify><CmdType>Keepalive</CmdType><SN>1</Notify>"),
        std::string("<Notify><CmdType>Keepalive</CmdType>"), std::string("<Notify><SN>1</SN></Notify>"),
        std::string("<!DOCTYPE x [<!ENTITY a \"b\">]><Notify><CmdType>K</CmdType></Notify>"),
        std::string("<Notify><![CDATA[x]]><CmdType>K</CmdType></Notify>"),
        std::string("<a><CmdType>K</CmdType></a><b/>"), std::string("<a b=\"<\"><CmdType>K</CmdType></a>x"),
        std::string("<Notify><CmdType>K</CmdType><!-- open"), std::string("<Notify><Cmd$Type>K</Cmd$Type></Notify>"),
        deep, many}) {
    auto x = parse_manscdp(bad);
    EXPECT_FALSE(x) << bad.substr(0, 60);
    if (!x) {
      EXPECT_EQ(x.error().code, "bad_manscdp");
    }
  }
}

// An H.264 access unit with an SPS, PPS and IDR slice (enough for the demuxer; not decodable).
std::string h264_au(bool key, size_t size) {
  std::string au = std::string("\0\0\0\1\x09\xF0", 6);
  if (key) {
    au += std::string("\0\0\0\1\x67\x42\x00\x1E\xAB", 9);
    au += std::string("\0\0\0\1\x68\xCE\x38\x80", 8);
    au += std::string("\0\0\0\1\x65", 5);
  } else {
    au += std::string("\0\0\0\1\x41", 5);
  }
  while (au.size() < size) au += static_cast<char>(0x11 + au.size() % 200);
  return au;
}

std::vector<PsFrame> demux_all(const std::string& ps, size_t piece, PsDemuxer& d, bool markers = false) {
  std::vector<PsFrame> out;
  for (size_t pos = 0; pos < ps.size(); pos += piece) {
    size_t n = std::min(piece, ps.size() - pos);
    d.push(reinterpret_cast<const std::uint8_t*>(ps.data() + pos), n, out);
  }
  if (markers) d.end_of_frame(out);
  return out;
}

TEST(Manscdp, RecordInfoAnswerItemsAndTimes) {
  const std::string body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Response>\r\n<CmdType>RecordInfo</CmdType>\r\n<SN>17</SN>\r\n"
      "<DeviceID>34020000001310000001</DeviceID>\r\n<Name>ch1</Name>\r\n<SumNum>3</SumNum>\r\n"
      "<RecordList Num=\"2\">\r\n"
      "<Item><DeviceID>34020000001310000001</DeviceID><Name>a</Name><StartTime>2026-12-01T08:00:00</StartTime>"
      "<EndTime>2026-12-01T09:00:00</EndTime><Type>time</Type><FileSize>1000</FileSize></Item>\r\n"
      "<Item><DeviceID>34020000001310000001</DeviceID><Name>b</Name><StartTime>2026-12-01 09:00:00</StartTime>"
      "<EndTime>2026-12-01T10:00:00</EndTime><Type>alarm</Type></Item>\r\n"
      "</RecordList>\r\n</Response>\r\n";
  auto x = parse_manscdp(body);
  ASSERT_TRUE(x) << x.error().message;
  EXPECT_EQ(x->cmd_type, "RecordInfo");
  EXPECT_EQ(x->sn, "17");
  EXPECT_EQ(x->fields["SumNum"], "3");
  ASSERT_EQ(x->items.size(), 2u);
  EXPECT_EQ(x->items[0].at("StartTime"), "2026-12-01T08:00:00");
  EXPECT_EQ(x->items[1].at("Type"), "alarm");
  // local time at +08:00: 08:00 there is 00:00 UTC
  auto t = parse_manscdp_time(x->items[0].at("StartTime"), 480);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, 1'796'083'200'000);
  EXPECT_EQ(manscdp_time(*t, 480), "2026-12-01T08:00:00");
  EXPECT_EQ(manscdp_time(*t + 999, 0), "2026-12-01T00:00:00");
  EXPECT_EQ(parse_manscdp_time(x->items[1].at("StartTime"), 480), *t + 3'600'000);
}

TEST(Manscdp, RefusesBadTimes) {
  for (const char* s : {"", "2026-12-01", "2026-13-01T00:00:00", "2026-12-01T24:00:00", "2026-12-01T10:61:00",
                        "2026-12-01X10:00:00", "1969-12-31T23:59:59", "2026-12-01T10:00:0x", "yesterday at noon!!",
                        "2026-02-31T10:00:00", "2026-12-01T 1:00:00", "+026-12-01T10:00:00", "2026-12-01T10:00:60",
                        "2026-12-01T10:00:00 and then a very long tail of text"}) {
    EXPECT_FALSE(parse_manscdp_time(s, 480)) << s;
  }
  EXPECT_TRUE(parse_manscdp_time("2026-12-01T10:00:00Z", 480)) << "a zone letter after the seconds is ignored";
}

TEST(Ps, DemuxesFramesWithPsmInAnyPieces) {
  std::string ps;
  std::vector<std::string> aus;
  for (int i = 0; i < 6; ++i) {
    aus.push_back(h264_au(i % 3 == 0, 500 + 3000 * i));
    ps += ps_pack(aus.back(), 90000 + 3600 * i, i % 3 == 0, kStreamH264, true);
  }
  for (size_t piece : {1u, 7u, 1400u, 100000u}) {
    PsDemuxer d;
    auto out = demux_all(ps, piece, d, true);
    ASSERT_EQ(out.size(), 6u) << "piece " << piece;
    for (int i = 0; i < 6; ++i) {
      EXPECT_EQ(out[i].data, aus[i]);
      EXPECT_EQ(out[i].pts90, 90000 + 3600 * i);
      EXPECT_EQ(out[i].key, i % 3 == 0);
      EXPECT_EQ(out[i].stream_type, kStreamH264);
    }
    EXPECT_EQ(d.psm_stream_type(), kStreamH264);
    EXPECT_EQ(d.errors(), 0u);
  }
}

TEST(Ps, FramesOverSeveralPesAndNoPsm) {
  std::string big = h264_au(true, 200000);  // four PES packets
  std::string ps = ps_pack(big, 1000, true, kStreamH264, false) + ps_pack(h264_au(false, 100), 4600, false, 0, false);
  PsDemuxer d;
  auto out = demux_all(ps, 1500, d, true);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].data, big);
  EXPECT_TRUE(out[0].key);
  EXPECT_EQ(out[0].stream_type, kStreamH264);  // sniffed: no PSM
  EXPECT_EQ(d.psm_stream_type(), 0);
}

TEST(Ps, SniffsH265AndItsKeyframes) {
  std::string vps = std::string("\0\0\0\1\x40\x01\x0C", 7), sps = std::string("\0\0\0\1\x42\x01\x01", 7);
  std::string pps = std::string("\0\0\0\1\x44\x01\xC1", 7), idr = std::string("\0\0\0\1\x26\x01\xAF", 7);
  std::string au = vps + sps + pps + idr;
  EXPECT_EQ(sniff_video_codec(au), kStreamH265);
  EXPECT_TRUE(is_keyframe(au, true));
  EXPECT_FALSE(is_keyframe(std::string("\0\0\0\1\x02\x01\xAF", 7), true));
  EXPECT_EQ(parameter_sets(au, true), vps + sps + pps);
  EXPECT_EQ(sniff_video_codec(h264_au(true, 50)), kStreamH264);
  EXPECT_EQ(parameter_sets(h264_au(true, 10), false).size(), 9u + 8u);
  PsDemuxer d;
  auto out = demux_all(ps_pack(au, 7, true, kStreamH265, true), 100, d, true);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].stream_type, kStreamH265);
  EXPECT_TRUE(out[0].key);
}

TEST(Ps, GarbageBetweenPacksIsSkippedAndCounted) {
  std::mt19937 rng(7);
  std::string ps;
  for (int i = 0; i < 5; ++i) {
    ps += ps_pack(h264_au(i == 0, 800), 3600 * i, i == 0, kStreamH264, true);
    std::string junk(97, '\0');
    for (char& c : junk) c = static_cast<char>(rng() % 0xB0);  // no 00 00 01 Bx-Ex codes of their own
    ps += junk;
  }
  PsDemuxer d;
  auto out = demux_all(ps, 333, d, true);
  EXPECT_EQ(out.size(), 5u);
  EXPECT_GT(d.errors(), 0u);
  // random bytes only: nothing comes out, nothing breaks
  PsDemuxer r;
  std::string noise(100000, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  for (const auto& f : demux_all(noise, 1400, r, true)) EXPECT_FALSE(f.data.empty());
}

TEST(Rtp, ParsesHeadersAndRefusesGarbage) {
  std::uint8_t p[40] = {0x80, 0xE0, 0x00, 0x07, 0, 0, 0x0E, 0x10, 0x05, 0xF5, 0xE1, 0x00};
  for (int i = 12; i < 40; ++i) p[i] = static_cast<std::uint8_t>(i);
  auto r = parse_rtp(p, sizeof p);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->marker);
  EXPECT_EQ(r->payload_type, 96);
  EXPECT_EQ(r->seq, 7);
  EXPECT_EQ(r->timestamp, 3600u);
  EXPECT_EQ(r->ssrc, 100000000u);
  EXPECT_EQ(r->payload_size, 28u);
  EXPECT_EQ(r->payload[0], 12);
  // one CSRC, an extension of one word, 4 bytes of padding
  std::uint8_t q[40] = {0xB1, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xBE, 0xDE, 0, 1, 9, 9, 9, 9};
  q[39] = 4;
  auto s = parse_rtp(q, sizeof q);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->payload_size, 40u - 24u - 4u);
  EXPECT_FALSE(parse_rtp(p, 11));
  std::uint8_t v1[20] = {0x40};
  EXPECT_FALSE(parse_rtp(v1, 20));
  std::uint8_t badpad[13] = {0xA0};
  badpad[12] = 200;
  EXPECT_FALSE(parse_rtp(badpad, 13));
  std::uint8_t badext[14] = {0x90};
  EXPECT_FALSE(parse_rtp(badext, 14));
}

TEST(Ptz, EightBytesWithChecksum) {
  EXPECT_EQ(ptz_command(PtzAction::kUp, 100), "A50F010800640021");
  EXPECT_EQ(ptz_command(PtzAction::kLeft, 50), "A50F0102320000E9");
  EXPECT_EQ(ptz_command(PtzAction::kPresetCall, 0, 3), "A50F01820003003A");
  EXPECT_EQ(ptz_command(PtzAction::kStop, 0), "A50F0100000000B5");
  EXPECT_EQ(ptz_command(PtzAction::kZoomIn, 255).substr(0, 14), "A50F01100000F0");
  EXPECT_EQ(ptz_command(PtzAction::kZoomOut, 16).substr(0, 14), "A50F0120000010");
  EXPECT_EQ(ptz_command(PtzAction::kRight, 999).substr(6, 4), "01FF");  // clamped
  EXPECT_EQ(ptz_command(PtzAction::kDown, 1).substr(6, 6), "040001");
}

}  // namespace
}  // namespace mingchu::sip
