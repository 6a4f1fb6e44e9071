#include "files/multipart.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace mingchu::files {
namespace {

using namespace std::string_literals;

const std::string kBoundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
const std::string kHeader = "multipart/form-data; boundary=" + kBoundary;

// A body as Chrome sends it: a text field and a JPEG.
std::string browser_body() {
  return "--" + kBoundary +
         "\r\n"
         "Content-Disposition: form-data; name=\"unit_id\"\r\n"
         "\r\n"
         "unit_3f9a0c1d2e4b5a6f\r\n"
         "--" +
         kBoundary +
         "\r\n"
         "Content-Disposition: form-data; name=\"file\"; filename=\"后厨.jpg\"\r\n"
         "Content-Type: image/jpeg\r\n"
         "\r\n"
         "\xFF\xD8\xFF\xE0\r\n--not-the-boundary\r\n\x00\x01"s +
         "\r\n--" + kBoundary + "--\r\n";
}

Result<std::vector<MultipartPart>> parse(const std::string& body, size_t max_parts = 10) {
  return parse_multipart(kHeader, body, max_parts);
}

void expect_malformed(const Result<std::vector<MultipartPart>>& r, const std::string& what) {
  ASSERT_FALSE(r) << what;
  EXPECT_EQ(r.error().kind, ErrorKind::kMalformed) << what;
  EXPECT_EQ(r.error().code, "malformed_multipart") << what;
}

TEST(Multipart, ParsesABrowserBody) {
  auto r = parse(browser_body());
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  const auto& field = (*r)[0];
  EXPECT_EQ(field.name, "unit_id");
  EXPECT_FALSE(field.is_file);
  EXPECT_EQ(field.filename, "");
  EXPECT_EQ(field.content_type, "");
  EXPECT_EQ(field.data, "unit_3f9a0c1d2e4b5a6f");
  const auto& file = (*r)[1];
  EXPECT_EQ(file.name, "file");
  EXPECT_TRUE(file.is_file);
  EXPECT_EQ(file.filename, "后厨.jpg");
  EXPECT_EQ(file.content_type, "image/jpeg");
  EXPECT_EQ(file.data, "\xFF\xD8\xFF\xE0\r\n--not-the-boundary\r\n\x00\x01"s);
}

TEST(Multipart, ClosingBoundaryWithoutTrailingCrlf) {
  std::string body = browser_body();
  body.resize(body.size() - 2);
  ASSERT_TRUE(parse(body));
}

TEST(Multipart, QuotedBoundaryAndCaseInsensitiveNames) {
  std::string body =
      "--a b'c\r\ncontent-disposition: FORM-DATA; NAME=x\r\nCONTENT-TYPE: text/plain\r\n\r\nv\r\n--a b'c--";
  auto r = parse_multipart("Multipart/Form-Data ;  Boundary=\"a b'c\"", body, 10);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].name, "x");
  EXPECT_EQ((*r)[0].content_type, "text/plain");
  EXPECT_EQ((*r)[0].data, "v");
}

TEST(Multipart, EmptyPartsAndNoParts) {
  auto none = parse("--" + kBoundary + "--");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto empty_value =
      parse("--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\r\n--" + kBoundary + "--");
  ASSERT_TRUE(empty_value);
  ASSERT_EQ(empty_value->size(), 1u);
  EXPECT_EQ((*empty_value)[0].data, "");
}

TEST(Multipart, EmptyFilenameStillMarksAFileField) {
  auto r = parse("--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"\"\r\n\r\n\r\n--" +
                 kBoundary + "--");
  ASSERT_TRUE(r);
  EXPECT_TRUE((*r)[0].is_file);
  EXPECT_EQ((*r)[0].filename, "");
}

TEST(Multipart, UnknownPartHeadersAreIgnored) {
  auto r =
      parse("--" + kBoundary +
            "\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: binary\r\nX-Other: 1\r\n\r\n"
            "v\r\n--" +
            kBoundary + "--");
  ASSERT_TRUE(r) << r.error().message;
}

