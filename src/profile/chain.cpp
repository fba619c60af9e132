// Resolving `extends` (DESIGN.md §3): every file of the chain is parsed on its own, the chain
// is put in order (each file after everything it extends, each file once), and the layers are
// merged base first.
#include <cstdlib>
#include <set>

#include "profile/load.hpp"
#include "profile/search.hpp"
#include "profile/sha256.hpp"
#include "util/strings.hpp"

namespace agentbox::profile {

namespace {

constexpr std::size_t kMaxDepth = 16;

std::string dir_of(const std::string& path) {
    const std::size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string stem_of(const std::string& path) {
    std::string file = path.substr(path.rfind('/') + 1);
    if (util::ends_with(file, ".toml")) file.resize(file.size() - 5);
    return file;
}

// One file's identity, so that the same file reached by two names or paths is one layer and
// a cycle through a symlink is still a cycle.
std::string identity(const Located& where) {
    if (is_builtin_path(where.path)) return where.path;
    if (char* real = ::realpath(where.path.c_str(), nullptr)) {
        std::string out(real);
        std::free(real);
        return out;
    }
    return where.path;
}

class Chain {
public:
    explicit Chain(const Context& ctx) : ctx_(ctx) {}

    // Depth-first: a file's layers come after those of everything it extends, in the order
    // written. A file already applied is not applied again, so that in a diamond
    // (a extends b and c, both extend base) base cannot undo what b set.
    void visit(const Located& where, const Source& ref) {
        const std::string id = identity(where);
        const std::string shown = where.by_path() ? where.path : where.name;
        for (std::size_t i = 0; i < stack_.size(); ++i) {
            if (stack_[i].id != id) continue;
            std::string chain;
            for (std::size_t j = i; j < stack_.size(); ++j) chain += stack_[j].shown + " -> ";
            throw ProfileError(ref, "extends cycle: " + chain + shown);
        }
        if (done_.count(id) != 0) return;
        if (stack_.size() >= kMaxDepth) {
            std::string chain;
            for (const auto& f : stack_) chain += f.shown + " -> ";
            throw ProfileError(ref, "extends chain is deeper than " + std::to_string(kMaxDepth) +
                                        " profiles: " + chain + shown);
        }

        const std::string text = read_profile(where, ref);
        // Checked before the bytes are parsed, on the bytes that are parsed: every layer of the
        // chain, so an unsigned base cannot slip in under a signed profile. The built-ins are
        // part of the agentbox binary and trusted as it is.
        const bool builtin = is_builtin_path(where.path);
        std::string key_id = builtin ? "builtin" : "";
        if (!builtin && ctx_.check_signature) key_id = ctx_.check_signature(where.path, text);
        Profile layer = parse(text, where.path, ctx_);
        const std::string name = !where.by_path()  ? where.name
                                 : layer.name.set ? layer.name.value
                                                  : stem_of(where.path);
        const char* known = builtin_sha256_of(where.path);
        layer.layers = {Layer{name, where.path, known != nullptr ? known : sha256_hex(text),
                              std::move(key_id)}};

        stack_.push_back(Frame{id, shown});
        for (const Entry& e : layer.extends) {
            // Built-ins live in no directory; a path would depend on the caller's cwd.
            if (builtin && (e.value.find('/') != std::string::npos ||
                            util::ends_with(e.value, ".toml")))
                throw ProfileError(e.src, "a built-in profile cannot extend a path");
            // A profile that extends its own name ("my default extends the default") means the
            // next one of that name in the search path, not itself.
            const std::size_t from = !where.by_path() && e.value == where.name ? where.rank + 1 : 0;
            const std::string base_dir = builtin ? std::string() : dir_of(where.path);
            visit(find_profile(e.value, ctx_, base_dir, from, e.src), e.src);
        }
        stack_.pop_back();
        done_.insert(id);
        ordered_.push_back(std::move(layer));
    }

    Profile merged() const {
        Profile out;
        for (const Profile& p : ordered_) merge_into(out, p);
        return out;
    }

private:
    struct Frame {
        std::string id;
        std::string shown;
    };
    const Context& ctx_;
    std::vector<Frame> stack_;
    std::set<std::string> done_;
    std::vector<Profile> ordered_;
};

}  // namespace

Profile load(const std::string& name_or_path, const Context& ctx) {
    return load_all({name_or_path}, ctx);
}

// `-p a -p b` share one chain: a file both extend (base) is applied once, before either, so
// b's settings are not undone by base coming back after a.
Profile load_all(const std::vector<std::string>& names, const Context& ctx) {
    Chain chain(ctx);
    for (const std::string& n : names) chain.visit(find_profile(n, ctx, ctx.cwd, 0, Source{}), Source{});
    return chain.merged();
}

}  // namespace agentbox::profile
