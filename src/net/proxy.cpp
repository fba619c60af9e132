// The proxy's event loop: standalone asio with C++20 coroutines, one io_context on one thread.
// One coroutine per client connection reads requests, asks policy, resolves and connects, and
// relays; bodies and tunnels move through net/pump (on Linux a pipe with splice(2), so payload
// bytes are never copied into this process).
#include "net/proxy.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>

#include "net/dlp.hpp"
#include "net/http.hpp"
#include "net/intercept.hpp"
#include "net/portable.hpp"
#include "net/proxy_auth.hpp"
#include "net/pump.hpp"
#include "net/secrets.hpp"
#include "net/tls.hpp"
#include "net/wake.hpp"
#include "policy/hostrules.hpp"
#include "policy/names.hpp"
#include "policy/requestrules.hpp"
#include "sys/error.hpp"
#include "util/strings.hpp"

namespace agentbox::net {

namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 16 * 1024;
// A chunk of a chunked body with at least this much of its data still to come is spliced
// (forward_body); a smaller one is not worth a pipe.
constexpr std::uint64_t kSpliceChunk = 16 * 1024;
std::string verdict_name(policy::Verdict v) {
    switch (v) {
        case policy::Verdict::allow: return "allow";
        case policy::Verdict::deny: return "deny";
        case policy::Verdict::ask: return "ask";
    }
    return "deny";
}

std::string ms_since(Clock::time_point t) {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

// "[::1]" -> "::1" for asio.
std::string bare(const std::string& canonical) {
    if (canonical.size() > 2 && canonical.front() == '[') return canonical.substr(1, canonical.size() - 2);
    return canonical;
}

struct Client {
    explicit Client(asio::io_context& io) : sock(io), up(io), watchdog(io) {}
    tcp::socket sock;
    tcp::socket up;
    asio::steady_timer watchdog;
    Clock::time_point deadline = Clock::time_point::max();
    bool finished = false;
    // The open upstream connection, if any, and what is logged when it closes.
    bool up_open = false;
    std::string up_host, up_address;
    std::uint16_t up_port = 0;
    std::uint64_t bytes_up = 0, bytes_down = 0;
    Clock::time_point up_start;
    // The idle timeout (ProxyOptions::idle_timeout), watched while `established`: the byte
    // count the watchdog saw last, and since when it has not moved.
    bool established = false, idled = false;
    std::uint64_t seen = 0;
    Clock::time_point quiet_since;
    std::optional<Captured> captured;  // a captured connection (proxy.hpp): no request head
    // An intercepted tunnel's TLS connection to the server, begun (its ClientHello sent)
    // as soon as the client is told the tunnel is established, before anything of the
    // client's is read: the server works on it while the client's own ClientHello is made.
    std::unique_ptr<TlsConn> up_tls;

    void close_all() {
        std::error_code ec;
        sock.close(ec);
        up.close(ec);
    }
};
using ClientPtr = std::shared_ptr<Client>;

// One end of a relayed exchange: a socket, and the TLS connection on it when the proxy ends
// TLS there (an intercepted host). The response relay serves plain and intercepted requests.
struct Side {
    tcp::socket& sock;
    TlsConn* tls = nullptr;
};

// What a relayed response leaves open.
enum class After {
    keep,          // both connections, for the client's next request
    new_upstream,  // the client's connection; the upstream one is done
    end,           // neither: the client's connection ends too
};

struct Tunnel {
    explicit Tunnel(asio::io_context& io) : done(io, Clock::time_point::max()) {}
    int running = 2;
    asio::steady_timer done;
    std::exception_ptr error;
};

// A question put to the supervisor ("ask" event) that connections wait on. The answer arrives
// through Proxy::answer, posted to the io thread, which cancels `wake` and so resumes every
// coroutine waiting on it.
struct PendingAsk {
    PendingAsk(asio::io_context& io, std::string k) : wake(io, Clock::time_point::max()), key(std::move(k)) {}
    asio::steady_timer wake;
    std::string key;  // host:port
    bool answered = false, allow = false, session = false;
    std::string why;
};

// A request body in which net/dlp found what must not leave: thrown from where its bytes are
// forwarded, so that nothing more of it goes; the finding is in the scanner.
struct BodyRefused : std::runtime_error {
    BodyRefused() : std::runtime_error("request body refused") {}
};

// What a connection that was decided `ask` ends up with.
struct Asked {
    bool allow = false;
    std::string how;  // "asked": this connection's question; "remembered": a session answer
    std::string why;  // for a deny: what the client is told
};

}  // namespace

struct Proxy::Impl {
    ProxyOptions opt;
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    IoKind io_kind = kDefaultIo;  // net/portable.hpp; portable under AGENTBOX_TEST_PORTABLE_NET
    std::optional<Wakeup> wake;   // readable while `events` waits for the supervisor
    std::mutex mu;
    std::vector<ProxyEvent> events;
    std::set<Client*> clients;  // the io thread's only
    // Approvals, the io thread's only: questions in flight by id and by host:port (a second
    // connection to the same place waits for the first one's answer instead of asking
    // twice), and the answers given with scope "session".
    std::uint64_t next_ask = 1;
    std::map<std::uint64_t, std::shared_ptr<PendingAsk>> pending;
    std::map<std::string, std::shared_ptr<PendingAsk>> asking;
    std::map<std::string, std::pair<bool, std::string>> remembered;
    dlp::Rules dlp_rules;       // the run's secrets for net/dlp, when it has any
    bool stopping = false;      // the io thread's only
    // Captured connections announced by the supervisor, by client port (expect_capture).
    std::mutex cap_mu;
    std::map<std::uint16_t, std::pair<Captured, Clock::time_point>> captures;
    std::thread thread;
    std::mutex done_mu;
    std::condition_variable done_cv;
    bool done = false;
    std::atomic<bool> stopped{false};

    // The supervisor is woken for the events when this thread has nothing ready to run, not
    // at each one: a plain request made four events, and so four wake-ups of the supervisor's
    // thread (each a context switch and a log write) in the middle of the request, competing
    // for a CPU with it. Now a burst is one wake-up, when this thread would sleep anyway
    // (design note 84). A thread kept busy without a pause still wakes it after kWakeAtMost.
    // The io thread's only, like `wake_due`.
    static constexpr Clock::duration kWakeAtMost = std::chrono::milliseconds(5);
    bool wake_due = false;
    Clock::time_point due_since;

    void emit(ProxyEvent ev) {
        {
            std::lock_guard<std::mutex> lock(mu);
            events.push_back(std::move(ev));
        }
        if (!wake_due) {
            wake_due = true;
            due_since = Clock::now();
        }
    }

    void signal_events() {
        if (std::exchange(wake_due, false)) wake->signal();
    }

    // io.run(), with the supervisor woken (signal_events) before the thread waits. Only with
    // events due does it look first whether anything is ready (poll_one, one epoll_wait more):
    // a body or a tunnel moving bytes makes none, and waits as io.run() would.
    void run() {
        for (;;) {
            if (wake_due) {
                if (io.poll_one() > 0) {
                    if (Clock::now() - due_since >= kWakeAtMost) signal_events();
                    continue;
                }
                signal_events();
            }
            if (io.run_one() == 0) return;  // stopped, or no work left
        }
    }

    // ---- I/O helpers

    // Wait until readable, then read what is there. Waiting first means an idle connection
    // holds no buffer at all: 1,000 idle clients cost their sockets and nothing else; and the
    // read is sized to what the kernel holds (up to a chunk), so a short head costs a short
    // buffer, not 16 KiB per connection.
    awaitable<std::size_t> read_more(tcp::socket& s, std::string& buf) {
        for (;;) {
            co_await s.async_wait(tcp::socket::wait_read, use_awaitable);
            std::error_code ec;
            const std::size_t want = std::clamp<std::size_t>(s.available(ec), 1, kReadChunk);
            const std::size_t old = buf.size();
            buf.resize(old + want);
            const std::size_t n = s.read_some(asio::buffer(buf.data() + old, want), ec);
            buf.resize(old + n);
            if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
            if (ec == asio::error::eof) co_return 0;
            if (ec) throw std::system_error(ec);
            co_return n;
        }
    }

    static awaitable<void> write_all(tcp::socket& s, std::string_view data) {
        co_await asio::async_write(s, asio::buffer(data.data(), data.size()), use_awaitable);
    }

