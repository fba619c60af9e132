// The allowlist proxy (DESIGN.md §6): HTTP/1.1 CONNECT and absolute-URI requests from inside
// the sandbox, each one decided by policy::decide_connect on the Plan — the same function
// `agentbox explain connect` uses — then resolved, address-checked and connected OUTSIDE.
//
// Threading: the proxy runs an asio io_context on a thread of its own, started by the
// supervisor. The supervisor's poll loop (pidfd, signalfd, pty relay, seccomp notifications)
// stays exactly as it is: asio does not expose its reactor fd for integration, and a thread
// keeps a slow upstream from ever delaying the pty or a signal. The two threads share nothing
// but the event queue below, handed over through a wake-up fd (net/wake.hpp) the supervisor
// polls, so the EventSink is still only ever called on the supervisor's thread.
//
// asio stays inside src/net: this header is plain C++.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "net/intercept.hpp"
#include "net/resolve.hpp"
#include "policy/plan.hpp"
#include "sys/fd.hpp"

namespace agentbox::net {

struct ProxyEvent {
    // "decision", "net.connect", "net.close", "net.error", "warning" are for the log.
    // "ask" (only with ProxyOptions::ask) is a question for the supervisor, not a log event:
    // fields id, op, target, rule, source; the connection waits until answer(id, ...).
    std::string type;
    std::vector<std::pair<std::string, std::string>> fields;
};

struct ProxyOptions {
    policy::NetPlan net;
    ResolveMap resolve_override;  // test override (resolve.hpp); empty in normal runs
    std::size_t max_head = 64 * 1024;   // request and response heads
    std::size_t max_clients = 4096;     // concurrent client connections; beyond: 503
    std::chrono::milliseconds head_timeout{60000};     // for a request head to arrive
    std::chrono::milliseconds connect_timeout{30000};  // resolve + connect upstream
    // A connection to a server (a tunnel, a request waiting for its response, a body) on which
    // no byte moves either way for this long is closed: a peer that vanished without a FIN
    // would otherwise hold it, and the client's, until the run ends. Squid's read_timeout.
    std::chrono::milliseconds idle_timeout{15 * 60 * 1000};
    // Tests shorten it with AGENTBOX_TEST_PROXY_IDLE_MS (builds with AGENTBOX_TEST_RESOLVER).
    // A connection decided `ask` becomes an "ask" event and waits for answer(); without this
    // (nobody to answer) an ask is a deny.
    bool ask = false;
    // The run's CA and secrets (net/intercept.hpp), when it has secrets: tunnels to the hosts
    // in net.intercept are then terminated here, their requests rewritten (stand-in -> real
    // value) and checked; plain-HTTP requests to any host are checked and rewritten too.
    std::shared_ptr<Intercept> intercept;
    // "user:password" every proxy request (absolute-form or CONNECT) must carry as
    // Proxy-Authorization: Basic, else 407 (net/proxy_auth.hpp). Set only where the proxy
    // listens on a port of the host (Seatbelt); empty on Linux, whose proxy only the
    // sandbox's own network namespace reaches. Never logged.
    std::string credential;
};

// A connection that a tool inside made to an address, not through the proxy variables, which
// the supervisor turned into one to the proxy (DESIGN.md §6, capture): it is judged, logged
// and relayed as a CONNECT to host:port that the client never sent, and answered with no
// proxy bytes of its own (a refusal resets the connection).
struct Captured {
    std::string host;          // the name the synthetic address was given for, or an IP literal
    std::uint16_t port = 0;
    std::string dialled;       // the address the tool connected to, for the log
};

inline constexpr const char* kIdleOverrideEnv = "AGENTBOX_TEST_PROXY_IDLE_MS";
// A PEM file of CAs the proxy also trusts when it verifies an intercepted host's server:
// how the tests' loopback HTTPS servers are reached. Builds with AGENTBOX_TEST_RESOLVER only;
// announced as a warning whenever it is set.
inline constexpr const char* kTestCaEnv = "AGENTBOX_TEST_CA";

class Proxy {
public:
    // `listener` is the listening socket from inside the sandbox (127.0.0.1:PORT in its
    // network namespace); the proxy accepts on it from outside. Starts the thread.
    Proxy(ProxyOptions options, sys::unique_fd listener);
    ~Proxy();  // stop(), join
    Proxy(const Proxy&) = delete;
    Proxy& operator=(const Proxy&) = delete;

    // The connection that arrives from 127.0.0.1:`client_port` (or ::ffff:127.0.0.1) is `c`.
    // Said before that connection is made, from any thread; forgotten when it arrives, or
    // after a minute when it never does.
    void expect_capture(std::uint16_t client_port, Captured c);

    // Readable (net/wake.hpp) when events are waiting, once the proxy's thread has nothing
    // ready to run (or has run for 5 ms since the first of them): a burst of events is one
    // wake-up, after the work that made them. Take them with take_events().
    int event_fd() const;
    std::vector<ProxyEvent> take_events();

    // The answer to the "ask" event `id`, from any thread. With `session`, the answer holds
    // for every later connection to the same host:port in this run; otherwise for the one
    // connection that asked. `why` is told to the client when it is a deny. Unknown ids (the
    // connection is gone) are ignored.
    void answer(std::uint64_t id, bool allow, bool session, std::string why);

    // Stop accepting, close every connection (each still reports its net.close), wait at most
    // `grace` for that, then end the thread. Idempotent.
    void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace agentbox::net
