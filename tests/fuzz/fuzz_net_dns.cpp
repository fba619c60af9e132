// libFuzzer target for the sandbox's DNS responder (net/dns): arbitrary bytes as a datagram a
// sandboxed process sends to 127.0.0.1:53. An answer that a resolver could not read back, or
// one for a query that must get none, is a bug as much as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "net/dns.hpp"

namespace {

using namespace agentbox::net::dns;

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    const Query q = parse_query(bytes, size);
    if (q.status == Query::ok) check(q.question_end <= size && q.name.size() <= 255);
    const auto a = make_answer(bytes, q, Rcode::noerror, 0xC6120001u);
    if (q.status == Query::drop) {
        check(a.empty());
        return 0;
    }
    check(a.size() >= 12 && a[0] == bytes[0] && a[1] == bytes[1] && (a[2] & 0x80));
    if (q.status == Query::ok) {
        // The answer's question reads back as the query's.
        std::vector<std::uint8_t> again(a.begin(), a.end());
        again[2] &= 0x7f;  // as a query
        again[7] = 0;      // no answers
        const Query r = parse_query(again.data(), q.question_end);
        check(r.status == Query::ok && r.name == q.name && r.qtype == q.qtype);
        check(a.size() == q.question_end + 16);
    }
    return 0;
}
