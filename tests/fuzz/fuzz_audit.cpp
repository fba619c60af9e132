// libFuzzer target for the pure parsers of audit/: minisign's files (a profile's .minisig, a
// trusted key, a secret key) and the OTLP mapping of a log line. A FormatError or a refusal
// is the expected answer to bad input; any other exception, crash, leak or sanitizer report
// is a bug.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "audit/minisign.hpp"
#include "audit/otlp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace ms = agentbox::audit::minisign;
    namespace otlp = agentbox::audit::otlp;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    static const ms::PublicKey key = [] {
        ms::PublicKey k;
        k.id.fill(1);
        k.pk.fill(2);
        return k;
    }();
    // The bytes as a signature of themselves: parsed, then checked (never valid, never a crash).
    (void)ms::verify({key}, text, text);
    try {
        (void)ms::parse_public_key(text);
    } catch (const ms::FormatError&) {
    }
    try {
        (void)ms::SecretKey::parse(text);
    } catch (const ms::FormatError&) {
    }
    (void)otlp::unix_nanos(text.substr(0, 64));
    const agentbox::audit::Json line = agentbox::audit::Json::parse(text, nullptr, false);
    if (line.is_object()) (void)otlp::logs_request({line}, {"h", "u", "v", "s"});
    return 0;
}
