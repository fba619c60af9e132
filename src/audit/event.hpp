// One decision-log event before it is written: a type and its own members, in the order they
// were set. Log::append adds the envelope (v, ts, session, seq, event ... prev, hash).
//
// Only names and facts go in: environment values, file contents and request bodies are never
// set on an Event (DESIGN.md §7), so no writer can leak them.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "audit/chain.hpp"
#include "util/json_text.hpp"

namespace agentbox::audit {

class Event {
public:
    explicit Event(std::string type) : type_(std::move(type)), fields_(Json::object()) {}

    // Sets member `key`; a later set of the same key replaces the value in place. The
    // envelope's names (see is_reserved) are rejected by Log::append.
    // A string (or list of strings) that is not valid UTF-8 - a file name can be any bytes -
    // is written as util/json_text.hpp says: KEY shown with U+FFFD, KEY_base64 exact.
    template <class T>
    Event& set(const std::string& key, T&& value) {
        using V = std::remove_cvref_t<T>;
        using D = std::decay_t<T>;
        // Only strings: a Json value converts to string_view too, and must stay a value.
        if constexpr (std::is_same_v<V, std::string> || std::is_same_v<V, std::string_view> ||
                      std::is_same_v<D, const char*> || std::is_same_v<D, char*>)
            util::put_text(fields_, key, std::string_view(value));
        else if constexpr (std::is_same_v<V, std::vector<std::string>>)
            util::put_text_list(fields_, key, value);
        else
            fields_[key] = std::forward<T>(value);
        return *this;
    }

    const std::string& type() const { return type_; }
    const Json& fields() const { return fields_; }

private:
    std::string type_;
    Json fields_;
};

// Members the log itself writes on every line, or on session.start/session.end.
inline bool is_reserved(const std::string& key) {
    for (const char* r : {"v", "ts", "session", "seq", "event", "prev", "hash", "sig", "key"})
        if (key == r) return true;
    return false;
}

}  // namespace agentbox::audit
