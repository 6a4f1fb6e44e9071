#include "disclosure/qr.hpp"

#include <qrencode.h>
#include <zlib.h>

#include <cstdint>
#include <memory>

namespace mingchu::disclosure {
namespace {

void put_u32(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

// length, type, data, CRC-32 of type and data (PNG 5.3)
void put_chunk(std::string& png, const char* type, const std::string& data) {
  put_u32(png, static_cast<std::uint32_t>(data.size()));
  std::string body = std::string(type, 4) + data;
  png += body;
  uLong crc = ::crc32(0L, Z_NULL, 0);
  crc = ::crc32(crc, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  put_u32(png, static_cast<std::uint32_t>(crc));
}

std::optional<std::string> zlib_compress(const std::string& raw) {
  uLongf size = ::compressBound(static_cast<uLong>(raw.size()));
  std::string z(size, '\0');
  if (::compress2(reinterpret_cast<Bytef*>(z.data()), &size, reinterpret_cast<const Bytef*>(raw.data()),
                  static_cast<uLong>(raw.size()), Z_BEST_COMPRESSION) != Z_OK) {
    return std::nullopt;
  }
  z.resize(size);
  return z;
}

}  // namespace

std::optional<std::string> qr_png(const std::string& text, int scale) {
  if (scale < 1 || scale > 32) return std::nullopt;
  std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1),
                                                     &QRcode_free);
  if (!qr) return std::nullopt;
  const int modules = qr->width + 8;
  const int px = modules * scale;
  const size_t row_bytes = (static_cast<size_t>(px) + 7) / 8;
  std::string raw;
  raw.reserve((row_bytes + 1) * static_cast<size_t>(px));
  for (int y = 0; y < px; ++y) {
    raw.push_back('\0');                 // filter: none
    std::string row(row_bytes, '\xFF');  // white
    int my = y / scale - 4;
    for (int x = 0; x < px; ++x) {
      int mx = x / scale - 4;
      bool dark = my >= 0 && my < qr->width && mx >= 0 && mx < qr->width && (qr->data[my * qr->width + mx] & 1);
      if (dark) {
        row[static_cast<size_t>(x) / 8] = static_cast<char>(row[static_cast<size_t>(x) / 8] & ~(0x80 >> (x % 8)));
      }
    }
    raw += row;
  }
  auto idat = zlib_compress(raw);
  if (!idat) return std::nullopt;
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  put_u32(ihdr, static_cast<std::uint32_t>(px));
  put_u32(ihdr, static_cast<std::uint32_t>(px));
  ihdr += std::string("\x01\x00\x00\x00\x00", 5);  // bit depth 1, greyscale, deflate, no filter, no interlace
  put_chunk(png, "IHDR", ihdr);
  put_chunk(png, "IDAT", *idat);
  put_chunk(png, "IEND", "");
  return png;
}

}  // namespace mingchu::disclosure
