// The one JSON encoding of a string agentbox did not choose (a file name, a link target, a
// command line, a project path). JSON strings are Unicode; a Linux name is any bytes but NUL.
// So, in every --json output and in the decision log:
//
//   "path": "bad-\ufffd-name",          always a string: the bytes as UTF-8, each byte of
//                                       invalid UTF-8 replaced by U+FFFD (for display)
//   "path_base64": "YmFkLf8tbmFtZQ=="   only when the bytes are not valid UTF-8: all of
//                                       them, exactly, in base64 (RFC 4648, padded)
//
// A consumer wanting the exact name reads KEY_base64 when present, else KEY. A name that is
// valid UTF-8 (nearly all) looks as it always did. Documented in agentbox(1), "JSON OUTPUT".
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "util/escape.hpp"

namespace agentbox::util {

// j[key] (and j[key + "_base64"] when needed) set to `value` as above. Json is
// nlohmann::json or nlohmann::ordered_json.
template <class Json>
void put_text(Json& j, const std::string& key, std::string_view value) {
    if (valid_utf8(value)) {
        j[key] = std::string(value);
        return;
    }
    j[key] = lossy_utf8(value);
    j[key + "_base64"] = base64(value);
}

// The same for a list of strings (argv): KEY is the list of display strings, and
// KEY_base64 (only when some element is not UTF-8) the list of all of them in base64.
template <class Json, class Strings>
void put_text_list(Json& j, const std::string& key, const Strings& values) {
    Json shown = Json::array();
    bool exact = true;
    for (const auto& v : values) {
        exact = exact && valid_utf8(v);
        shown.push_back(lossy_utf8(v));
    }
    j[key] = std::move(shown);
    if (exact) return;
    Json raw = Json::array();
    for (const auto& v : values) raw.push_back(base64(v));
    j[key + "_base64"] = std::move(raw);
}

// The exact bytes put_text wrote: KEY_base64 when present, else KEY. Throws what Json's at()
// and get() throw for a missing or mistyped key, and std::runtime_error for bad base64.
template <class Json>
std::string get_text(const Json& j, const std::string& key) {
    const auto raw = j.find(key + "_base64");
    if (raw == j.end()) return j.at(key).template get<std::string>();
    std::string out;
    if (!unbase64(raw->template get<std::string>(), out))
        throw std::runtime_error(key + "_base64 is not base64");
    return out;
}

// j[key] when j is an object holding a string there, else `fallback`. For reading lines
// agentbox did not necessarily write (a log file on disk, an export's input): Json's own
// value(key, fallback) throws when the member is there with another type.
template <class Json>
std::string string_or(const Json& j, const std::string& key, std::string fallback = {}) {
    if (!j.is_object()) return fallback;
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->template get<std::string>() : fallback;
}

// The list put_text_list wrote.
template <class Json>
std::vector<std::string> get_text_list(const Json& j, const std::string& key) {
    const auto raw = j.find(key + "_base64");
    if (raw == j.end()) return j.at(key).template get<std::vector<std::string>>();
    std::vector<std::string> out;
    for (const auto& e : *raw) {
        std::string v;
        if (!unbase64(e.template get<std::string>(), v))
            throw std::runtime_error(key + "_base64 is not base64");
        out.push_back(std::move(v));
    }
    return out;
}

}  // namespace agentbox::util
