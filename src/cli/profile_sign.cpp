#include "cli/profile_sign.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <iostream>
#include <optional>

#include "audit/minisign.hpp"
#include "cli/config.hpp"
#include "cli/errors.hpp"
#include "cli/term.hpp"
#include "sys/error.hpp"
#include "sys/fd.hpp"
#include "sys/io.hpp"

namespace agentbox::cli {

namespace ms = audit::minisign;

namespace {

std::string read_text(const std::string& path, const char* what) {
    std::string out;
    if (const int err = sys::read_file(path, out, 1 << 20); err != 0)
        throw sys::SysError(std::string("read ") + what, path, err);
    return out;
}

// O_EXCL unless `replace`: a key pair is never overwritten by accident.
void write_new(const std::string& path, std::string_view data, mode_t mode, bool replace) {
    const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (replace ? O_TRUNC : O_EXCL);
    sys::unique_fd fd(::open(path.c_str(), flags, mode));
    if (!fd) {
        if (errno == EEXIST)
            throw Failure(path + " exists; pass -f to overwrite it", exit_refused);
        throw sys::SysError("open", path, errno);
    }
    if (::fchmod(fd.get(), mode) != 0) throw sys::SysError("fchmod", path, errno);
    sys::write_all(fd.get(), data, path);
    if (::fsync(fd.get()) != 0) throw sys::SysError("fsync", path, errno);
}

// A signature replaces the old one whole or not at all: written beside it, then renamed.
void replace_file(const std::string& path, std::string_view data) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    try {
        write_new(tmp, data, 0644, false);
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        throw sys::SysError("rename", path, err);
    }
}

std::string base_name(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

int keygen_profile_key(const ProfileOptions& o) {
    const std::string pub = o.public_key_file.empty() ? o.secret_key + ".pub" : o.public_key_file;
    if (pub == o.secret_key) throw UsageError("keygen: the public and secret key files are the same");
    const ms::SecretKey key = ms::SecretKey::generate();
    std::string text = key.file();
    write_new(o.secret_key, text, 0600, o.force);
    audit::sig::wipe(text.data(), text.size());
    const ms::PublicKey pk = key.public_key();
    write_new(pub, ms::public_key_file(pk), 0644, o.force);
    std::cerr << "agentbox: key " << ms::key_id_hex(pk.id) << ": secret key " << o.secret_key
              << ", public key " << pub << "\n";
    std::cout << ms::public_key_base64(pk) << '\n';
    return 0;
}

int sign_profiles(const ProfileOptions& o) {
    std::string text = read_text(o.secret_key, "secret key");
    std::optional<ms::SecretKey> key;
    try {
        key.emplace(ms::SecretKey::parse(text));
    } catch (const ms::FormatError& e) {
        audit::sig::wipe(text.data(), text.size());
        throw Failure(o.secret_key + ": " + e.what(), exit_usage);
    }
    audit::sig::wipe(text.data(), text.size());
    for (const std::string& file : o.sign) {
        const std::string data = read_text(file, "profile");
        const std::string comment =
            !o.trusted_comment.empty()
                ? o.trusted_comment
                : "timestamp:" + std::to_string(std::time(nullptr)) + "\tfile:" + base_name(file) +
                      "\thashed";
        std::string sig;
        try {
            sig = ms::sign(*key, data, comment);
        } catch (const ms::FormatError& e) {
            throw UsageError(std::string("--trusted-comment: ") + e.what());
        }
        replace_file(signature_path(file), sig);
        std::cout << file << ": signed by key " << ms::key_id_hex(key->id()) << " ("
                  << signature_path(file) << ")\n";
    }
    return 0;
}

int verify_profiles(const ProfileOptions& o, const profile::Context& ctx) {
    std::vector<ms::PublicKey> keys;
    try {
        if (!o.public_key.empty()) keys.push_back(ms::parse_public_key(o.public_key));
        else if (!o.public_key_file.empty())
            keys.push_back(ms::parse_public_key(read_text(o.public_key_file, "public key")));
    } catch (const ms::FormatError& e) {
        throw UsageError(std::string("public key: ") + e.what());
    }
    if (o.public_key.empty() && o.public_key_file.empty()) {
        keys = load_config(ctx).trusted_keys;
        if (keys.empty())
            throw UsageError("verify: no key: pass -P KEY or -p FILE, or list trusted_keys in "
                             "config.toml");
    }
    int status = 0;
    for (const std::string& file : o.verify) {
        std::string data, sig;
        if (const int err = sys::read_file(file, data, 1 << 20); err != 0) {
            error(sys::SysError("read", file, err).what());
            status = exit_refused;
            continue;
        }
        const std::string sig_file = signature_path(file);
        if (const int err = sys::read_file(sig_file, sig, 64 << 10); err != 0) {
            error(file + ": not signed: " + sys::SysError("read", sig_file, err).what());
            status = exit_refused;
            continue;
        }
        const ms::Verdict v = ms::verify(keys, data, sig);
        if (!v.ok) {
            error(file + ": " + v.why);
            status = exit_refused;
            continue;
        }
        std::cout << file << ": " << paint(1, Style::green, "ok") << ", signed by key "
                  << v.key_id << "; trusted comment: " << v.trusted_comment << '\n';
    }
    return status;
}

}  // namespace agentbox::cli
