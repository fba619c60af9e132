// Landlock denials, as the kernel's audit subsystem reports them (Landlock ABI 7, Linux 6.15).
// Landlock answers a denied access with EACCES and tells nobody but audit: a record
// (LANDLOCK_ACCESS) with the domain's id and what was blocked, the domain's own record
// (LANDLOCK_DOMAIN) the first time, and, when the task has an audit context, the SYSCALL
// record with the caller's pid. The supervisor reads them from the audit netlink multicast
// group and turns each denial of its own sandbox into a "landlock.denied" event.
//
// What can be observed depends on the host, never on the sandbox:
// - the multicast group needs CAP_AUDIT_READ in the initial user namespace: as root only;
// - the kernel emits nothing while audit is disabled (auditctl -e 0, the default without
//   auditd or audit=1). agentbox does not switch it on: it is a system-wide setting, and
//   without auditd the kernel copies every record to its log.
// Unobservable means unlogged, not unenforced: the access is denied either way.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sandbox/backend.hpp"
#include "sys/fd.hpp"

namespace agentbox::sandbox::lnx {

// Whether this process could observe Landlock denials, and if not why and how to fix it.
struct LandlockAuditStatus {
    bool observable = false;
    std::string detail;  // "audit is disabled", "needs CAP_AUDIT_READ (root)", ...
    std::string fix;
};
LandlockAuditStatus landlock_audit_status();

// One audit record: its type, the event's serial number (records of one event share it) and
// its key=value fields, with hex-encoded strings decoded. Pure; exposed for the unit tests.
struct AuditRecord {
    int type = 0;
    std::uint64_t serial = 0;
    std::vector<std::pair<std::string, std::string>> fields;
    std::string get(const std::string& key) const;
};
// Parses the text of one record ("audit(1796474600.725:51): domain=... path=..."); false when
// it is not in that form.
bool parse_audit_record(int type, const std::string& text, AuditRecord& out);

// The records of one audit event turned into a "landlock.denied" event (records other than a
// LANDLOCK_ACCESS's are context). Pure; exposed for the unit tests.
Event landlock_denial_event(const AuditRecord& access, const AuditRecord* syscall);

// The pid, as this process sees it, of the process a pidfd refers to; -1 once it is gone.
pid_t pid_of_pidfd(int pidfd);

class LandlockAudit {
public:
    // Subscribes when this process may; otherwise inactive (fd() < 0). Before the command may
    // run, so that no denial is emitted before we listen.
    static LandlockAudit open();
    // Closes the subscription when audit is disabled (it then emits nothing). Asked once the
    // command may run, not before: the kernel answers the status request from a thread it
    // creates for the purpose (audit_send_reply), and the request waits for that thread's
    // creation, 1-4 ms or more on a busy machine, which the command need not wait for.
    // Records that arrive meanwhile are read as usual.
    void keep_if_enabled();
    int fd() const { return sock_.get(); }
    bool active() const { return sock_.get() >= 0; }

    // The sandbox: a process in its pid namespace as this process sees it (init). Until it
    // is known no record is attributed; they wait. Only the first call counts.
    void set_sandbox(pid_t init_pid);
    // Reads what is queued; each denial of this sandbox goes to `sink`.
    void handle(const EventSink& sink);
    // At the end of the run: the kernel's records trail the denials they report, so read until
    // every domain of ours has been freed (its last record) and nothing came for a moment, or
    // the time is up. Then closes the socket.
    void finish(const EventSink& sink);
    // One record, as handle() reads them; for the unit tests.
    void take(const AuditRecord& r, const EventSink& sink);

private:
    struct Group {
        std::vector<AuditRecord> access;
        std::vector<AuditRecord> other;  // LANDLOCK_DOMAIN, SYSCALL
    };
    void drain(const EventSink& sink);
    void settle(std::uint64_t serial, Group& g, const EventSink& sink);
    bool ours(const std::string& pid) const;

    sys::unique_fd sock_;
    pid_t init_pid_ = -1;
    dev_t ns_dev_ = 0;
    ino_t ns_ino_ = 0;
    std::map<std::uint64_t, Group> open_;           // by serial, until the event is complete
    std::set<std::string> mine_;                    // domain ids that are this sandbox's
    std::set<std::string> freed_;                   // ... and have been deallocated
    std::map<std::string, std::vector<Event>> waiting_;  // denials of a domain not yet placed
    std::size_t waiting_count_ = 0;
};

}  // namespace agentbox::sandbox::lnx