    // Move bytes from `from` to `to` (net/pump.hpp): `limit` bytes exactly, or with limit 0
    // until EOF and the half-close; `counter` counts what was delivered.
    awaitable<void> pump(tcp::socket& from, tcp::socket& to, std::uint64_t limit,
                         std::uint64_t& counter) {
        Pump p(io_kind, from.native_handle(), to.native_handle(), limit);
        for (;;) {
            switch (p.step(counter)) {
                case Pump::Wait::done: co_return;
                case Pump::Wait::write:
                    co_await to.async_wait(tcp::socket::wait_write, use_awaitable);
                    break;
                case Pump::Wait::read:
                    co_await from.async_wait(tcp::socket::wait_read, use_awaitable);
                    break;
            }
        }
    }

    // One body from `from` to `to`; `pre` holds bytes already read past the head (and, on
    // return, whatever followed the body: the next pipelined message).
    awaitable<void> forward_body(tcp::socket& from, tcp::socket& to, const http::Body& body,
                                 std::string& pre, std::uint64_t& counter,
                                 dlp::BodyScanner* scan = nullptr) {
        std::string held;  // what net/dlp lets go of a piece, when it scans
        switch (body.kind) {
            case http::BodyKind::none: co_return;
            case http::BodyKind::length: {
                if (scan) {
                    // Scanned bodies pass through this process (no splice): each piece is
                    // searched before what it clears goes on.
                    std::uint64_t left = body.length;
                    for (;;) {
                        const std::size_t n =
                            static_cast<std::size_t>(std::min<std::uint64_t>(pre.size(), left));
                        co_await write_all(
                            to, scanned(scan, std::string_view(pre).substr(0, n), held));
                        counter += n;
                        left -= n;
                        pre.erase(0, n);
                        if (left == 0) co_return;
                        if (co_await read_more(from, pre) == 0)
                            throw std::runtime_error("connection closed inside a body");
                    }
                }
                const std::size_t n =
                    static_cast<std::size_t>(std::min<std::uint64_t>(pre.size(), body.length));
                co_await write_all(to, std::string_view(pre).substr(0, n));
                counter += n;
                pre.erase(0, n);
                // The rest goes through the kernel: the head's buffer is not held meanwhile
                // (500 slow downloads would hold 500 of them for nothing).
                if (pre.empty()) std::string().swap(pre);
                if (body.length > n) co_await pump(from, to, body.length - n, counter);
                co_return;
            }
            case http::BodyKind::chunked: {
                http::Chunked chunked;
                for (;;) {
                    const std::size_t k = chunked.feed(pre);
                    if (!chunked.error().empty()) throw std::runtime_error(chunked.error());
                    co_await write_all(to,
                                       scanned(scan, std::string_view(pre).substr(0, k), held));
                    counter += k;
                    pre.erase(0, k);
                    if (chunked.done()) co_return;
                    // `pre` is used up (feed() stops short only at the end or an error). The
                    // rest of a large chunk goes through the kernel like a body of known
                    // length: exactly data_left() bytes, so the CRLF and size line after it,
                    // and whatever follows the body (a pipelined request), are still read and
                    // framed here. Not a body net/dlp scans: each byte of it must pass it.
                    if (!scan && chunked.data_left() >= kSpliceChunk) {
                        std::string().swap(pre);
                        const std::uint64_t n = chunked.data_left();
                        co_await pump(from, to, n, counter);
                        chunked.skip(n);
                        continue;
                    }
                    if (co_await read_more(from, pre) == 0)
                        throw std::runtime_error("connection closed inside a chunked body");
                }
            }
            case http::BodyKind::until_close:
                co_await write_all(to, pre);
                counter += pre.size();
                std::string().swap(pre);
                co_await pump(from, to, 0, counter);
                co_return;
        }
    }

    // The hook of net/dlp where request bytes are forwarded: what may go of `piece` (with
    // what was held back before it); throws BodyRefused when nothing more may. Without a
    // scanner, the piece as it is.
    static std::string_view scanned(dlp::BodyScanner* scan, std::string_view piece,
                                    std::string& out) {
        if (!scan) return piece;
        out.clear();
        if (!scan->feed(piece, out)) throw BodyRefused();
        return out;
    }

    // ---- approvals

    awaitable<Asked> ask_user(const std::string& key, const policy::Decision& d) {
        for (;;) {
            if (stopping) co_return Asked{false, "asked", "the run is ending"};
            if (auto r = remembered.find(key); r != remembered.end())
                co_return Asked{r->second.first, "remembered", r->second.second};
            std::shared_ptr<PendingAsk> p;
            bool mine = false;
            if (auto a = asking.find(key); a != asking.end()) {
                p = a->second;
            } else {
                p = std::make_shared<PendingAsk>(io, key);
                const std::uint64_t id = next_ask++;
                pending[id] = p;
                asking[key] = p;
                mine = true;
                emit(ProxyEvent{"ask",
                                {{"id", std::to_string(id)},
                                 {"op", "connect"},
                                 {"target", key},
                                 {"rule", d.rule},
                                 {"source", d.source.str()}}});
            }
            if (!p->answered) {
                std::error_code ec;
                co_await p->wake.async_wait(asio::redirect_error(use_awaitable, ec));
            }
            if (!p->answered) co_return Asked{false, "asked", "the run is ending"};
            // Someone else's "once" answer was for their connection: ask again for this one
            // (a "session" answer is found in `remembered` on the next round).
            if (mine) co_return Asked{p->allow, "asked", p->why};
        }
    }

    void take_answer(std::uint64_t id, bool allow, bool session, std::string why) {
        auto it = pending.find(id);
        if (it == pending.end()) return;
        std::shared_ptr<PendingAsk> p = it->second;
        pending.erase(it);
        if (auto a = asking.find(p->key); a != asking.end() && a->second == p) asking.erase(a);
        p->answered = true;
        p->allow = allow;
        p->session = session;
        p->why = std::move(why);
        if (session) remembered[p->key] = {allow, p->why};
        p->wake.cancel();
    }

    // ---- upstream connections

    void close_upstream(Client& c) {
        if (!c.up_open) return;
        c.up_open = false;
        std::error_code ec;
        c.up.close(ec);
        ProxyEvent ev{"net.close",
                      {{"host", c.up_host},
                       {"port", std::to_string(c.up_port)},
                       {"address", c.up_address},
                       {"bytes_up", std::to_string(c.bytes_up)},
                       {"bytes_down", std::to_string(c.bytes_down)},
                       {"duration_ms", ms_since(c.up_start)}}};
        if (c.idled) ev.fields.emplace_back("reason", "idle");
        emit(std::move(ev));
    }

    awaitable<void> refuse(Client& c, int status, const char* reason, const std::string& text,
                           const std::string& rule = {}) {
        if (c.captured) {
            // The tool never spoke to a proxy: an HTTP error would be read as the server's.
            // A reset instead, as from a host that refuses.
            std::error_code ec;
            c.sock.set_option(asio::socket_base::linger(true, 0), ec);
            c.sock.close(ec);
            co_return;
        }
        co_await write_all(c.sock, http::error_response(status, reason, text, rule));
    }