TEST(Multipart, TooManyParts) {
  std::string body;
  for (int i = 0; i < 3; ++i) {
    body += "--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"p" + std::to_string(i) + "\"\r\n\r\nx\r\n";
  }
  body += "--" + kBoundary + "--";
  EXPECT_TRUE(parse(body, 3));
  auto r = parse(body, 2);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kTooLarge);
  EXPECT_EQ(r.error().code, "too_many_parts");
  EXPECT_FALSE(parse(body, 0));
}

TEST(Multipart, RejectsBadContentTypeHeaders) {
  const std::string body = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--b--";
  ASSERT_TRUE(parse_multipart("multipart/form-data; boundary=b", body, 10));
  for (const std::string& h : std::vector<std::string>{
           "", "multipart/form-data", "multipart/mixed; boundary=b", "text/plain; boundary=b",
           "multipart/form-data; boundary=", "multipart/form-data; boundary=\"\"", "multipart/form-data; boundary=\"b",
           "multipart/form-data; boundary=" + std::string(71, 'b'), "multipart/form-data; boundary=\"b \"",
           "multipart/form-data; boundary=b;boundary=b", "multipart/form-data; boundary=\"b\\\"c\"",
           "multipart/form-data boundary=b", "multipart/form-data; =b", "multipart/form-data; boundary"}) {
    expect_malformed(parse_multipart(h, body, 10), h);
  }
  // The longest boundary RFC 2046 allows.
  std::string b70(70, 'b');
  EXPECT_TRUE(parse_multipart("multipart/form-data; boundary=" + b70,
                              "--" + b70 + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--" + b70 + "--",
                              10));
}

TEST(Multipart, RejectsMalformedBodies) {
  const std::string b = "--" + kBoundary;
  const std::string disp = "Content-Disposition: form-data; name=\"a\"\r\n";
  const std::pair<std::string, std::string> cases[] = {
      {"empty body", ""},
      {"preamble", "preamble\r\n" + b + "\r\n" + disp + "\r\nv\r\n" + b + "--"},
      {"no closing boundary", b + "\r\n" + disp + "\r\nv"},
      {"no closing boundary after CRLF", b + "\r\n" + disp + "\r\nv\r\n"},
      {"headers never end", b + "\r\n" + disp},
      {"bare LF line endings", b + "\n" + "Content-Disposition: form-data; name=\"a\"\n\nv\n" + b + "--"},
      {"LF after headers", b + "\r\n" + "Content-Disposition: form-data; name=\"a\"\n\nv\r\n" + b + "--"},
      {"no disposition", b + "\r\nContent-Type: text/plain\r\n\r\nv\r\n" + b + "--"},
      {"no headers at all", b + "\r\n\r\nv\r\n" + b + "--"},
      {"disposition not form-data", b + "\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n" + b + "--"},
      {"no name", b + "\r\nContent-Disposition: form-data; filename=\"a.jpg\"\r\n\r\nv\r\n" + b + "--"},
      {"empty name", b + "\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nv\r\n" + b + "--"},
      {"repeated name", b + "\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nv\r\n" + b + "--"},
      {"unterminated quote", b + "\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n" + b + "--"},
      {"two dispositions", b + "\r\n" + disp + disp + "\r\nv\r\n" + b + "--"},
      {"folded header", b + "\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\nv\r\n" + b + "--"},
      {"header without colon", b + "\r\n" + disp + "garbage\r\n\r\nv\r\n" + b + "--"},
      {"control char in header", b + "\r\n" + "Content-Disposition: form-data; name=\"a\x01\"\r\n\r\nv\r\n" + b + "--"},
      {"trailing junk on boundary line", b + "xyz\r\n" + disp + "\r\nv\r\n" + b + "--"},
      {"space after boundary", b + " \r\n" + disp + "\r\nv\r\n" + b + "--"},
      {"data after close", b + "\r\n" + disp + "\r\nv\r\n" + b + "--\r\nepilogue"},
      {"delimiter prefix of a longer line",
       b + "\r\n" + disp + "\r\nv\r\n" + b + "X\r\n" + disp + "\r\nw\r\n" + b + "--"},
      {"invalid UTF-8 name", b + "\r\nContent-Disposition: form-data; name=\"\xC3\x28\"\r\n\r\nv\r\n" + b + "--"},
      {"too many headers", b + "\r\n" + disp +
                               [] {
                                 std::string s;
                                 for (int i = 0; i < 16; ++i) s += "X-H: 1\r\n";
                                 return s;
                               }() +
                               "\r\nv\r\n" + b + "--"},
      {"header block too long", b + "\r\n" + disp + "X-Long: " + std::string(9000, 'a') + "\r\n\r\nv\r\n" + b + "--"},
  };
  for (const auto& [what, body] : cases) expect_malformed(parse(body), what);
}

