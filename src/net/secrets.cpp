#include "net/secrets.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "net/portable.hpp"
#include "util/strings.hpp"

extern char** environ;

namespace agentbox::net {

namespace {

constexpr std::size_t kMaxValue = 64 * 1024;
constexpr std::size_t kMinRandom = 24;
constexpr std::size_t kMinValue = 8;
constexpr std::string_view kAlnum =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    if (from.empty()) return;
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
}

std::string trim_newline(std::string v) {
    if (!v.empty() && v.back() == '\n') v.pop_back();
    if (!v.empty() && v.back() == '\r') v.pop_back();
    return v;
}

// Reads the variable, then overwrites its bytes where they lie (the environment block that
// /proc/PID/environ shows, for this process and any clone of it) and removes it.
std::string take_env(const std::string& var) {
    for (char** e = environ; e && *e; ++e) {
        const std::size_t n = var.size();
        if (std::strncmp(*e, var.c_str(), n) != 0 || (*e)[n] != '=') continue;
        char* value = *e + n + 1;
        std::string v(value);
        std::memset(value, 0, std::strlen(value));
        ::unsetenv(var.c_str());
        return v;
    }
    const char* v = std::getenv(var.c_str());
    return v ? v : "";
}

std::string read_file(const std::string& name, const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        throw std::runtime_error("secret " + name + ": open " + util::quote(path) + ": " +
                                 std::strerror(errno));
    std::string v;
    char buf[4096];
    for (;;) {
        const ssize_t r = ::read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            const int err = errno;
            ::close(fd);
            throw std::runtime_error("secret " + name + ": read " + util::quote(path) + ": " +
                                     std::strerror(err));
        }
        if (r == 0) break;
        v.append(buf, static_cast<std::size_t>(r));
        if (v.size() > kMaxValue) {
            ::close(fd);
            throw std::runtime_error("secret " + name + ": " + util::quote(path) +
                                     " is larger than 64 KiB: not a credential");
        }
    }
    ::close(fd);
    return trim_newline(std::move(v));
}