    // Decide, resolve outside, check every address, connect to a checked one. On any refusal
    // or failure the client has been answered (403/502) and false is returned.
    awaitable<bool> open_upstream(ClientPtr cp, const http::Target& t, const std::string& method) {
        Client& c = *cp;
        const policy::Decision d = policy::decide_connect(opt.net, t.authority);
        policy::ConnectTarget ct;
        std::string host = t.host;
        try {
            ct = policy::parse_target(t.authority);
            host = ct.host;
        } catch (const std::invalid_argument&) {
            // decide_connect has refused it already and says why.
        }
        const std::string key = ct.host.empty() ? t.authority : ct.host + ":" + std::to_string(t.port);
        emit(ProxyEvent{"decision",
                        {{"op", "connect"},
                         {"target", key},
                         {"verdict", verdict_name(d.verdict)},
                         {"rule", d.rule},
                         {"source", d.source.str()}}});
        policy::Verdict verdict = d.verdict;
        std::string why = d.reason;
        std::string approval;
        if (d.verdict == policy::Verdict::ask && opt.ask && !ct.host.empty()) {
            // The user may take a while to answer; the question has no deadline of its own
            // (the approver's timeout, or the person at the terminal, bound it).
            c.deadline = Clock::time_point::max();
            const Asked a = co_await ask_user(key, d);
            c.deadline = Clock::now() + opt.connect_timeout;
            verdict = a.allow ? policy::Verdict::allow : policy::Verdict::deny;
            approval = a.how;
            if (!a.allow) why = a.why;
        } else if (d.verdict == policy::Verdict::ask) {
            why += "; the rule says \"ask\", and with nobody to ask an ask is a deny";
        }
        ProxyEvent ev{"net.connect",
                      {{"method", method},
                       {"host", host},
                       {"port", std::to_string(t.port)},
                       {"verdict", verdict_name(verdict)},
                       {"rule", d.rule},
                       {"source", d.source.str()}}};
        if (!approval.empty()) ev.fields.emplace_back("approval", approval);
        if (c.captured) ev.fields.emplace_back("captured", c.captured->dialled);
        if (verdict != policy::Verdict::allow) {
            ev.fields.emplace_back("reason", why);
            emit(std::move(ev));
            co_await refuse(c, 403, "Forbidden",
                            method + " " + t.authority + " refused by " + d.rule + " (" +
                                d.source.str() + "): " + why,
                            d.rule);
            co_return false;
        }

        // Resolution happens here, outside the sandbox, exactly once; the addresses it gives
        // are the ones checked and the ones connected to.
        std::vector<std::string> addrs;
        if (ct.ip) {
            addrs.push_back(ct.host);
        } else if (auto o = opt.resolve_override.find(ct.host); o != opt.resolve_override.end()) {
            addrs = o->second;
        } else {
            tcp::resolver resolver(io);
            std::error_code ec;
            auto results = co_await resolver.async_resolve(
                ct.host, std::to_string(t.port), asio::redirect_error(use_awaitable, ec));
            if (ec) {
                ev.fields.emplace_back("error", "resolve: " + ec.message());
                emit(std::move(ev));
                co_await refuse(c, 502, "Bad Gateway",
                                "cannot resolve " + ct.host + ": " + ec.message());
                co_return false;
            }
            for (const auto& r : results) {
                std::string a = r.endpoint().address().to_string();
                if (std::find(addrs.begin(), addrs.end(), a) == addrs.end()) addrs.push_back(a);
            }
        }

        std::vector<std::pair<std::string, policy::Decision>> allowed;
        std::optional<policy::Decision> refused;
        for (const auto& a : addrs) {
            policy::Decision ad = policy::decide_address(opt.net, ct, a);
            // The plain "it is a public address" check is not worth a line per address; a
            // refusal, or a rule that had to name the address, is.
            if (ad.rule != "resolved address" || ad.verdict != policy::Verdict::allow)
                emit(ProxyEvent{"decision",
                                {{"op", "connect"},
                                 {"target", policy::canonical_host(bare(a)) + ":" +
                                                std::to_string(t.port)},
                                 {"verdict", verdict_name(ad.verdict)},
                                 {"rule", ad.rule},
                                 {"source", ad.source.str()}}});
            if (ad.verdict == policy::Verdict::allow) {
                allowed.emplace_back(policy::canonical_host(bare(a)), ad);
            } else if (!refused) {
                refused = ad;
            }
        }
        if (allowed.empty()) {
            if (!refused) {
                ev.fields.emplace_back("error", "no address");
                emit(std::move(ev));
                co_await refuse(c, 502, "Bad Gateway", ct.host + " has no address");
                co_return false;
            }
            ev.fields[3].second = "deny";
            ev.fields[4].second = refused->rule;
            ev.fields[5].second = refused->source.str();
            ev.fields.emplace_back("reason", refused->reason);
            emit(std::move(ev));
            co_await refuse(c, 403, "Forbidden",
                            method + " " + t.authority + " refused by " + refused->rule + " (" +
                                refused->source.str() + "): " + refused->reason,
                            refused->rule);
            co_return false;
        }

        std::string last_error = "no address";
        for (const auto& [addr, ad] : allowed) {
            std::error_code ec;
            const auto ip = asio::ip::make_address(bare(addr), ec);
            if (ec) continue;
            c.up = tcp::socket(io);
            co_await c.up.async_connect(tcp::endpoint(ip, t.port),
                                        asio::redirect_error(use_awaitable, ec));
            if (ec) {
                last_error = addr + ": " + ec.message();
                std::error_code ignore;
                c.up.close(ignore);
                continue;
            }
            c.up.native_non_blocking(true);
            c.up.set_option(tcp::no_delay(true), ec);
            c.up_open = true;
            c.up_host = ct.host;
            c.up_port = t.port;
            c.up_address = addr;
            c.bytes_up = c.bytes_down = 0;
            c.up_start = Clock::now();
            ev.fields.emplace_back("address", addr);
            if (ad.rule != "resolved address") ev.fields.emplace_back("address_rule", ad.rule);
            emit(std::move(ev));
            co_return true;
        }
        ev.fields.emplace_back("error", "connect: " + last_error);
        emit(std::move(ev));
        co_await refuse(c, 502, "Bad Gateway", "cannot connect to " + t.authority + " (" + last_error + ")");
        co_return false;
    }


    // ---- secrets and interception (net/intercept.hpp)

    const std::vector<SecretValue>& secrets() const {
        static const std::vector<SecretValue> none;
        return opt.intercept ? opt.intercept->secrets : none;
    }

    bool intercepts(const std::string& host) const {
        return opt.intercept &&
               std::binary_search(opt.net.intercept.begin(), opt.net.intercept.end(), host);
    }

    // The path without its query: what the log may say about a request (the query can hold
    // anything, a stand-in included).
    static std::string path_only(const std::string& target) {
        return target.substr(0, target.find('?'));
    }

    // Stand-ins in a request to `host`: replaced for the hosts they are bound to; elsewhere
    // the request is refused and logged. Never a value in the log: names, host, method, path.
    bool apply_secrets(http::Head& req, std::string& path, const std::string& host,
                       std::uint16_t port) {
        if (secrets().empty()) return true;
        const std::string logged_path = path_only(path);
        const SecretUse use = rewrite_request(req, path, host, secrets());
        if (use.refused) {
            emit(ProxyEvent{"net.secret",
                            {{"verdict", "deny"},
                             {"secret", use.secret},
                             {"host", host},
                             {"port", std::to_string(port)},
                             {"method", req.method},
                             {"path", logged_path},
                             {"where", use.where},
                             {"rule", "secrets." + use.secret},
                             {"reason", "the stand-in of " + use.secret +
                                            " was sent to a host it is not bound to"}}});
            return false;
        }
        if (!use.substituted.empty()) {
            std::string what;
            for (const auto& u : use.substituted) what += (what.empty() ? "" : ", ") + u;
            emit(ProxyEvent{"net.secret",
                            {{"verdict", "allow"},
                             {"host", host},
                             {"port", std::to_string(port)},
                             {"method", req.method},
                             {"path", logged_path},
                             {"substituted", what}}});
        }
        return true;
    }

    // ---- request rules (policy/requestrules.hpp)

    // For a host with request rules: judge this request (every one on the connection, not
    // just the first). Allowed: the target becomes the normalized path (plus the query), so
    // the server sees the path that was judged. Refused: the 403 to send, and the connection
    // ends with it. Either way one `decision` event, which names the method and the path but
    // never the query, a header value or the body. "" for a request that may go on.
    std::string check_request(http::Head& req, std::string& target, const std::string& host,
                              std::uint16_t port) {
        if (!policy::has_request_rules(opt.net, host)) return {};
        std::string path;
        const policy::Decision d = policy::decide_request(opt.net, req.method, host, target, path);
        const std::string logged = path.empty() ? path_only(target) : path;
        ProxyEvent ev{"decision",
                      {{"op", "request"},
                       {"target", host + ":" + std::to_string(port) + logged},
                       {"method", req.method},
                       {"host", host},
                       {"port", std::to_string(port)},
                       {"path", logged},
                       {"verdict", verdict_name(d.verdict)},
                       {"rule", d.rule},
                       {"source", d.source.str()}}};
        if (d.verdict != policy::Verdict::allow) {
            ev.fields.emplace_back("reason", d.reason);
            emit(std::move(ev));
            return http::error_response(403, "Forbidden",
                                        "refused by " + d.rule + " (" + d.source.str() +
                                            "): " + d.reason,
                                        d.rule);
        }
        emit(std::move(ev));
        const std::size_t q = target.find('?');
        const std::size_t f = target.find('#');
        target = path + (q < f ? target.substr(q, f == std::string::npos ? f : f - q) : "");
        return {};
    }

