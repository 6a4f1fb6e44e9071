#include "core/validate.hpp"

#include <string>

#include <gtest/gtest.h>

#include "core/time.hpp"

namespace mingchu {
namespace {

// Codes published by their holders (checked by hand against the GB 32100 algorithm too):
// the GB 32100-2015 example, and three large companies' public registrations.
TEST(Uscc, AcceptsPublishedCodes) {
  EXPECT_TRUE(valid_uscc("91350100M000100Y43"));
  EXPECT_TRUE(valid_uscc("91110000600037341L"));
  EXPECT_TRUE(valid_uscc("91440300708461136T"));
  EXPECT_TRUE(valid_uscc("91310000132200821H"));
}

TEST(Uscc, RejectsWrongCheckCharacter) {
  EXPECT_FALSE(valid_uscc("91350100M000100Y44"));
  EXPECT_FALSE(valid_uscc("91110000600037341K"));
  EXPECT_FALSE(valid_uscc("91440300708461136U"));
}

TEST(Uscc, RejectsSingleCharacterChanges) {
  const std::string good = "91350100M000100Y43";
  const std::string alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  // Weights 3^i mod 31 are all non-zero mod the prime 31, so any single substitution is caught.
  for (size_t i = 0; i < 17; ++i) {
    for (char c : alphabet) {
      if (c == good[i]) continue;
      std::string bad = good;
      bad[i] = c;
      EXPECT_FALSE(valid_uscc(bad)) << bad;
    }
  }
}

TEST(Uscc, RejectsBadShape) {
  EXPECT_FALSE(valid_uscc(""));
  EXPECT_FALSE(valid_uscc("91350100M000100Y4"));
  EXPECT_FALSE(valid_uscc("91350100M000100Y433"));
  EXPECT_FALSE(valid_uscc("91350100m000100Y43"));  // lower case is not canonical
  EXPECT_FALSE(valid_uscc(" 91350100M000100Y43"));
  // Letters I, O, S, V, Z are not in the alphabet even with a matching check.
  for (char c : std::string("IOSVZ")) {
    std::string bad = "91350100M000100Y43";
    bad[8] = c;
    EXPECT_FALSE(valid_uscc(bad)) << bad;
  }
  // The division code part must be digits.
  std::string letters_in_division = uscc_with_check_digit("9135A100M000100Y4");
  ASSERT_EQ(letters_in_division.size(), 18u);
  EXPECT_FALSE(valid_uscc(letters_in_division));
}

TEST(Uscc, WithCheckDigitMakesValidCodes) {
  EXPECT_EQ(uscc_with_check_digit("91350100M000100Y4"), "91350100M000100Y43");
  EXPECT_EQ(uscc_with_check_digit("91110000600037341"), "91110000600037341L");
  std::string made = uscc_with_check_digit("92320602MA1XYZ0Q1");
  EXPECT_TRUE(made.empty());  // Z is not in the alphabet
  made = uscc_with_check_digit("92320602MA1XY0Q12");
  ASSERT_EQ(made.size(), 18u);
  EXPECT_TRUE(valid_uscc(made));
}

TEST(Uscc, CheckValueZeroIsWrittenAsZero) {
  // Search the last position for a prefix whose check is 31 -> '0'.
  const std::string alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  bool found = false;
  for (char c : alphabet) {
    std::string first17 = "9132060200000000";
    first17.push_back(c);
    std::string code = uscc_with_check_digit(first17);
    if (code.back() == '0') {
      found = true;
      EXPECT_TRUE(valid_uscc(code));
    }
  }
  EXPECT_TRUE(found);
}

TEST(Uscc, WithCheckDigitRejectsBadInput) {
  EXPECT_EQ(uscc_with_check_digit(""), "");
  EXPECT_EQ(uscc_with_check_digit("9135010"), "");
  EXPECT_EQ(uscc_with_check_digit("91350100I000100Y4"), "");
}

// Examples printed in GB 11643-1999 itself.
TEST(IdNumber, AcceptsStandardExamples) {
  EXPECT_TRUE(valid_id_number("11010519491231002X"));
  EXPECT_TRUE(valid_id_number("440524188001010014"));
}

TEST(IdNumber, RejectsWrongCheck) {
  EXPECT_FALSE(valid_id_number("110105194912310021"));
  EXPECT_FALSE(valid_id_number("440524188001010015"));
  EXPECT_FALSE(valid_id_number("320602199001011234"));  // the masking example; its check is X
  EXPECT_TRUE(valid_id_number("32060219900101123X"));
}

TEST(IdNumber, LowerCaseXIsNotCanonical) { EXPECT_FALSE(valid_id_number("11010519491231002x")); }

TEST(IdNumber, RejectsImpossibleDates) {
  EXPECT_FALSE(valid_id_number(id_number_with_check("32060219900230123")));  // 30 Feb
  EXPECT_FALSE(valid_id_number(id_number_with_check("32060219901301123")));  // month 13
  EXPECT_FALSE(valid_id_number(id_number_with_check("32060219900100123")));  // day 0
  EXPECT_FALSE(valid_id_number(id_number_with_check("32060218490101123")));  // before 1850
  EXPECT_FALSE(valid_id_number(id_number_with_check("32060221000101123")));  // 2100
  EXPECT_TRUE(valid_id_number(id_number_with_check("32060220000229123")));   // leap day 2000
  EXPECT_FALSE(valid_id_number(id_number_with_check("32060219000229123")));  // 1900 not leap
}

TEST(IdNumber, RejectsUnknownProvince) {
  EXPECT_FALSE(valid_id_number(id_number_with_check("00060219900101123")));
  EXPECT_FALSE(valid_id_number(id_number_with_check("10060219900101123")));
  EXPECT_FALSE(valid_id_number(id_number_with_check("99060219900101123")));
  EXPECT_TRUE(valid_id_number(id_number_with_check("81000019900101123")));
}

TEST(IdNumber, RefusesBirthAfterToday) {
  auto today = parse_date("2026-11-22");
  ASSERT_TRUE(today);
  std::string born_today = id_number_with_check("32060220261122123");
  std::string born_tomorrow = id_number_with_check("32060220261123123");
  EXPECT_TRUE(valid_id_number(born_today, *today));
  EXPECT_FALSE(valid_id_number(born_tomorrow, *today));
  EXPECT_TRUE(valid_id_number(born_tomorrow));  // no clock given: only the calendar check
}

TEST(IdNumber, RejectsBadShape) {
  EXPECT_FALSE(valid_id_number(""));
  EXPECT_FALSE(valid_id_number("11010519491231002"));
  EXPECT_FALSE(valid_id_number("11010519491231002XX"));
  EXPECT_FALSE(valid_id_number("1101051949123100AX"));
  EXPECT_FALSE(valid_id_number("110105491231002"));  // old 15-digit numbers are not accepted
}

TEST(IdNumber, WithCheck) {
  EXPECT_EQ(id_number_with_check("11010519491231002"), "11010519491231002X");
  EXPECT_EQ(id_number_with_check("44052418800101001"), "440524188001010014");
  EXPECT_EQ(id_number_with_check("1101051949123100A"), "");
  EXPECT_EQ(id_number_with_check("110105"), "");
}

TEST(Phone, Mobile) {
  EXPECT_TRUE(valid_phone("13812345678"));
  EXPECT_TRUE(valid_phone("19912345678"));
  EXPECT_TRUE(valid_phone("15012345678"));
  EXPECT_FALSE(valid_phone("12812345678"));   // 12x is not a mobile prefix
  EXPECT_FALSE(valid_phone("1381234567"));    // 10 digits
  EXPECT_FALSE(valid_phone("138123456789"));  // 12 digits
  EXPECT_FALSE(valid_phone("+8613812345678"));
  EXPECT_FALSE(valid_phone("138 1234 5678"));
  EXPECT_FALSE(valid_phone("1381234567a"));
}

TEST(Phone, Landline) {
  EXPECT_TRUE(valid_phone("0513-12345678"));
  EXPECT_TRUE(valid_phone("051312345678"));
  EXPECT_TRUE(valid_phone("0513-2345678"));  // 7-digit subscriber number
  EXPECT_TRUE(valid_phone("010-87654321"));
  EXPECT_TRUE(valid_phone("01087654321"));
  EXPECT_TRUE(valid_phone("021-62345678"));
  EXPECT_FALSE(valid_phone("0513-02345678"));  // subscriber numbers do not start with 0
  EXPECT_FALSE(valid_phone("051302345678"));
  EXPECT_FALSE(valid_phone("0513-123456"));     // too short
  EXPECT_FALSE(valid_phone("0513-123456789"));  // too long
  EXPECT_FALSE(valid_phone("011-87654321"));    // no 011 area code
  EXPECT_FALSE(valid_phone("0513--12345678"));
  EXPECT_FALSE(valid_phone("0513-"));
  EXPECT_FALSE(valid_phone("0"));
  EXPECT_FALSE(valid_phone(""));
  EXPECT_FALSE(valid_phone("05a3-12345678"));
}

TEST(DivisionCode, Shape) {
  EXPECT_TRUE(valid_division_code("320602"));  // 南通市崇川区
  EXPECT_TRUE(valid_division_code("110000"));
  EXPECT_TRUE(valid_division_code("820000"));
  EXPECT_TRUE(valid_division_code("420100"));
  EXPECT_FALSE(valid_division_code("000000"));
  EXPECT_FALSE(valid_division_code("100000"));
  EXPECT_FALSE(valid_division_code("830000"));
  EXPECT_FALSE(valid_division_code("990000"));
  EXPECT_FALSE(valid_division_code("24000"));
  EXPECT_FALSE(valid_division_code("3206021"));
  EXPECT_FALSE(valid_division_code("32060a"));
  EXPECT_FALSE(valid_division_code(""));
}

TEST(Licence, FoodBusinessLicence) {
  EXPECT_TRUE(valid_licence_number("JY23206020012345"));
  EXPECT_FALSE(valid_licence_number("JY2320602001234"));    // 13 digits
  EXPECT_FALSE(valid_licence_number("JY232060200123456"));  // 15 digits
  EXPECT_FALSE(valid_licence_number("jy23206020012345"));
  EXPECT_FALSE(valid_licence_number("SP23206020012345"));
  EXPECT_FALSE(valid_licence_number("JY2320602001234X"));
  EXPECT_FALSE(valid_licence_number(""));
}

TEST(Licence, FilingNumber) {
  EXPECT_TRUE(valid_filing_number("XCY-320602-0001"));
  EXPECT_TRUE(valid_filing_number("abc123"));
  EXPECT_TRUE(valid_filing_number(std::string(32, 'A')));
  EXPECT_FALSE(valid_filing_number(std::string(33, 'A')));
  EXPECT_FALSE(valid_filing_number("abc12"));
  EXPECT_FALSE(valid_filing_number("abc 123"));
  EXPECT_FALSE(valid_filing_number("abc/123"));
  EXPECT_FALSE(valid_filing_number("备案123456"));
}

TEST(Mask, IdNumber) {
  EXPECT_EQ(mask_id_number("320602199001011234"), "3206**********1234");
  EXPECT_EQ(mask_id_number("11010519491231002X"), "1101**********002X");
  EXPECT_EQ(mask_id_number("123456789"), "1234*6789");
  EXPECT_EQ(mask_id_number("12345678"), "********");
  EXPECT_EQ(mask_id_number(""), "");
}

TEST(Mask, Phone) {
  EXPECT_EQ(mask_phone("13812345678"), "138****5678");
  EXPECT_EQ(mask_phone("0513-12345678"), "051******5678");
  EXPECT_EQ(mask_phone("1234567"), "*******");
  EXPECT_EQ(mask_phone("12345678"), "123*5678");
  EXPECT_EQ(mask_phone(""), "");
}

TEST(Mask, Name) {
  EXPECT_EQ(mask_name("张三丰"), "张**");
  EXPECT_EQ(mask_name("李四"), "李*");
  EXPECT_EQ(mask_name("欧阳娜娜"), "欧***");
  EXPECT_EQ(mask_name("王"), "*");
  EXPECT_EQ(mask_name(""), "");
  EXPECT_EQ(mask_name("Alice"), "A****");
  EXPECT_EQ(mask_name("𠀀二"), "𠀀*");  // a four-byte code point is kept whole
}

TEST(Mask, InvalidUtf8NeverLeaksPartialCharacters) {
  // A truncated three-byte sequence: each stray byte counts as one character.
  std::string s = "\xE5\xBC";
  s += "abc";
  std::string masked = mask_name(s);
  EXPECT_EQ(masked, "\xE5****");
}

}  // namespace
}  // namespace mingchu
