#include "files/sniff.hpp"

#include <string>

#include <gtest/gtest.h>

namespace mingchu::files {
namespace {

using namespace std::string_literals;

TEST(Sniff, RecognisesEachMagic) {
  EXPECT_EQ(sniff_content_type("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"s), "image/jpeg");
  EXPECT_EQ(sniff_content_type("\xFF\xD8\xFF"s), "image/jpeg");
  EXPECT_EQ(sniff_content_type("\x89PNG\r\n\x1A\n\x00\x00\x00\x0DIHDR"s), "image/png");
  EXPECT_EQ(sniff_content_type("RIFF\x24\x00\x00\x00WEBPVP8 "s), "image/webp");
  EXPECT_EQ(sniff_content_type("RIFF\x00\x00\x00\x00WEBP"s), "image/webp");
  EXPECT_EQ(sniff_content_type("%PDF-1.7\n"s), "application/pdf");
}

TEST(Sniff, RefusesEverythingElse) {
  EXPECT_EQ(sniff_content_type(""), std::nullopt);
  EXPECT_EQ(sniff_content_type("hello, I am a text file named photo.jpg"), std::nullopt);
  EXPECT_EQ(sniff_content_type("\xFF\xD8"s), std::nullopt);                      // truncated JPEG magic
  EXPECT_EQ(sniff_content_type("\x89PNG\r\n\x1A"s), std::nullopt);               // truncated PNG magic
  EXPECT_EQ(sniff_content_type("\x89PNG\n\x1A\n\n"s), std::nullopt);             // line-ending mangled PNG
  EXPECT_EQ(sniff_content_type("RIFF\x24\x00\x00\x00WAVEfmt "s), std::nullopt);  // a RIFF that is audio
  EXPECT_EQ(sniff_content_type("RIFF\x24\x00\x00\x00WEB"s), std::nullopt);
  EXPECT_EQ(sniff_content_type("GIF89a"), std::nullopt);
  EXPECT_EQ(sniff_content_type("<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), std::nullopt);
  EXPECT_EQ(sniff_content_type("%PDF"), std::nullopt);
  EXPECT_EQ(sniff_content_type(" %PDF-1.4"), std::nullopt);  // magic must be at offset 0
  EXPECT_EQ(sniff_content_type("MZ\x90\x00"s), std::nullopt);
}

}  // namespace
}  // namespace mingchu::files