    // A CONNECT to a host with request rules that cannot be intercepted (no CA in this run)
    // would carry requests nobody judges: refused, as the rules' host is.
    std::string check_tunnel(const std::string& host, std::uint16_t port) {
        if (!policy::has_request_rules(opt.net, host) || intercepts(host)) return {};
        const std::string why = "CONNECT " + host + ": its requests cannot be judged (the proxy "
                                "has no CA to intercept it), so it is refused";
        emit(ProxyEvent{"decision",
                        {{"op", "request"},
                         {"target", host + ":" + std::to_string(port)},
                         {"method", "CONNECT"},
                         {"host", host},
                         {"port", std::to_string(port)},
                         {"verdict", "deny"},
                         {"rule", "network.request"},
                         {"source", "<default>"},
                         {"reason", why}}});
        return http::error_response(403, "Forbidden", why, "network.request");
    }

    // ---- what leaves (net/dlp): on for every request the proxy reads when the run has
    // secrets, i.e. plain HTTP to any host and the requests inside intercepted tunnels.

    bool dlp_on() const { return opt.intercept != nullptr; }

    // The finding logged (net.dlp) and the client's answer; never the value, and not the
    // path when the value was in the target. `req`'s method and target are as the sandbox
    // sent them (rewrite_request changes fields and a copy of the target only).
    std::string dlp_refusal(const dlp::Finding& f, const http::Head& req, const std::string& host,
                            std::uint16_t port) {
        ProxyEvent ev{"net.dlp",
                      {{"verdict", "deny"},
                       {"host", host},
                       {"port", std::to_string(port)},
                       {"method", f.where == "method" ? "" : req.method},
                       {"rule", f.rule},
                       {"where", f.where}}};
        if (f.where != "url" && f.where != "method") {
            // Origin-form: an absolute-form target (plain HTTP) loses its scheme and host.
            std::string path = path_only(req.target);
            if (path.rfind("http://", 0) == 0) {
                const std::size_t slash = path.find('/', 7);
                path = slash == std::string::npos ? "/" : path.substr(slash);
            }
            ev.fields.emplace_back("path", path);
        }
        if (f.where == "body") ev.fields.emplace_back("offset", std::to_string(f.offset));
        if (!f.detail.empty()) ev.fields.emplace_back("reason", f.detail);
        emit(std::move(ev));
        return http::error_response(
            403, "Forbidden",
            "request to " + host + " refused by rule " + f.rule + " (" + f.where +
                (f.where == "body" ? " at byte " + std::to_string(f.offset) : "") +
                (f.detail.empty() ? ": it carries a credential that must not leave the sandbox"
                                  : ": " + f.detail) + ")",
            "dlp." + f.rule);
    }

    // The head as the sandbox sent it, before any stand-in is swapped: "" when it may go,
    // otherwise the answer for the client.
    std::string dlp_head(const http::Head& req, const std::string& host, std::uint16_t port,
                         const http::Body& body) {
        if (!dlp_on()) return {};
        const dlp::Finding f = dlp::check_head(dlp_rules, host, req, body);
        return f ? dlp_refusal(f, req, host, port) : std::string();
    }

