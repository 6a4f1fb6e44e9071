#include "files/sniff.hpp"

namespace mingchu::files {

std::optional<std::string> sniff_content_type(std::string_view b) {
  using namespace std::string_view_literals;
  if (b.starts_with("\xFF\xD8\xFF"sv)) return std::string(kJpeg);
  if (b.starts_with("\x89PNG\r\n\x1A\n"sv)) return std::string(kPng);
  if (b.size() >= 12 && b.starts_with("RIFF"sv) && b.substr(8, 4) == "WEBP"sv) return std::string(kWebp);
  if (b.starts_with("%PDF-"sv)) return std::string(kPdf);
  return std::nullopt;
}

}  // namespace mingchu::files
