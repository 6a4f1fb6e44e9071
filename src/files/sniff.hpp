// Content type of an upload, decided by its leading bytes (magic numbers) and never by its
// name or by what the client claims: a text file called photo.jpg is not an image.
//
// Pure function, safe from any thread; never fails, answers nullopt for anything it does not
// recognise.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mingchu::files {

inline constexpr std::string_view kJpeg = "image/jpeg";
inline constexpr std::string_view kPng = "image/png";
inline constexpr std::string_view kWebp = "image/webp";
inline constexpr std::string_view kPdf = "application/pdf";

// image/jpeg: FF D8 FF; image/png: 89 50 4E 47 0D 0A 1A 0A; image/webp: "RIFF" + 4 size
// bytes + "WEBP"; application/pdf: "%PDF-". Anything else: nullopt.
std::optional<std::string> sniff_content_type(std::string_view bytes);

}  // namespace mingchu::files
