#include "disclosure/qr.hpp"

#include <zlib.h>

#include <cstdint>

#include <gtest/gtest.h>

namespace mingchu::disclosure {
namespace {

std::uint32_t u32(const std::string& s, size_t at) {
  return (std::uint32_t{static_cast<unsigned char>(s[at])} << 24) |
         (std::uint32_t{static_cast<unsigned char>(s[at + 1])} << 16) |
         (std::uint32_t{static_cast<unsigned char>(s[at + 2])} << 8) |
         std::uint32_t{static_cast<unsigned char>(s[at + 3])};
}

struct Png {
  std::uint32_t width = 0, height = 0;
  std::string pixels;  // inflated IDAT: per row a filter byte and the 1-bit pixels
  std::vector<std::string> chunks;
};

// A strict reader of what qr_png writes: every chunk's CRC checked, IDAT inflated by zlib.
Png read_png(const std::string& png) {
  Png out;
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n"));
  std::string idat;
  for (size_t at = 8; at + 12 <= png.size();) {
    std::uint32_t len = u32(png, at);
    std::string type = png.substr(at + 4, 4);
    EXPECT_LE(at + 12 + len, png.size());
    std::string body = png.substr(at + 4, 4 + len);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    EXPECT_EQ(u32(png, at + 8 + len), static_cast<std::uint32_t>(crc)) << type;
    out.chunks.push_back(type);
    if (type == "IHDR") {
      out.width = u32(png, at + 8);
      out.height = u32(png, at + 12);
      EXPECT_EQ(png[at + 16], 1);  // bit depth
      EXPECT_EQ(png[at + 17], 0);  // greyscale
    }
    if (type == "IDAT") idat += png.substr(at + 8, len);
    at += 12 + len;
  }
  size_t row = (out.width + 7) / 8 + 1;
  out.pixels.resize(row * out.height);
  uLongf size = static_cast<uLongf>(out.pixels.size());
  EXPECT_EQ(uncompress(reinterpret_cast<Bytef*>(out.pixels.data()), &size, reinterpret_cast<const Bytef*>(idat.data()),
                       static_cast<uLong>(idat.size())),
            Z_OK);
  EXPECT_EQ(size, out.pixels.size());
  return out;
}

bool dark(const Png& p, std::uint32_t x, std::uint32_t y) {
  size_t row = (p.width + 7) / 8 + 1;
  auto byte = static_cast<unsigned char>(p.pixels[y * row + 1 + x / 8]);
  return (byte & (0x80 >> (x % 8))) == 0;
}

TEST(QrPng, IsAValidCompressedPngWithQuietZoneAndFinderPatterns) {
  auto png = qr_png("http://127.0.0.1:8080/public/units/abcdefghijklmnop", 4);
  ASSERT_TRUE(png);
  Png p = read_png(*png);
  EXPECT_EQ(p.chunks, (std::vector<std::string>{"IHDR", "IDAT", "IEND"}));
  ASSERT_EQ(p.width, p.height);
  ASSERT_EQ(p.width % 4, 0u);
  std::uint32_t modules = p.width / 4;
  EXPECT_GE(modules, 21u + 8u);
  // quiet zone white; the top-left finder pattern: dark ring, light ring, dark centre
  EXPECT_FALSE(dark(p, 0, 0));
  EXPECT_FALSE(dark(p, 15, 15));
  EXPECT_TRUE(dark(p, 16, 16));            // module (0, 0) of the code
  EXPECT_FALSE(dark(p, 16 + 4, 16 + 4));   // module (1, 1)
  EXPECT_TRUE(dark(p, 16 + 12, 16 + 12));  // module (3, 3)
  EXPECT_FALSE(dark(p, p.width - 1, p.height - 1));
  for (std::uint32_t y = 0; y < p.height; ++y) EXPECT_EQ(p.pixels[y * ((p.width + 7) / 8 + 1)], 0) << "filter";
  // compressed: far smaller than the raw rows
  EXPECT_LT(png->size(), p.pixels.size() / 4);
}

TEST(QrPng, RefusesTextTooLongAndBadScales) {
  EXPECT_FALSE(qr_png(std::string(8000, 'x')));
  EXPECT_FALSE(qr_png("x", 0));
  EXPECT_FALSE(qr_png("x", 33));
  EXPECT_TRUE(qr_png("x", 1));
}

}  // namespace
}  // namespace mingchu::disclosure