    // A body refused mid-way: the upstream connection is reset (never a clean end, so the
    // server cannot take the request as complete) and the client told, as its response has
    // not begun.
    std::string dlp_abort(Client& c, const dlp::BodyScanner& scan, const http::Head& req,
                          const std::string& host, std::uint16_t port) {
        if (c.up_open) {
            ::linger l{1, 0};
            ::setsockopt(c.up.native_handle(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
        close_upstream(c);
        return dlp_refusal(scan.finding(), req, host, port);
    }

    // After a 403 for a body that is still arriving: the client gets to the end of what it
    // sends (at most kDrain bytes, for at most two seconds; the watchdog ends it) and reads
    // the answer, instead of a reset in the middle of its write.
    static constexpr std::size_t kDrain = 4 * 1024 * 1024;
    awaitable<void> drain(Client& c, TlsConn* tls) {
        c.deadline = Clock::now() + std::chrono::seconds(2);
        std::size_t total = 0;
        std::string scratch;
        std::error_code ec;
        if (tls) tls->shutdown();
        else c.sock.shutdown(tcp::socket::shutdown_send, ec);
        while (total < kDrain) {
            scratch.clear();
            const std::size_t n = tls ? co_await tls_read(*tls, c.sock, scratch)
                                      : co_await read_more(c.sock, scratch);
            if (n == 0) break;
            total += n;
        }
    }

    awaitable<void> refuse_secret(Client& c, const http::Head& req, const std::string& host) {
        co_await refuse(c, 403, "Forbidden",
                        req.method + " " + host + " refused: it carries the stand-in of a secret "
                        "that is not bound to this host", "secrets");
    }

    static awaitable<void> tls_wait(tcp::socket& s, TlsConn::Io io) {
        co_await s.async_wait(io == TlsConn::Io::want_write ? tcp::socket::wait_write
                                                            : tcp::socket::wait_read,
                              use_awaitable);
    }

    static awaitable<void> tls_handshake(TlsConn& t, tcp::socket& s) {
        for (;;) {
            const TlsConn::Io r = t.handshake();
            if (r == TlsConn::Io::done) co_return;
            if (r == TlsConn::Io::want_read || r == TlsConn::Io::want_write) {
                co_await tls_wait(s, r);
                continue;
            }
            throw std::runtime_error(r == TlsConn::Io::closed ? "closed during the TLS handshake"
                                                              : t.error());
        }
    }

    // tls_handshake with its failure in `error` instead of thrown: two of them run side by
    // side, and one's failure must not cancel the other halfway.
    static awaitable<void> handshake_noexcept(TlsConn& t, tcp::socket& s, std::string& error) {
        try {
            co_await tls_handshake(t, s);
        } catch (const std::exception& e) {
            error = e.what();
            if (error.empty()) error = "TLS handshake failed";
        }
    }

    // Appends what there is (up to a chunk); 0 at the end of the stream.
    static awaitable<std::size_t> tls_read(TlsConn& t, tcp::socket& s, std::string& buf) {
        for (;;) {
            const std::size_t old = buf.size();
            buf.resize(old + kReadChunk);
            std::size_t got = 0;
            const TlsConn::Io r = t.read(buf.data() + old, kReadChunk, got);
            buf.resize(old + got);
            if (r == TlsConn::Io::done) co_return got;
            if (r == TlsConn::Io::closed) co_return 0;
            if (r == TlsConn::Io::failed) throw std::runtime_error(t.error());
            co_await tls_wait(s, r);
        }
    }

    static awaitable<void> tls_write(TlsConn& t, tcp::socket& s, std::string_view data) {
        while (!data.empty()) {
            std::size_t put = 0;
            const TlsConn::Io r = t.write(data.data(), data.size(), put);
            if (r == TlsConn::Io::done) {
                data.remove_prefix(put);
                continue;
            }
            if (r == TlsConn::Io::closed || r == TlsConn::Io::failed)
                throw std::runtime_error(t.error().empty() ? "TLS connection closed" : t.error());
            co_await tls_wait(s, r);
        }
    }

    // One body between two TLS connections; as forward_body, but every byte passes through
    // this process (it is decrypted and encrypted again).
    static awaitable<void> tls_body(TlsConn& from, tcp::socket& fs, TlsConn& to, tcp::socket& ts,
                                    const http::Body& body, std::string& pre,
                                    std::uint64_t& counter, dlp::BodyScanner* scan = nullptr) {
        std::string held;  // what net/dlp lets go of a piece, when it scans
        switch (body.kind) {
            case http::BodyKind::none: co_return;
            case http::BodyKind::length: {
                std::uint64_t left = body.length;
                for (;;) {
                    const std::size_t n =
                        static_cast<std::size_t>(std::min<std::uint64_t>(pre.size(), left));
                    co_await tls_write(to, ts,
                                       scanned(scan, std::string_view(pre).substr(0, n), held));
                    counter += n;
                    left -= n;
                    pre.erase(0, n);
                    if (left == 0) co_return;
                    if (co_await tls_read(from, fs, pre) == 0)
                        throw std::runtime_error("connection closed inside a body");
                }
            }
            case http::BodyKind::chunked: {
                http::Chunked chunked;
                for (;;) {
                    const std::size_t k = chunked.feed(pre);
                    if (!chunked.error().empty()) throw std::runtime_error(chunked.error());
                    co_await tls_write(to, ts,
                                       scanned(scan, std::string_view(pre).substr(0, k), held));
                    counter += k;
                    pre.erase(0, k);
                    if (chunked.done()) co_return;
                    if (co_await tls_read(from, fs, pre) == 0)
                        throw std::runtime_error("connection closed inside a chunked body");
                }
            }
            case http::BodyKind::until_close:
                for (;;) {
                    co_await tls_write(to, ts, pre);
                    counter += pre.size();
                    pre.clear();
                    if (co_await tls_read(from, fs, pre) == 0) co_return;
                }
        }
    }

    awaitable<std::size_t> read_side(Side s, std::string& buf) {
        if (s.tls) co_return co_await tls_read(*s.tls, s.sock, buf);
        co_return co_await read_more(s.sock, buf);
    }

    static awaitable<void> write_side(Side s, std::string_view data) {
        if (s.tls) co_await tls_write(*s.tls, s.sock, data);
        else co_await write_all(s.sock, data);
    }

    // The upstream's response to `req`, relayed to the client: interim (1xx) heads, then the
    // final head (a real secret value in it masked) and its body. A plain body moves by
    // splice; an intercepted one is decrypted and encrypted again. An upstream that closes
    // without a response, or answers something malformed, gets the client a 502.
    awaitable<After> respond(Client& c, Side up, Side down, const http::Head& req,
                             const std::string& authority) {
        std::string ubuf;
        http::HeadResult rr;
        for (;;) {
            rr = http::parse_response(ubuf, opt.max_head);
            if (rr.status == http::Parse::incomplete) {
                if (co_await read_side(up, ubuf) == 0) {
                    co_await write_side(down, http::error_response(
                                                  502, "Bad Gateway",
                                                  authority + " closed the connection without a response"));
                    co_return After::end;
                }
                continue;
            }
            if (rr.status != http::Parse::done) break;
            ubuf.erase(0, rr.consumed);
            if (rr.head.status >= 100 && rr.head.status < 200 && rr.head.status != 101) {
                std::string interim = http::client_response(rr.head, false);
                mask_reals(interim, secrets());
                co_await write_side(down, interim);
                c.bytes_down += interim.size();
                continue;
            }
            break;
        }
        http::Body rbody;
        std::string rerr = rr.status == http::Parse::done ? "" : rr.error;
        if (rerr.empty() && rr.head.status == 101) rerr = "unexpected 101 Switching Protocols";
        if (rerr.empty()) rerr = http::response_body(rr.head, req.method, rbody);
        if (!rerr.empty()) {
            co_await write_side(down, http::error_response(
                                          502, "Bad Gateway", "invalid response from " + authority + ": " + rerr));
            co_return After::end;
        }
        const bool close_client = req.http10() || req.has_token("connection", "close") ||
                                  rbody.kind == http::BodyKind::until_close;
        std::string rhead = http::client_response(rr.head, close_client);
        // A server that echoes the key (an error page quoting the header) must not hand it to
        // the sandbox: its head says the stand-in instead.
        mask_reals(rhead, secrets());
        co_await write_side(down, rhead);
        c.bytes_down += rhead.size();
        if (up.tls) co_await tls_body(*up.tls, up.sock, *down.tls, down.sock, rbody, ubuf, c.bytes_down);
        else co_await forward_body(up.sock, down.sock, rbody, ubuf, c.bytes_down);
        if (close_client) co_return After::end;
        if (rr.head.http10() || rr.head.has_token("connection", "close") || !ubuf.empty())
            co_return After::new_upstream;
        co_return After::keep;
    }

    // A tunnel to an intercepted host: TLS ends here with a leaf of the run's CA, a second TLS
    // connection goes to the server (verified against the system's trust store), and each
    // request in between is read, checked and rewritten like a plain-HTTP one. HTTP/1.1 only:
    // ALPN offers nothing else on either side.
    awaitable<void> intercepted(ClientPtr cp, const std::string& host, const http::Target& t,
                                std::string& pre) {
        Client& c = *cp;
        if (!pre.empty()) {
            // The client sent its ClientHello before it read the 200: a client that does not
            // wait for the tunnel is not one we can hand to OpenSSL mid-stream.
            emit(ProxyEvent{"net.error", {{"reason", "TLS data before the tunnel was established"},
                                          {"host", host}}});
            co_return;
        }
        Authority& ca = *opt.intercept->ca;
        std::unique_ptr<TlsConn> down = TlsConn::accept(ca, host, c.sock.native_handle());
        begin_upstream_tls(c, host, t.port);  // a captured connection's starts here
        std::unique_ptr<TlsConn> up = std::move(c.up_tls);
        // Both handshakes at once: the one to the server does not wait for the client's, so an
        // intercepted connection costs the longer of the two, not their sum. The server's is
        // for the tunnel's host whatever the client says (its SNI is checked below, before
        // any request is read), and its ClientHello is all the server gets meanwhile. The
        // server's comes first: `&&` runs its first operand until it waits, and a client
        // handshake that never waits (a resumed one whose Finished is already here) would
        // otherwise run to its end before the server's even began.
        c.deadline = Clock::now() + std::max(opt.head_timeout, opt.connect_timeout);
        std::string down_error, up_error;
        {
            using namespace asio::experimental::awaitable_operators;
            co_await (handshake_noexcept(*up, c.up, up_error) &&
                      handshake_noexcept(*down, c.sock, down_error));
        }
        if (!down_error.empty()) {
            emit(ProxyEvent{"net.error", {{"reason", "TLS from the client: " + down_error},
                                          {"host", host}}});
            co_return;
        }
        // The name inside must be the tunnel's, as for a tunnel that is not intercepted.
        if (const std::string sni = down->server_name(); !sni.empty() &&
                                                         policy::canonical_host(sni) != host) {
            emit(ProxyEvent{"net.error",
                            {{"reason", "TLS server name \"" + sni + "\" is not the CONNECT host"},
                             {"host", host}}});
            co_return;
        }
        if (!up_error.empty()) {
            emit(ProxyEvent{"net.error", {{"reason", "TLS to the server: " + up_error},
                                          {"host", host},
                                          {"port", std::to_string(t.port)}}});
            co_await tls_write(*down, c.sock,
                               http::error_response(502, "Bad Gateway",
                                                    "TLS to " + t.authority + " failed: " + up_error));
            co_return;
        }
        c.deadline = Clock::time_point::max();
        http::Target inner = t;
        inner.tunnel = false;
        inner.host_header = t.port == 443 ? host : t.authority;
        std::string buf;
        for (;;) {
            c.deadline = Clock::now() + opt.head_timeout;
            http::HeadResult r;
            for (;;) {
                r = http::parse_request(buf, opt.max_head);
                if (r.status != http::Parse::incomplete) break;
                if (co_await tls_read(*down, c.sock, buf) == 0) co_return;
            }
            c.deadline = Clock::time_point::max();
            std::string err = r.status == http::Parse::done ? "" : r.error;
            http::Head& req = r.head;
            http::Body body;
            if (err.empty() && (req.target.empty() || req.target.front() != '/'))
                err = "an intercepted request must have an origin-form target (\"/path\")";
            if (err.empty() && req.method == "CONNECT") err = "CONNECT inside a tunnel";
            bool foreign = false;
            if (err.empty()) err = foreign_host(req, host, t.port, foreign);
            if (err.empty()) err = http::request_body(req, body);
            if (!err.empty()) {
                emit(ProxyEvent{"net.error", {{"reason", "bad request: " + err}, {"host", host}}});
                // Built before the co_await: GCC 12 destroys a conditional's temporary twice
                // inside a co_await expression.
                std::string answer = foreign ? http::error_response(421, "Misdirected Request", err)
                                             : http::error_response(400, "Bad Request", err);
                co_await tls_write(*down, c.sock, answer);
                co_return;
            }
            buf.erase(0, r.consumed);
            inner.path = req.target;
            if (const std::string refusal = check_request(req, inner.path, host, t.port);
                !refusal.empty()) {
                co_await tls_write(*down, c.sock, refusal);
                down->shutdown();
                co_return;
            }
            if (const std::string no = dlp_head(req, host, t.port, body); !no.empty()) {
                co_await tls_write(*down, c.sock, no);
                co_return;
            }
            std::optional<dlp::BodyScanner> scan;
            if (dlp_on()) scan.emplace(dlp_rules, host, body, &req);
            if (!apply_secrets(req, inner.path, host, t.port)) {
                co_await tls_write(*down, c.sock,
                                   http::error_response(403, "Forbidden",
                                                        req.method + " " + host + " refused: it carries "
                                                        "the stand-in of a secret that is not bound "
                                                        "to this host", "secrets"));
                co_return;
            }
            if (req.has_token("expect", "100-continue") && body.kind != http::BodyKind::none)
                co_await tls_write(*down, c.sock, "HTTP/1.1 100 Continue\r\n\r\n");
            const std::string head = http::upstream_request(req, inner);
            co_await tls_write(*up, c.up, head);
            c.bytes_up += head.size();
            bool refused = false;
            try {
                co_await tls_body(*down, c.sock, *up, c.up, body, buf, c.bytes_up,
                                  scan ? &*scan : nullptr);
            } catch (const BodyRefused&) {
                refused = true;
            }
            if (refused) {
                co_await tls_write(*down, c.sock, dlp_abort(c, *scan, req, host, t.port));
                co_await drain(c, down.get());
                co_return;
            }

            // An intercepted connection cannot move to another upstream: both ends close.
            if (co_await respond(c, Side{c.up, up.get()}, Side{c.sock, down.get()}, req,
                                 t.authority) != After::keep) {
                down->shutdown();
                co_return;
            }
        }
    }

    // The TLS connection to an intercepted host's server, and its first step (the
    // ClientHello, written without waiting); the rest of the handshake is intercepted()'s.
    // Once per connection: a second call keeps the first.
    void begin_upstream_tls(Client& c, const std::string& host, std::uint16_t port) {
        if (c.up_tls) return;
        c.up_tls = TlsConn::connect(*opt.intercept->ca, host, port, c.up.native_handle());
        // want_read (the usual), or a failure that the handshake meets again and reports.
        (void)c.up_tls->handshake();
    }

    // ---- one client connection

    // A TLS client names the server it wants in its first message (SNI). Through a tunnel
    // allowed for one host, that must be the same host: otherwise an allowed front, such as a
    // CDN, would carry requests for any name it serves. What is not TLS is relayed unchecked
    // (the decision was about the host and port), and a server that speaks first is not
    // TLS, whose client always does. Reads into `buf`, which the tunnel then forwards.
    awaitable<bool> check_server_name(Client& c, const std::string& host, std::uint16_t port,
                                      std::string& buf) {
        using namespace asio::experimental::awaitable_operators;
        for (;;) {
            const tls::ClientHello h = tls::client_hello(buf);
            if (h.kind == tls::Hello::incomplete) {
                if (buf.empty()) {
                    auto first =
                        co_await (c.sock.async_wait(tcp::socket::wait_read, use_awaitable) ||
                                  c.up.async_wait(tcp::socket::wait_read, use_awaitable));
                    if (first.index() == 1) co_return true;
                }
                if (co_await read_more(c.sock, buf) == 0) co_return false;
                continue;
            }
            std::string why;
            if (h.kind == tls::Hello::malformed)
                why = "malformed TLS ClientHello";
            else if (h.kind == tls::Hello::name && h.server_name != host)
                why = "TLS server name \"" + h.server_name + "\" is not the CONNECT host";
            if (why.empty()) co_return true;
            emit(ProxyEvent{"net.error",
                            {{"reason", why}, {"host", host}, {"port", std::to_string(port)}}});
            co_return false;
        }
    }

    awaitable<void> tunnel_half(ClientPtr c, std::shared_ptr<Tunnel> t, bool upward) {
        try {
            if (upward) co_await pump(c->sock, c->up, 0, c->bytes_up);
            else co_await pump(c->up, c->sock, 0, c->bytes_down);
        } catch (...) {
            // A reset on one side ends both: closing wakes the other half with an error.
            if (!t->error) t->error = std::current_exception();
            c->close_all();
        }
        if (--t->running == 0) t->done.cancel();
    }

    awaitable<void> tunnel(ClientPtr c) {
        auto t = std::make_shared<Tunnel>(io);
        asio::co_spawn(io, tunnel_half(c, t, true), asio::detached);
        asio::co_spawn(io, tunnel_half(c, t, false), asio::detached);
        std::error_code ec;
        if (t->running > 0) co_await t->done.async_wait(asio::redirect_error(use_awaitable, ec));
    }

    // What the client of a captured connection speaks, from its first bytes (peeked, not
    // read: TLS goes to OpenSSL from its first byte): TLS (a handshake record), HTTP (a
    // request line: a method of capitals and a space, after at most a few empty lines, as
    // parse_request allows; a line cut short after capitals counts, and the parser decides),
    // or something else, which includes a server that speaks first and a client that closes.
    enum class Speaks { tls, http, other };
    awaitable<Speaks> sniff(Client& c) {
        using namespace asio::experimental::awaitable_operators;
        constexpr std::size_t kMaxMethod = 20, kMaxEmpty = 8;
        auto first = co_await (c.sock.async_wait(tcp::socket::wait_read, use_awaitable) ||
                               c.up.async_wait(tcp::socket::wait_read, use_awaitable));
        if (first.index() == 1) co_return Speaks::other;
        char peek[kMaxEmpty + kMaxMethod + 2];
        ssize_t n;
        do n = ::recv(c.sock.native_handle(), peek, sizeof peek, MSG_PEEK | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n <= 0) co_return Speaks::other;
        const std::string_view b(peek, static_cast<std::size_t>(n));
        if (static_cast<unsigned char>(b[0]) == 0x16) co_return Speaks::tls;
        std::size_t i = 0;
        while (i < b.size() && i <= kMaxEmpty && (b[i] == '\r' || b[i] == '\n')) ++i;
        if (i > kMaxEmpty) co_return Speaks::other;
        std::size_t j = i;
        while (j < b.size() && b[j] >= 'A' && b[j] <= 'Z') ++j;
        if (j - i > kMaxMethod) co_return Speaks::other;
        if (j == b.size()) co_return Speaks::http;  // cut short: the parser decides
        co_return j > i && b[j] == ' ' ? Speaks::http : Speaks::other;
    }

    // The target of a request on a captured plain-HTTP connection: the tool spoke to what it
    // took for the server, so the request is origin-form, and its Host must name the host the
    // connection was captured for (with that port, or none): the server must not be asked
    // for another virtual host than the one the policy allowed. Returns the error, or "";
    // `mismatch` says the error is a Host naming another host (an attack, logged as such).
    static std::string captured_target(const http::Head& req, const Captured& cap,
                                       http::Target& out, bool& mismatch) {
        mismatch = false;
        if (req.method == "CONNECT") return "CONNECT on a captured connection";
        if (req.target.empty() || req.target.front() != '/')
            return "a request on a captured connection must have an origin-form target "
                   "(\"/path\")";
        out = http::Target{};
        out.host = cap.host;
        out.port = cap.port;
        out.authority = cap.host + ":" + std::to_string(cap.port);
        out.host_header = cap.port == 80 ? cap.host : out.authority;
        out.path = req.target.substr(0, req.target.find('#'));
        return foreign_host(req, cap.host, cap.port, mismatch);
    }

    // Whether a request's Host names the host its connection was opened (and judged) for,
    // with that port or none: on a captured plain connection and inside an intercepted
    // tunnel the request line carries no host, and a Host naming another one asks the
    // server for a virtual host the policy never allowed. Returns the error, or "";
    // `mismatch` says the error is a Host naming another host (an attack, logged as such).
    static std::string foreign_host(const http::Head& req, const std::string& host, int port,
                                    bool& mismatch) {
        mismatch = false;
        const std::vector<std::string> hosts = req.all("host");
        if (hosts.size() > 1) return "more than one Host field";
        if (hosts.empty()) return {};  // HTTP/1.0: the connection's host is the one asked
        const std::string& h = hosts.front();
        bool same = false;
        try {
            const policy::ConnectTarget ct = policy::parse_target(h);
            const std::size_t colon = h.rfind(':');
            const bool has_port = colon != std::string::npos && h.back() != ']' &&
                                  (h.front() == '[' || h.find(':') == colon);
            same = ct.host == policy::canonical_host(host) && (!has_port || ct.port == port);
        } catch (const std::invalid_argument&) {
        }
        if (same) return {};
        mismatch = true;
        return "Host " + util::quote(h) + " is not " + host + ":" + std::to_string(port) +
               ", the host this connection was made to";
    }

    // A captured connection: the CONNECT the client did not send, and no 200 for it. The
    // same decision, upstream, interception and server-name check as in handle(); plain
    // HTTP goes request by request through the same checks as a proxied request.
    awaitable<void> handle_captured(ClientPtr cp) {
        Client& c = *cp;
        http::Target target;
        target.tunnel = true;
        target.host = c.captured->host;
        target.port = c.captured->port;
        // An IPv6 literal comes bracketed, as policy writes it.
        target.authority = target.host + ":" + std::to_string(target.port);
        target.host_header = target.authority;
        c.deadline = Clock::now() + opt.connect_timeout;
        if (!co_await open_upstream(cp, target, "CONNECT")) co_return;
        c.deadline = Clock::time_point::max();
        c.established = true;
        c.quiet_since = Clock::now();
        const std::string canon = c.up_host;
        std::string buf;
        const Speaks speaks = co_await sniff(c);
        if (speaks == Speaks::http) {
            co_await handle_requests(cp);
            co_return;
        }
        // Not HTTP and not TLS: relayed as a CONNECT tunnel's bytes are, unless the host has
        // request rules that nobody could apply to them.
        if (speaks == Speaks::other && !check_tunnel(canon, target.port).empty()) {
            co_await refuse(c, 403, "Forbidden", "");
            co_return;
        }
        co_await open_tunnel(cp, canon, target, buf);
    }

    // An established tunnel to `canon` (CONNECT, or a captured connection): intercepted when
    // its host is, else the ClientHello's name checked and the bytes relayed as they are.
    // `buf`: what the client sent after its request head.
    awaitable<void> open_tunnel(ClientPtr cp, const std::string& canon, const http::Target& target,
                                std::string& buf) {
        Client& c = *cp;
        if (intercepts(canon)) {
            co_await intercepted(cp, canon, target, buf);
            co_return;
        }
        if (!co_await check_server_name(c, canon, target.port, buf)) {
            close_upstream(c);
            co_return;
        }
        if (!buf.empty()) {
            co_await write_all(c.up, buf);
            c.bytes_up += buf.size();
            std::string().swap(buf);
        }
        co_await tunnel(cp);
    }

    std::optional<Captured> take_capture(const tcp::socket& s) {
        std::error_code ec;
        const tcp::endpoint peer = s.remote_endpoint(ec);
        if (ec) return std::nullopt;
        const auto a = peer.address();
        if (!(a.is_v4() ? a.to_v4().is_loopback()
                        : a.to_v6().is_v4_mapped() &&
                              asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback()))
            return std::nullopt;
        std::lock_guard<std::mutex> lock(cap_mu);
        const auto now = Clock::now();
        std::erase_if(captures, [&](const auto& e) {
            return now - e.second.second > std::chrono::minutes(1);
        });
        auto it = captures.find(peer.port());
        if (it == captures.end()) return std::nullopt;
        Captured c = std::move(it->second.first);
        captures.erase(it);
        return c;
    }

    awaitable<void> handle(ClientPtr cp) {
        if (cp->captured) co_await handle_captured(cp);
        else co_await handle_requests(cp);
    }

    // Request after request on one client connection: proxy requests (absolute-form, or
    // CONNECT), or on a captured plain-HTTP connection origin-form ones for the captured host.
    awaitable<void> handle_requests(ClientPtr cp) {
        Client& c = *cp;
        std::string buf;
        for (;;) {
            c.deadline = Clock::now() + opt.head_timeout;
            c.established = false;
            http::HeadResult r;
            for (;;) {
                r = http::parse_request(buf, opt.max_head);
                if (r.status != http::Parse::incomplete) break;
                if (co_await read_more(c.sock, buf) == 0) co_return;  // closed between requests
            }
            if (r.status != http::Parse::done) {
                emit(ProxyEvent{"net.error", {{"reason", "bad request: " + r.error}}});
                co_await refuse(c, 400, "Bad Request", r.error);
                co_return;
            }
            buf.erase(0, r.consumed);
            // resize() in read_more keeps the capacity of the largest read: give it back, or
            // every idle keep-alive client and every tunnel would hold 16 KiB for nothing.
            if (buf.empty()) std::string().swap(buf);
            http::Head& req = r.head;
            if (!opt.credential.empty() && !c.captured) {
                // Before anything else is read from the request: a process outside the
                // sandbox that found the port learns nothing of the rules.
                if (!proxy_authorized(req, opt.credential)) {
                    emit(ProxyEvent{"net.error",
                                    {{"reason", "proxy credential missing or wrong"},
                                     {"method", req.method}}});
                    co_await write_all(c.sock, proxy_auth_required());
                    co_return;
                }
                // It is for this hop only: no check or rewrite after this one sees it.
                std::erase_if(req.headers, [](const http::Header& h) {
                    return util::to_lower(h.name) == "proxy-authorization";
                });
            }
            http::Target target;
            http::Body body;
            bool host_mismatch = false;
            std::string err = c.captured ? captured_target(req, *c.captured, target, host_mismatch)
                                         : http::parse_target(req, target);
            if (err.empty() && !target.tunnel) err = http::request_body(req, body);
            if (host_mismatch) {
                emit(ProxyEvent{"net.error",
                                {{"reason", err},
                                 {"host", c.up_host},
                                 {"port", std::to_string(target.port)},
                                 {"method", req.method},
                                 {"path", path_only(target.path)},
                                 {"captured", c.captured->dialled}}});
                co_await refuse(c, 403, "Forbidden", err);
                co_return;
            }
            if (!err.empty()) {
                emit(ProxyEvent{"net.error", {{"reason", "bad request: " + err}}});
                co_await refuse(c, 400, "Bad Request", err);
                co_return;
            }

            // The upstream connection is kept across requests to the same host and port (the
            // decision is a pure function of the plan, so it would be the same again).
            c.deadline = Clock::now() + opt.connect_timeout;
            std::string canon;
            try {
                canon = policy::parse_target(target.authority).host;
            } catch (const std::invalid_argument&) {
            }
            // Checked before anything connects: a refused request never reaches the host.
            if (const std::string refusal = target.tunnel ? check_tunnel(canon, target.port)
                                                          : check_request(req, target.path, canon,
                                                                          target.port);
                !refusal.empty()) {
                co_await write_all(c.sock, refusal);
                co_return;
            }
            std::optional<dlp::BodyScanner> scan;
            if (!target.tunnel && dlp_on()) {
                if (const std::string no = dlp_head(req, canon, target.port, body); !no.empty()) {
                    co_await write_all(c.sock, no);
                    co_return;
                }
                scan.emplace(dlp_rules, canon, body, &req);
            }
            if (!target.tunnel && !apply_secrets(req, target.path, canon, target.port)) {
                co_await refuse_secret(c, req, canon);
                co_return;
            }
            if (target.tunnel || !c.up_open || canon != c.up_host || target.port != c.up_port) {
                close_upstream(c);
                if (!co_await open_upstream(cp, target, req.method)) co_return;
            }
            c.deadline = Clock::time_point::max();
            c.established = true;
            c.quiet_since = Clock::now();

            if (target.tunnel) {
                co_await write_all(c.sock, "HTTP/1.1 200 Connection established\r\n\r\n");
                // The server's ClientHello right after the 200, not before it: the client
                // reads the 200 and makes its own ClientHello meanwhile (on another core)
                // instead of waiting for ours to be made. The server's handshake still
                // starts before the client's ClientHello is read.
                if (intercepts(canon)) begin_upstream_tls(c, canon, target.port);
                co_await open_tunnel(cp, canon, target, buf);
                co_return;
            }

            // Expect: 100-continue is answered here rather than forwarded: the proxy has
            // already decided, and the client should not wait for a server that never saw it.
            if (req.has_token("expect", "100-continue") && body.kind != http::BodyKind::none)
                co_await write_all(c.sock, "HTTP/1.1 100 Continue\r\n\r\n");
            const std::string head = http::upstream_request(req, target);
            co_await write_all(c.up, head);
            c.bytes_up += head.size();
            bool refused = false;
            try {
                co_await forward_body(c.sock, c.up, body, buf, c.bytes_up, scan ? &*scan : nullptr);
            } catch (const BodyRefused&) {
                refused = true;
            }
            if (refused) {
                co_await write_all(c.sock, dlp_abort(c, *scan, req, canon, target.port));
                co_await drain(c, nullptr);
                co_return;
            }

            const After after = co_await respond(c, Side{c.up}, Side{c.sock}, req, target.authority);
            if (after == After::end) co_return;
            if (after == After::new_upstream) close_upstream(c);
        }
    }

    static awaitable<void> watch(ClientPtr c, std::chrono::milliseconds idle) {
        // Ticks of a second, or shorter for a shorter idle timeout (tests).
        const auto tick = std::min<Clock::duration>(std::chrono::seconds(1), idle / 4);
        while (!c->finished) {
            c->watchdog.expires_after(tick);
            std::error_code ec;
            co_await c->watchdog.async_wait(asio::redirect_error(use_awaitable, ec));
            if (c->finished) break;
            const auto now = Clock::now();
            // A request head that never completes, or an upstream that never answers the
            // connect: close, which fails whatever the client's coroutine is waiting on.
            if (now > c->deadline) c->close_all();
            // Connected, and no byte moved either way for `idle`: the same.
            const std::uint64_t moved = c->bytes_up + c->bytes_down;
            if (moved != c->seen || !c->established) {
                c->seen = moved;
                c->quiet_since = now;
            } else if (now - c->quiet_since >= idle) {
                c->idled = true;
                c->close_all();
            }
        }
    }

    awaitable<void> serve(ClientPtr c) {
        clients.insert(c.get());
        asio::co_spawn(io, watch(c, opt.idle_timeout), asio::detached);
        try {
            co_await handle(c);
        } catch (const std::exception&) {
            // A reset, a timeout, a malformed body: this connection ends, the proxy goes on.
        }
        close_upstream(*c);
        c->finished = true;
        c->watchdog.cancel();
        std::error_code ec;
        c->sock.shutdown(tcp::socket::shutdown_both, ec);
        c->sock.close(ec);
        clients.erase(c.get());
    }

    awaitable<void> accept_loop() {
        for (;;) {
            std::error_code ec;
            tcp::socket s = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
            if (stopping || ec == asio::error::operation_aborted) co_return;
            if (ec) {
                // EMFILE and friends: back off instead of spinning; the backlog holds the rest.
                asio::steady_timer pause(io, std::chrono::milliseconds(50));
                co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
                continue;
            }
            s.native_non_blocking(true, ec);
            // A response head and a small body are two writes; Nagle would hold the second
            // until the client ACKs the first.
            s.set_option(tcp::no_delay(true), ec);
            if (clients.size() >= opt.max_clients) {
                const std::string busy = http::error_response(
                    503, "Service Unavailable",
                    "too many connections (" + std::to_string(opt.max_clients) + ")");
                s.write_some(asio::buffer(busy), ec);  // best effort, never waits
                s.close(ec);
                continue;
            }
            auto c = std::make_shared<Client>(io);
            c->captured = take_capture(s);
            c->sock = std::move(s);
            asio::co_spawn(io, serve(c), asio::detached);
        }
    }

    void begin_stop() {
        stopping = true;
        std::error_code ec;
        acceptor.close(ec);
        for (Client* c : clients) c->close_all();
        // Connections waiting for an answer are denied: nobody will take it any more.
        for (auto& [id, p] : pending) p->wake.cancel();
        pending.clear();
        asking.clear();
    }
};

Proxy::Proxy(ProxyOptions options, sys::unique_fd listener) : impl_(std::make_unique<Impl>()) {
    Impl& im = *impl_;
    im.opt = std::move(options);
    const char* portable = std::getenv(kPortableNetEnv);
#ifdef AGENTBOX_TEST_RESOLVER
    if (portable && std::string_view(portable) == "1") im.io_kind = IoKind::portable;
#endif
    im.wake.emplace(im.io_kind);
    // The test switch changes how every byte moves: never silent.
    if (portable && *portable) {
#ifdef AGENTBOX_TEST_RESOLVER
        im.emit(ProxyEvent{"warning", {{"proxy", std::string(kPortableNetEnv) + "=" + portable +
                                                     (im.io_kind == IoKind::portable
                                                          ? ": the portable wake-up and pump"
                                                          : " is ignored: only 1 turns it on")}}});
#else
        im.emit(ProxyEvent{"warning", {{"proxy", std::string(kPortableNetEnv) +
                                                     " is ignored: this build has "
                                                     "AGENTBOX_TEST_RESOLVER off"}}});
#endif
    }
    // Every relayed connection costs two sockets and a pipe: take the hard limit, not the
    // soft one, before 1,000 clients run out of descriptors.
    struct rlimit rl {};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    std::error_code ec;
    im.acceptor.assign(tcp::v4(), listener.get(), ec);
    if (ec) throw sys::SysError("proxy listener", ec.value());
    listener.release();
    im.acceptor.non_blocking(true, ec);
    if (im.opt.intercept) {
        std::vector<dlp::Secret> reals;
        for (const auto& s : im.opt.intercept->secrets) reals.push_back({s.name, s.real, s.stand_in});
        // network.dlp_off: format rules a host receives on purpose; never the secrets' rule.
        std::vector<dlp::RuleOff> off;
        for (const auto& d : im.opt.net.dlp_off) off.push_back({d.rule, d.host});
        im.dlp_rules = dlp::Rules(std::move(reals), std::move(off));
        // The test CA changes which upstream servers are believed: never silent.
        if (const char* ca = std::getenv(kTestCaEnv); ca && *ca) {
#ifdef AGENTBOX_TEST_RESOLVER
            im.opt.intercept->ca->trust_upstream(ca);
            im.emit(ProxyEvent{"warning", {{"proxy", std::string(kTestCaEnv) + " is set: " + ca}}});
#else
            im.emit(ProxyEvent{"warning", {{"proxy", std::string(kTestCaEnv) +
                                                         " is ignored: this build has "
                                                         "AGENTBOX_TEST_RESOLVER off"}}});
#endif
        }
    }
    asio::co_spawn(im.io, im.accept_loop(), asio::detached);
    if (im.opt.intercept) {
        // Each intercepted host's leaf is minted, and the system's trust store loaded, on the
        // proxy's thread while the sandbox starts, not in the first connection's handshake
        // (a signature and a TLS context: part of the first connection's time to first byte
        // otherwise), nor before the sandbox starts. A failure here is met again, and
        // reported, by that connection.
        // The system trust store first (Authority::load_system_trust): it is needed by the
        // first connection's upstream handshake, a leaf only by the client's.
        asio::post(im.io, [&im] {
            try {
                im.opt.intercept->ca->load_system_trust();
            } catch (const std::exception&) {
            }
            for (const std::string& host : im.opt.net.intercept) {
                try {
                    im.opt.intercept->ca->prepare(host);
                } catch (const std::exception&) {
                }
            }
        });
    }
    im.thread = std::thread([&im] {
        // The thread inherits the supervisor's blocked signals (they are read from its
        // signalfd). SIGPIPE from a write into a closed socket is blocked here too: it is a
        // per-thread signal and must not kill agentbox (splice has no MSG_NOSIGNAL).
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        ::pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
        for (;;) {
            try {
                im.run();
                break;
            } catch (const std::exception& e) {
                im.emit(ProxyEvent{"warning", {{"proxy", e.what()}}});
            }
        }
        im.signal_events();
        std::lock_guard<std::mutex> lock(im.done_mu);
        im.done = true;
        im.done_cv.notify_all();
    });
}

Proxy::~Proxy() { stop(); }

int Proxy::event_fd() const { return impl_->wake->fd(); }

void Proxy::expect_capture(std::uint16_t client_port, Captured c) {
    std::lock_guard<std::mutex> lock(impl_->cap_mu);
    impl_->captures[client_port] = {std::move(c), Clock::now()};
}

std::vector<ProxyEvent> Proxy::take_events() {
    impl_->wake->drain();
    std::lock_guard<std::mutex> lock(impl_->mu);
    return std::exchange(impl_->events, {});
}

void Proxy::answer(std::uint64_t id, bool allow, bool session, std::string why) {
    Impl* im = impl_.get();
    asio::post(im->io, [im, id, allow, session, why = std::move(why)]() mutable {
        im->take_answer(id, allow, session, std::move(why));
    });
}

void Proxy::stop(std::chrono::milliseconds grace) {
    Impl& im = *impl_;
    if (im.stopped.exchange(true)) return;
    asio::post(im.io, [&im] { im.begin_stop(); });
    {
        std::unique_lock<std::mutex> lock(im.done_mu);
        im.done_cv.wait_for(lock, grace, [&] { return im.done; });
    }
    im.io.stop();
    if (im.thread.joinable()) im.thread.join();
}

}  // namespace agentbox::net
