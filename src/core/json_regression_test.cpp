// Regression tests for bugs the JSON fuzz target (core/json_fuzz.cpp) found.
#include <gtest/gtest.h>

#include "core/json.hpp"

namespace mingchu {
namespace {

// json_fuzz, crash-0e0fd4f8: {"risk_class":300000000000000000000} parses as a double too
// large for int64; opt_int cast it to int64 before checking the range (undefined behaviour,
// caught by UBSan's float-cast-overflow). It must be an ordinary wrong_type failure.
TEST(JsonRegression, OptIntWithADoubleBeyondInt64IsWrongTypeNotUndefinedBehaviour) {
  for (const char* text : {R"({"n":300000000000000000000})", R"({"n":-300000000000000000000})", R"({"n":1e300})",
                           R"({"n":-1e300})", R"({"n":9.3e18})", R"({"n":1.5})"}) {
    auto obj = parse_object(text);
    ASSERT_TRUE(obj) << text;
    ObjectReader r(*obj);
    EXPECT_FALSE(r.opt_int("n", 1, 3)) << text;
    auto st = r.finish();
    ASSERT_FALSE(st) << text;
    EXPECT_EQ(st.error().code, "wrong_type") << text;
  }
}

TEST(JsonRegression, OptIntStillAcceptsIntegralDoubles) {
  auto obj = parse_object(R"({"a":2.0,"b":-4e3})");
  ASSERT_TRUE(obj);
  ObjectReader r(*obj);
  EXPECT_EQ(r.opt_int("a", 1, 3), 2);
  EXPECT_EQ(r.opt_int("b", -5000, 0), -4000);
  EXPECT_TRUE(r.finish());
}

}  // namespace
}  // namespace mingchu
