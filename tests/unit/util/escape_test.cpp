// The one escaping for everything the sandbox could have chosen (util/escape.hpp). The JSON
// encoding of names (util/json_text.hpp) is tested with the audit module, which links the
// JSON library util may not include (tests/unit/audit/json_text_test.cpp).
#include <doctest/doctest.h>

#include <string>

#include "util/escape.hpp"
#include "util/strings.hpp"

using namespace agentbox::util;

TEST_CASE("escape_for_terminal: a file name cannot move the cursor, retitle or recolour") {
    // OSC window title, CSI clear screen, SGR colour, cursor up: all shown, none acted on.
    CHECK(escape_for_terminal("\x1b]0;pwned\x07") == "\\x1b]0;pwned\\x07");
    CHECK(escape_for_terminal("a\x1b[2Jb\x1b[31mred\x1b[1A") ==
          "a\\x1b[2Jb\\x1b[31mred\\x1b[1A");
    CHECK(escape_for_terminal("tab\tnl\ncr\rdel\x7f") == "tab\\tnl\\ncr\\rdel\\x7f");
    // C1 CSI (U+009B) and NEL (U+0085) as UTF-8, and CSI as a lone byte (invalid UTF-8).
    CHECK(escape_for_terminal("x\xc2\x9b" "2Jy") == "x\\u009b2Jy");
    CHECK(escape_for_terminal("x\xc2\x85y") == "x\\u0085y");
    CHECK(escape_for_terminal("x\x9b" "2J") == "x\\x9b2J");
}

TEST_CASE("escape_for_terminal: bidi overrides, isolates and marks cannot disguise a name") {
    // "txt.exe" displayed as "exe.txt" by U+202E RIGHT-TO-LEFT OVERRIDE.
    CHECK(escape_for_terminal("invoice\xe2\x80\xaetxt.exe") == "invoice\\u202etxt.exe");
    CHECK(escape_for_terminal("a\xe2\x81\xa6" "b") == "a\\u2066b");  // LRI
    CHECK(escape_for_terminal("a\xe2\x81\xa9" "b") == "a\\u2069b");  // PDI
    CHECK(escape_for_terminal("a\xe2\x80\xaa" "b") == "a\\u202ab");  // LRE
    CHECK(escape_for_terminal("a\xe2\x80\x8e" "b") == "a\\u200eb");  // LRM
    CHECK(escape_for_terminal("a\xe2\x80\x8f" "b") == "a\\u200fb");  // RLM
    CHECK(escape_for_terminal("a\xd8\x9c" "b") == "a\\u061cb");      // ALM
    CHECK(escape_for_terminal("zero\xe2\x80\x8bwidth") == "zero\\u200bwidth");
}

TEST_CASE("escape_for_terminal: a name cannot hide a character drawn as nothing or as a space") {
    // Each pair would look the same in a review; escaped, they differ.
    CHECK(escape_for_terminal("pass\xc2\xadwd") == "pass\\u00adwd");         // soft hyphen
    CHECK(escape_for_terminal("a\xcd\x8f" "b") == "a\\u034fb");               // CGJ
    CHECK(escape_for_terminal("a\xe3\x85\xa4" "b") == "a\\u3164b");           // Hangul filler
    CHECK(escape_for_terminal("a\xef\xbe\xa0" "b") == "a\\uffa0b");           // halfwidth filler
    CHECK(escape_for_terminal("a\xe1\xa0\x8e" "b") == "a\\u180eb");           // MVS
    CHECK(escape_for_terminal("a\xef\xb8\x8f" "b") == "a\\ufe0fb");           // VS16
    CHECK(escape_for_terminal("a\xe2\x81\xaf" "b") == "a\\u206fb");           // nominal digit shapes
    CHECK(escape_for_terminal("a\xef\xbf\xb9" "b") == "a\\ufff9b");           // annotation anchor
    CHECK(escape_for_terminal("a\xc2\xa0" "b") == "a\\u00a0b");               // no-break space
    CHECK(escape_for_terminal("a\xe2\x80\x80" "b") == "a\\u2000b");           // en quad
    CHECK(escape_for_terminal("a\xe3\x80\x80" "b") == "a\\u3000b");           // ideographic space
    // Above the BMP, eight digits: "\\ue0041" would read as U+E004 and a '1'.
    CHECK(escape_for_terminal("a\xf3\xa0\x81\x81" "1") == "a\\U000e00411");   // tag 'A'
    CHECK(escape_for_terminal("a\xf3\xa0\x84\x80" "b") == "a\\U000e0100b");   // VS17
    CHECK(escape_for_terminal("a\xf0\x9b\xb2\xa0" "b") == "a\\U0001bca0b");   // shorthand
    // Neighbours that are drawn stay as they are.
    CHECK(escape_for_terminal("\xc2\xa9 \xe1\x85\xa1 \xef\xbf\xbc") ==
          "\xc2\xa9 \xe1\x85\xa1 \xef\xbf\xbc");  // (c), Hangul vowel, U+FFFC
}

TEST_CASE("escape_for_terminal: a backslash in the name cannot forge an escape") {
    CHECK(escape_for_terminal("a\\x1b") == "a\\\\x1b");
    CHECK(escape_for_terminal("a\\x1b") != escape_for_terminal("a\x1b"));
}

TEST_CASE("escape_for_terminal: valid UTF-8 kept, invalid and overlong forms escaped") {
    CHECK(escape_for_terminal("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\x81") ==
          "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\x81");
    CHECK(escape_for_terminal("\xc0\xaf") == "\\xc0\\xaf");          // overlong '/'
    CHECK(escape_for_terminal("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // surrogate
    CHECK(escape_for_terminal("\xe6\x97") == "\\xe6\\x97");          // truncated
    CHECK(escape_for_terminal(std::string("a\0b", 3)) == "a\\x00b");
}

TEST_CASE("test_diff_shows_backslash_n_as_is: content keeps its backslashes, lines and tabs") {
    CHECK(escape_content_for_terminal("+printf(\"hello\\n\");\n") == "+printf(\"hello\\n\");\n");
    CHECK(escape_content_for_terminal("+a\tb\n-\x1b[31mred\n") == "+a\tb\n-\\x1b[31mred\n");
    CHECK(escape_content_for_terminal("+x\xe2\x80\xaey\r\n") == "+x\\u202ey\\r\n");
    CHECK(escape_content_for_terminal("+\xff\n") == "+\\xff\n");
    // Marked escapes stand out from the same letters in the file.
    CHECK(escape_content_for_terminal("\\x1b \x1b", "<", ">") == "\\x1b <\\x1b>");
}

TEST_CASE("quote: every message quotes a name with the same escaping") {
    CHECK(quote("a b") == "\"a b\"");
    CHECK(quote("say \"hi\"") == "\"say \\\"hi\\\"\"");
    CHECK(quote("x\xc2\x9b" "2J\xe2\x80\xae" "y\xff") == "\"x\\u009b2J\\u202ey\\xff\"");
}

TEST_CASE("base64 round trip, and what is not base64") {
    for (const std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
        std::string back;
        REQUIRE(unbase64(base64(s), back));
        CHECK(back == s);
    }
    CHECK(base64("foobar") == "Zm9vYmFy");
    std::string out;
    CHECK_FALSE(unbase64("Zm9", out));
    CHECK_FALSE(unbase64("Zm9v!A==", out));
    CHECK_FALSE(unbase64("Z=9v", out));
}
