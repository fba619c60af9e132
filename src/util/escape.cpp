#include "util/escape.hpp"

#include <cstdio>

namespace agentbox::util {

Utf8 decode_utf8(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return {c, 1};
    std::size_t len = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07, min = 0x10000;
    else return {0, 0};
    if (i + len > s.size()) return {0, 0};
    for (std::size_t k = 1; k < len; ++k) {
        if ((b(i + k) & 0xc0) != 0x80) return {0, 0};
        cp = (cp << 6) | (b(i + k) & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {0, 0};
    return {cp, len};
}

bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const Utf8 u = decode_utf8(s, i);
        if (u.len == 0) return false;
        i += u.len;
    }
    return true;
}

bool unsafe_for_terminal(char32_t cp) {
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return true;
    if (cp < 0xa0) return false;
    // Inclusive ranges, sorted: Unicode's Default_Ignorable_Code_Point (drawn as nothing, so
    // two names that differ only by one look the same), the bidi controls, the line and
    // paragraph separators, the interlinear annotation controls, and the spaces other than
    // U+0020 (drawn as a space, so "a b" could be two names).
    static constexpr char32_t kRanges[][2] = {
        {0x00a0, 0x00a0}, {0x00ad, 0x00ad}, {0x034f, 0x034f}, {0x061c, 0x061c},
        {0x115f, 0x1160}, {0x1680, 0x1680}, {0x17b4, 0x17b5}, {0x180b, 0x180f},
        {0x2000, 0x200f}, {0x2028, 0x202f}, {0x205f, 0x206f}, {0x3000, 0x3000},
        {0x3164, 0x3164}, {0xfe00, 0xfe0f}, {0xfeff, 0xfeff}, {0xffa0, 0xffa0},
        {0xfff0, 0xfffb}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0000, 0xe0fff},
    };
    for (const auto& r : kRanges) {
        if (cp < r[0]) return false;
        if (cp <= r[1]) return true;
    }
    return false;
}

namespace {

enum class Mode { name, content };

std::string escape(std::string_view s, Mode mode, std::string_view on, std::string_view off) {
    std::string out;
    out.reserve(s.size());
    char buf[16];
    const auto put = [&](const char* text) {
        out += on;
        out += text;
        out += off;
    };
    for (std::size_t i = 0; i < s.size();) {
        const Utf8 u = decode_utf8(s, i);
        if (u.len == 0) {  // invalid UTF-8: show the byte
            std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(s[i]));
            put(buf);
            ++i;
            continue;
        }
        const char32_t cp = u.cp;
        if (mode == Mode::content && (cp == '\n' || cp == '\t')) {
            out += static_cast<char>(cp);
        } else if (cp == '\n') {
            put("\\n");
        } else if (cp == '\t') {
            put("\\t");
        } else if (cp == '\r') {
            put("\\r");
        } else if (cp < 0x80 && unsafe_for_terminal(cp)) {
            std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
            put(buf);
        } else if (unsafe_for_terminal(cp)) {
            // \U and eight digits above the BMP, so that no digit after it reads as its own.
            std::snprintf(buf, sizeof buf, cp > 0xffff ? "\\U%08x" : "\\u%04x",
                          static_cast<unsigned>(cp));
            put(buf);
        } else if (cp == '\\' && mode == Mode::name) {
            out += "\\\\";
        } else {
            out.append(s.substr(i, u.len));
        }
        i += u.len;
    }
    return out;
}

}  // namespace

std::string escape_for_terminal(std::string_view s) { return escape(s, Mode::name, {}, {}); }

std::string escape_content_for_terminal(std::string_view s, std::string_view mark_on,
                                        std::string_view mark_off) {
    return escape(s, Mode::content, mark_on, mark_off);
}

std::string lossy_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const Utf8 u = decode_utf8(s, i);
        if (u.len == 0) {
            out += "\xef\xbf\xbd";
            ++i;
        } else {
            out.append(s.substr(i, u.len));
            i += u.len;
        }
    }
    return out;
}

std::string base64(std::string_view bytes) {
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
        out += digits[v >> 18];
        out += digits[(v >> 12) & 63];
        out += digits[(v >> 6) & 63];
        out += digits[v & 63];
    }
    if (const std::size_t rest = bytes.size() - i; rest > 0) {
        const unsigned v = (b(i) << 16) | (rest == 2 ? b(i + 1) << 8 : 0);
        out += digits[v >> 18];
        out += digits[(v >> 12) & 63];
        out += rest == 2 ? digits[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

bool unbase64(std::string_view text, std::string& out) {
    const auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    out.clear();
    if (text.size() % 4 != 0) return false;
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        const int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
        if (pad == 1 && text[i + 2] == '=') return false;
        unsigned v = 0;
        for (int k = 0; k < 4; ++k) {
            const int d = k >= 4 - pad ? 0 : value(text[i + k]);
            if (d < 0) return false;
            v = (v << 6) | static_cast<unsigned>(d);
        }
        out += static_cast<char>(v >> 16);
        if (pad < 2) out += static_cast<char>((v >> 8) & 0xff);
        if (pad < 1) out += static_cast<char>(v & 0xff);
    }
    return true;
}

}  // namespace agentbox::util
