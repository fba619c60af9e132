#include "audit/verify.hpp"

#include <initializer_list>

#include "audit/chain.hpp"

namespace agentbox::audit {

namespace {

// The members every line starts with, in order.
constexpr const char* kHead[] = {"v", "ts", "session", "seq", "event"};

std::string short_key(const std::string& hex) { return hex.substr(0, 16) + "…"; }

// Checks one parsed line's envelope. Returns "" when well formed.
std::string envelope_error(const Json& j) {
    if (!j.is_object()) return "not a JSON object";
    if (j.size() < 7) return "too few members for a log line";
    auto it = j.begin();
    for (const char* name : kHead) {
        if (it.key() != name)
            return std::string("member ") + std::to_string(std::distance(j.begin(), it) + 1) +
                   " is \"" + it.key() + "\", expected \"" + name + "\"";
        ++it;
    }
    if (!j["v"].is_number_integer() || j["v"].get<long long>() != 1)
        return "unsupported schema version " + j["v"].dump() + " (expected 1)";
    if (!j["ts"].is_string()) return "\"ts\" is not a string";
    if (!j["session"].is_string()) return "\"session\" is not a string";
    if (!j["seq"].is_number_unsigned()) return "\"seq\" is not a non-negative integer";
    if (!j["event"].is_string()) return "\"event\" is not a string";

    const bool end = j["event"] == "session.end";
    // The tail: [..., "prev", ("sig",) "hash"].
    auto last = j.end();
    --last;
    if (last.key() != "hash") return "the last member is not \"hash\"";
    --last;
    // Every line after a signed one is signed too (log.hpp); session.end always is.
    const bool has_sig = j.contains("sig");
    if (end && !has_sig) return "session.end has no \"sig\" before \"hash\"";
    if (has_sig) {
        if (last.key() != "sig") return "\"sig\" is not where it belongs, before \"hash\"";
        --last;
    }
    if (last.key() != "prev") return "\"prev\" is not where it belongs, before \"hash\"";
    if (!j["hash"].is_string() || !is_hex(j["hash"].get<std::string>(), kHashBytes))
        return "\"hash\" is not 64 hex digits";
    if (!j["prev"].is_string() || !is_hex(j["prev"].get<std::string>(), kHashBytes))
        return "\"prev\" is not 64 hex digits";
    if (has_sig && (!j["sig"].is_string() || !is_hex(j["sig"].get<std::string>(), kSigBytes)))
        return "\"sig\" is not 128 hex digits";
    if (j["event"] == "session.start" || end) {
        if (!j.contains("key") || !j["key"].is_string() ||
            !is_hex(j["key"].get<std::string>(), kKeyBytes))
            return j["event"].get<std::string>() + " has no valid \"key\"";
    }
    return "";
}

}  // namespace

Verdict verify(std::string_view text, std::string_view trusted_key,
               const std::optional<Head>& recorded) {
    Verdict v;
    bool head_seen = false;
    std::string prev = zero_hash_hex();
    std::size_t pos = 0, number = 0;
    std::string last_event;
    auto bad = [&](std::string why) {
        v.bad_line = number;
        v.reason = std::move(why);
        return v;
    };

    while (pos < text.size()) {
        ++number;
        const std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) {
            // A writer stopped in the middle of a line (it never does on its own: each line is
            // one write(2)); what came before it still verifies.
            v.cut_short = true;
            v.reason = "line " + std::to_string(number) + " is unfinished (no newline)";
            break;
        }
        const std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;

        Json j;
        try {
            j = Json::parse(line);
        } catch (const Json::exception& e) {
            return bad(std::string("not JSON: ") + e.what());
        }
        if (std::string e = envelope_error(j); !e.empty()) return bad(e);
        // One serialization only, so that what was hashed is exactly what is on the line.
        if (canonical(j) != line) return bad("not in canonical form (edited by hand?)");

        const auto seq = j["seq"].get<std::uint64_t>();
        const std::string event = j["event"].get<std::string>();
        if (number == 1) {
            if (event != "session.start") return bad("the first event is " + event +
                                                     ", not session.start");
            v.session = j["session"].get<std::string>();
            v.key = j["key"].get<std::string>();
            if (!trusted_key.empty() && v.key != trusted_key)
                return bad("signed with a key that is not yours (the log's " + short_key(v.key) +
                           ", yours " + short_key(std::string(trusted_key)) + ")");
        } else if (event == "session.start") {
            return bad("a second session.start");
        }
        if (j["session"] != v.session)
            return bad("session " + j["session"].dump() + " in a log of session \"" +
                       v.session + "\"");
        if (seq != number - 1)
            return bad("seq " + std::to_string(seq) + " where " + std::to_string(number - 1) +
                       " belongs (a line was removed, inserted or moved)");
        if (j["prev"] != prev)
            return bad("\"prev\" is not the hash of the line before (a line was removed, "
                       "inserted or moved)");

        const std::string hash = j["hash"].get<std::string>();
        Json body = j;
        body.erase("hash");
        if (hash_hex(canonical(body)) != hash)
            return bad("\"hash\" does not match the line (the line was changed)");

        if (event == "session.end" && j["key"] != v.key)
            return bad("session.end names another key than session.start");
        if (body.contains("sig")) {
            const std::string sig = body["sig"].get<std::string>();
            body.erase("sig");
            if (!verify_signature(v.key, signed_message(canonical(body)), sig))
                return bad("the signature does not verify (the log was rewritten, or signed "
                           "with another key)");
            v.signed_lines = number;
            v.vouched_event = event;
            v.vouched_seq = static_cast<long long>(seq);
        } else if (v.signed_lines > 0) {
            return bad("not signed, yet after a signed line (agentbox signs every line "
                       "appended after one: this one was added without the key)");
        }
        if (recorded && seq == recorded->seq) {
            if (hash != recorded->hash)
                return bad("not the line the session recorded as its signed head (the log was "
                           "rewritten)");
            head_seen = true;
        }
        prev = hash;
        last_event = event;
        v.lines = number;
    }

    if (recorded && !head_seen) {
        // Cut back to an earlier signed line: what is left verifies, but is not all of it.
        v.truncated = true;
        const std::string at = v.lines == 0 ? std::string("it is empty")
                                            : "it ends at seq " + std::to_string(v.lines - 1);
        v.reason = "truncated: the session recorded a signed head at seq " +
                   std::to_string(recorded->seq) + ", " + at;
        v.ok = false;
        return v;
    }
    if (v.lines == 0 && !v.cut_short) {
        v.cut_short = true;
        v.reason = "the log is empty";
    } else if (!v.cut_short && last_event != "session.end") {
        v.cut_short = true;
        v.reason = "no session.end after line " + std::to_string(v.lines);
    }
    if (v.cut_short && v.signed_lines < v.lines)
        v.reason += "; lines " + std::to_string(v.signed_lines + 1) + "-" +
                    std::to_string(v.lines) + " are chained but not signed";
    v.ok = !v.cut_short;
    return v;
}

}  // namespace agentbox::audit