TEST(Multipart, WindowsPathsAndTraversalInFilenames) {
  auto r = parse("--" + kBoundary +
                 "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"C:\\Users\\wang\\..\\photo.png\"\r\n\r\n"
                 "x\r\n--" +
                 kBoundary + "--");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)[0].filename, "photo.png");
}

TEST(SanitizeFilename, Basename) {
  EXPECT_EQ(sanitize_filename("a.jpg"), "a.jpg");
  EXPECT_EQ(sanitize_filename("/etc/passwd"), "passwd");
  EXPECT_EQ(sanitize_filename("../../etc/passwd"), "passwd");
  EXPECT_EQ(sanitize_filename("..\\..\\boot.ini"), "boot.ini");
  EXPECT_EQ(sanitize_filename("dir/"), "");
  EXPECT_EQ(sanitize_filename(""), "");
}

TEST(SanitizeFilename, DotsAndControls) {
  EXPECT_EQ(sanitize_filename(".."), "");
  EXPECT_EQ(sanitize_filename("..."), ".");
  EXPECT_EQ(sanitize_filename("...."), "");
  EXPECT_EQ(sanitize_filename("a..b.jpg"), "ab.jpg");
  EXPECT_EQ(sanitize_filename(".\x01."), "");  // a control char removed must not leave ".."
  EXPECT_EQ(sanitize_filename("a\r\nb\tc\x7f.jpg"), "abc.jpg");
  EXPECT_EQ(sanitize_filename("a\0b.jpg"s), "ab.jpg");
  EXPECT_EQ(sanitize_filename(".hidden"), ".hidden");
}

TEST(SanitizeFilename, UnicodeKeptInvalidDropped) {
  EXPECT_EQ(sanitize_filename("营业执照 正本.pdf"), "营业执照 正本.pdf");
  EXPECT_EQ(sanitize_filename("a\xC3\x28.jpg"), "a(.jpg");             // a stray lead byte is dropped
  EXPECT_EQ(sanitize_filename("a\xE5\xBC.jpg"), "a.jpg");              // truncated sequence
  EXPECT_EQ(sanitize_filename("a\xC0\xAF.jpg"), "a.jpg");              // overlong '/'
  EXPECT_EQ(sanitize_filename("a\xED\xA0\x80.jpg"), "a.jpg");          // surrogate
  EXPECT_EQ(sanitize_filename("photo\u202Egpj.exe"), "photogpj.exe");  // right-to-left override
  EXPECT_EQ(sanitize_filename("a\u0085b"), "ab");                      // C1 control (NEL)
}

TEST(SanitizeFilename, LengthCappedOnCharacterBoundary) {
  std::string name;
  for (int i = 0; i < 100; ++i) name += "汉";  // 300 bytes
  std::string s = sanitize_filename(name);
  EXPECT_LE(s.size(), 255u);
  EXPECT_EQ(s.size() % 3, 0u);
  EXPECT_EQ(s, name.substr(0, 255));
  EXPECT_EQ(sanitize_filename(std::string(300, 'a')).size(), 255u);
}

}  // namespace
}  // namespace mingchu::files
