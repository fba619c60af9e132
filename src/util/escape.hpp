// What reaches the user's terminal. Every string the sandbox could have chosen (file names,
// link targets, hosts, commands, approver reasons, log fields, diff content) passes through one
// of these before it is printed: a terminal acts on control characters (C0, DEL, and the C1
// range, where U+009B is CSI on many terminals), and bidirectional overrides and isolates
// reorder what the reader sees ("Trojan Source"). What is left is printable text, and what is
// escaped is visibly so.
#pragma once

#include <string>
#include <string_view>

namespace agentbox::util {

// The code point of the UTF-8 sequence at s[i] and its length; length 0 when the bytes there
// are not valid UTF-8 (overlong forms, surrogates, > U+10FFFF and truncated sequences are not).
struct Utf8 {
    char32_t cp = 0;
    std::size_t len = 0;
};
Utf8 decode_utf8(std::string_view s, std::size_t i);
bool valid_utf8(std::string_view s);

// A code point a terminal acts on or that changes how the rest of a line is displayed without
// being visible, or that is drawn as nothing or as a plain space: C0 controls, DEL, C1
// controls, the bidi controls (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069), line and
// paragraph separators, Unicode's default-ignorable code points (zero-width characters, soft
// hyphen, fillers, variation selectors, tags, BOM) and the spaces other than U+0020. Shown
// escaped, a name that differs from another only by one of them looks different.
bool unsafe_for_terminal(char32_t cp);

// A name (path, host, command word, reason) made safe to print on one line: every unsafe code
// point becomes a visible escape (\t \n \r, \xNN below U+0080, \uNNNN above), every byte of
// invalid UTF-8 becomes \xNN, and '\' becomes "\\" so that a name cannot forge an escape.
// Valid printable UTF-8 is kept as it is.
std::string escape_for_terminal(std::string_view s);

// Content (the lines of a diff) shown as it is, byte for byte, except what a terminal would act
// on: newline and tab are kept, every other unsafe code point or invalid byte is escaped as
// above. A backslash is NOT doubled: `printf("hello\n")` must read as it is written. An
// escape is therefore not distinguishable from the same text in the file by its letters alone;
// `mark_on`/`mark_off` (e.g. reverse video on a colour terminal) are put around each escape so
// that it is.
std::string escape_content_for_terminal(std::string_view s, std::string_view mark_on = {},
                                        std::string_view mark_off = {});

// For JSON, which can only carry Unicode text: `s` with every invalid UTF-8 byte replaced by
// U+FFFD (valid input unchanged), and the standard base64 (RFC 4648, padded) of raw bytes.
std::string lossy_utf8(std::string_view s);
std::string base64(std::string_view bytes);
// The bytes of standard padded base64; false (and `out` unspecified) when `text` is not that.
bool unbase64(std::string_view text, std::string& out);

}  // namespace agentbox::util
