// Small text helpers shared by the modules.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mingchu {

// The non-empty pieces of s between separators: ("/a/b/", '/') -> {"a", "b"}; "" -> {}.
std::vector<std::string> split_nonempty(std::string_view s, char sep);

}  // namespace mingchu
