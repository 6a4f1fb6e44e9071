// QR codes of a unit's public page as PNG images (the QR download of the console, the sticker
// at the kitchen door). libqrencode draws the code; zlib compresses and checksums the PNG.
//
// Pure functions; thread safe.
#pragma once

#include <optional>
#include <string>

namespace mingchu::disclosure {

// A 1-bit greyscale PNG of the QR code (error correction level M) for text: `scale` pixels
// per module and a 4-module quiet zone. nullopt when libqrencode refuses (text too long for
// any version) or scale is outside 1..32.
std::optional<std::string> qr_png(const std::string& text, int scale = 8);

}  // namespace mingchu::disclosure
