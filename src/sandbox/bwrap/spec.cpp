#include "sandbox/bwrap/spec.hpp"

#include <stdexcept>

namespace agentbox::sandbox::bwrap {

namespace {

constexpr const char* kMagic = "agentbox-bwrap-spec-1";

class Writer {
public:
    void str(const std::string& s) {
        num(s.size());
        out_ += s;
    }
    void num(std::uint64_t v) {
        for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

class Reader {
public:
    explicit Reader(const std::string& in) : in_(in) {}
    std::uint64_t num() {
        need(8);
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i)
            v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
        pos_ += 8;
        return v;
    }
    std::string str() {
        const std::uint64_t n = num();
        need(n);
        std::string s = in_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    // A count of items that each take at least 8 bytes: bounded by what is left, so a forged
    // count cannot make us reserve gigabytes.
    std::uint64_t count() {
        const std::uint64_t n = num();
        if (n > (in_.size() - pos_) / 8) throw std::invalid_argument("bwrap spec: bad count");
        return n;
    }
    bool done() const { return pos_ == in_.size(); }

private:
    void need(std::uint64_t n) const {
        if (n > in_.size() - pos_) throw std::invalid_argument("bwrap spec: truncated");
    }
    const std::string& in_;
    std::size_t pos_ = 0;
};

}  // namespace

std::string encode(const Spec& s) {
    const policy::Plan& p = s.plan;
    Writer w;
    w.str(kMagic);
    w.num(p.argv.size());
    for (const auto& a : p.argv) w.str(a);
    w.num(p.env.size());
    for (const auto& e : p.env) {
        w.str(e.name);
        w.str(e.value);
    }
    w.str(p.cwd);
    w.num(p.limits.size());
    for (const auto& l : p.limits) {
        w.str(l.name);
        w.num(l.value);
        w.num(static_cast<std::uint64_t>(l.how));
    }
    const policy::LandlockPlan& ll = p.landlock;
    w.num(static_cast<std::uint64_t>(ll.mode));
    w.num(static_cast<std::uint64_t>(ll.abi));
    w.num(ll.rules.size());
    for (const auto& r : ll.rules) {
        w.str(r.path);
        w.num(r.access);
    }
    w.num(ll.restrict_network);
    w.num(ll.connect_ports.size());
    for (auto port : ll.connect_ports) w.num(port);
    w.num(ll.scope_signals);
    w.num(ll.scope_abstract_unix);
    w.num(static_cast<std::uint64_t>(p.net.mode));
    w.num(p.net.proxy_port);
    w.num(p.net.capture);  // init makes the DNS responder's socket (capture.hpp)
    w.num(p.ns.net);
    w.str(std::string(s.bpf.begin(), s.bpf.end()));
    w.num(s.notify);
    w.num(s.tty);
    return w.take();
}

Spec decode(const std::string& bytes) {
    Reader r(bytes);
    if (r.str() != kMagic) throw std::invalid_argument("bwrap spec: not a spec of this version");
    Spec s;
    policy::Plan& p = s.plan;
    for (auto n = r.count(); n > 0; --n) p.argv.push_back(r.str());
    for (auto n = r.count(); n > 0; --n) {
        policy::EnvVar v;
        v.name = r.str();
        v.value = r.str();
        p.env.push_back(std::move(v));
    }
    p.cwd = r.str();
    for (auto n = r.count(); n > 0; --n) {
        policy::Limit l;
        l.name = r.str();
        l.value = r.num();
        const auto how = r.num();
        if (how > static_cast<std::uint64_t>(policy::Mechanism::stage))
            throw std::invalid_argument("bwrap spec: bad limit mechanism");
        l.how = static_cast<policy::Mechanism>(how);
        p.limits.push_back(std::move(l));
    }
    policy::LandlockPlan& ll = p.landlock;
    const auto mode = r.num();
    if (mode > static_cast<std::uint64_t>(profile::LandlockMode::off))
        throw std::invalid_argument("bwrap spec: bad landlock mode");
    ll.mode = static_cast<profile::LandlockMode>(mode);
    ll.abi = static_cast<int>(r.num());
    for (auto n = r.count(); n > 0; --n) {
        policy::LandlockRule rule;
        rule.path = r.str();
        rule.access = static_cast<unsigned>(r.num());
        ll.rules.push_back(std::move(rule));
    }
    ll.restrict_network = r.num() != 0;
    for (auto n = r.count(); n > 0; --n) ll.connect_ports.push_back(static_cast<std::uint16_t>(r.num()));
    ll.scope_signals = r.num() != 0;
    ll.scope_abstract_unix = r.num() != 0;
    const auto net = r.num();
    if (net > static_cast<std::uint64_t>(profile::NetMode::host))
        throw std::invalid_argument("bwrap spec: bad network mode");
    p.net.mode = static_cast<profile::NetMode>(net);
    p.net.proxy_port = static_cast<std::uint16_t>(r.num());
    p.net.capture = r.num() != 0;
    p.ns.net = r.num() != 0;
    const std::string bpf = r.str();
    s.bpf.assign(bpf.begin(), bpf.end());
    s.notify = r.num() != 0;
    s.tty = r.num() != 0;
    if (!r.done()) throw std::invalid_argument("bwrap spec: trailing bytes");
    return s;
}

}  // namespace agentbox::sandbox::bwrap