// The command runs outside the sandbox with agentbox's own environment, stdin and stderr
// (so `pass` or `op` may prompt); only its stdout is taken.
std::string run_command(const std::string& name, const std::vector<std::string>& argv) {
    int p[2];
    if (!open_pipe(p, false))
        throw std::runtime_error("secret " + name + ": pipe: " + std::strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(p[1]);
    if (rc != 0) {
        ::close(p[0]);
        throw std::runtime_error("secret " + name + ": command " + util::quote(argv[0]) + ": " +
                                 std::strerror(rc));
    }
    std::string v;
    char buf[4096];
    bool too_big = false;
    for (;;) {
        const ssize_t r = ::read(p[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (v.size() <= kMaxValue) v.append(buf, static_cast<std::size_t>(r));
        else too_big = true;
    }
    ::close(p[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("secret " + name + ": command " + util::quote(argv[0]) +
                                 " failed (" +
                                 (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                                    : "killed by signal " + std::to_string(WTERMSIG(status))) +
                                 ")");
    if (too_big || v.size() > kMaxValue)
        throw std::runtime_error("secret " + name + ": command " + util::quote(argv[0]) +
                                 " printed more than 64 KiB: not a credential");
    return trim_newline(std::move(v));
}

}  // namespace

std::vector<SecretValue> resolve_secrets(const std::map<std::string, profile::Secret>& secrets) {
    std::vector<SecretValue> out;
    for (const auto& [name, s] : secrets) {
        SecretValue v;
        v.name = name;
        for (const auto& h : s.hosts) v.hosts.push_back(h.value);
        std::string where;
        if (!s.file.empty()) {
            v.real = read_file(name, s.file);
            where = "file " + util::quote(s.file);
        } else if (!s.command.empty()) {
            v.real = run_command(name, s.command);
            where = "command " + util::quote(s.command.front());
        } else {
            v.real = take_env(s.env);
            where = "environment variable " + s.env;
        }
        if (v.real.empty())
            throw std::runtime_error("secret " + name + " (" + s.src.str() + "): " + where +
                                     " gives no value");
        if (v.real.find_first_of("\r\n") != std::string::npos || v.real.find('\0') != std::string::npos)
            throw std::runtime_error("secret " + name + " (" + s.src.str() + "): " + where +
                                     " gives a value with a line break or NUL: not one header value");
        // Every occurrence of a real value in what the sandbox is given (its environment) is
        // masked, and every request is searched for it: a value of a few bytes occurs in
        // ordinary text ("x" in "/run/agentbox"), which it would mangle, and is no credential.
        if (v.real.size() < kMinValue)
            throw std::runtime_error("secret " + name + " (" + s.src.str() + "): " + where +
                                     " gives a value of " + std::to_string(v.real.size()) +
                                     " byte(s); a secret must be at least " +
                                     std::to_string(kMinValue) + " bytes");
        v.stand_in = random_stand_in(v.real);
        out.push_back(std::move(v));
    }
    return out;
}

std::string stand_in_for(std::string_view real, std::string_view random) {
    std::size_t keep = 0;
    for (std::size_t i = 0; i < real.size() && i < 16; ++i)
        if (real[i] == '-' || real[i] == '_') keep = i + 1;
    // A prefix that is most of the value is no prefix (a short "a-b-c" password).
    if (keep * 2 > real.size()) keep = 0;
    const std::size_t want = std::max(real.size() - keep, kMinRandom);
    std::string out(real.substr(0, keep));
    out.append(random.substr(0, std::min(want, random.size())));
    return out;
}

std::string random_stand_in(std::string_view real) {
    const std::size_t n = std::max(real.size(), kMinRandom) + 1;
    std::string r;
    unsigned char byte = 0;
    while (r.size() < n) {
        // getentropy: Linux and macOS alike (getrandom is Linux's).
        if (::getentropy(&byte, 1) != 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("getentropy: ") + std::strerror(errno));
        }
        // 62 * 4 = 248: rejecting 248..255 keeps every character equally likely.
        if (byte < 248) r.push_back(kAlnum[byte % 62]);
    }
    return stand_in_for(real, r);
}

std::string base64_encode(std::string_view in) {
    static constexpr char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        out += k[(v >> 18) & 63];
        out += k[(v >> 12) & 63];
        out += k[(v >> 6) & 63];
        out += k[v & 63];
    }
    if (i + 1 == in.size()) {
        const unsigned v = static_cast<unsigned char>(in[i]) << 16;
        out += k[(v >> 18) & 63];
        out += k[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == in.size()) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                           (static_cast<unsigned char>(in[i + 1]) << 8);
        out += k[(v >> 18) & 63];
        out += k[(v >> 12) & 63];
        out += k[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

bool base64_decode(std::string_view in, std::string& out) {
    out.clear();
    unsigned acc = 0;
    int bits = 0;
    std::size_t pad = 0;
    for (char c : in) {
        int v;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+' || c == '-') v = 62;
        else if (c == '/' || c == '_') v = 63;
        else if (c == '=') {
            ++pad;
            continue;
        } else return false;
        if (pad) return false;  // data after padding
        acc = (acc << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return pad <= 2;
}

namespace {

const SecretValue* bound(const SecretValue& s, std::string_view host) {
    for (const auto& h : s.hosts)
        if (h == host) return &s;
    return nullptr;
}

// One value: refused (returns false) if it carries a stand-in for another host; otherwise the
// stand-ins of `host` replaced.
bool rewrite_value(std::string& value, std::string_view where, std::string_view host,
                   const std::vector<SecretValue>& secrets, SecretUse& use) {
    for (const auto& s : secrets) {
        if (value.find(s.stand_in) == std::string::npos) continue;
        if (!bound(s, host)) {
            use.refused = true;
            use.secret = s.name;
            use.where = std::string(where);
            return false;
        }
        replace_all(value, s.stand_in, s.real);
        use.substituted.push_back(s.name + " in " + std::string(where));
    }
    return true;
}

}  // namespace

SecretUse rewrite_request(http::Head& request, std::string& target, std::string_view host,
                          const std::vector<SecretValue>& secrets) {
    SecretUse use;
    if (secrets.empty()) return use;
    // Changes are made on copies and applied only when nothing is refused.
    std::string t = target;
    if (!rewrite_value(t, "request target", host, secrets, use)) return use;
    std::vector<http::Header> headers = request.headers;
    for (auto& h : headers) {
        // A field name is never rewritten, but it must not carry a stand-in elsewhere either.
        std::string name = h.name;
        for (const auto& s : secrets)
            if (name.find(s.stand_in) != std::string::npos && !bound(s, host)) {
                use.refused = true;
                use.secret = s.name;
                use.where = "a field name";
                return use;
            }
        if (!rewrite_value(h.value, h.name, host, secrets, use)) return use;
        // Basic credentials: the stand-in is inside base64(user:password).
        if (!(iequal(h.name, "authorization") || iequal(h.name, "proxy-authorization"))) continue;
        const std::size_t sp = h.value.find(' ');
        if (sp == std::string::npos || !iequal(std::string_view(h.value).substr(0, sp), "basic"))
            continue;
        std::string creds;
        std::size_t b = sp;
        while (b < h.value.size() && h.value[b] == ' ') ++b;
        if (!base64_decode(std::string_view(h.value).substr(b), creds)) continue;
        const std::string before = creds;
        if (!rewrite_value(creds, h.name + " (basic)", host, secrets, use)) return use;
        if (creds != before) h.value = h.value.substr(0, sp) + " " + base64_encode(creds);
    }
    request.headers = std::move(headers);
    target = std::move(t);
    return use;
}

void mask_reals(std::string& text, const std::vector<SecretValue>& secrets) {
    for (const auto& s : secrets) replace_all(text, s.real, s.stand_in);
}

}  // namespace agentbox::net
