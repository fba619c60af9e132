/* Tries the syscalls a sandboxed command must not be able to use, one per argument, and prints
 * one line per attempt:
 *     <name>: ok ret=N
 *     <name>: errno=N (<message>)
 * The conformance tests parse these lines; the same probe run on the host (or under a plain
 * `unshare`) shows that each attempt really does something when nothing stops it.
 *
 * Every attempt is issued with syscall(2) so that libc cannot fall back or hide the errno, and
 * with arguments that would succeed on an unconfined host, so that an EPERM is the filter's
 * doing rather than a bad argument. Attempts that a filter answers by killing the process
 * (foreign ABIs) print "<name>: calling" first: the test then sees the line without a result
 * and the exit status 128+SIGSYS.
 *
 * usage: syscalls NAME [ARG] ... (see the table at the bottom) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* <linux/mount.h> and <linux/sched.h> clash with glibc's headers; the few values needed are
 * stable kernel ABI. */
#define PROBE_OPEN_TREE_CLONE 1u
#define PROBE_MOUNT_ATTR_RDONLY 0x1ull
#define PROBE_X32_SYSCALL_BIT 0x40000000l
#define PROBE_I386_GETPID 20

struct probe_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

struct probe_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

static const char *target_arg; /* optional path/pid argument following a name, "name=ARG" */

static void report(const char *name, long ret) {
    if (ret < 0)
        printf("%s: errno=%d (%s)\n", name, errno, strerror(errno));
    else
        printf("%s: ok ret=%ld\n", name, ret);
    fflush(stdout);
}

/* A forked child of a namespace-creating clone exits at once; the parent reaps it. */
static long reap_clone_child(long ret) {
    if (ret == 0) _exit(0);
    if (ret > 0) waitpid((pid_t)ret, NULL, 0);
    return ret;
}

static long try_clone3_newuser(void) {
    struct probe_clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWUSER;
    args.exit_signal = SIGCHLD;
    return reap_clone_child(syscall(SYS_clone3, &args, sizeof args));
}

static long try_clone_newuser(void) {
    /* Raw clone with a NULL stack behaves like fork, in a new user namespace. */
    return reap_clone_child(syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL,
                                    NULL, NULL, NULL));
}

static long try_unshare(int flags) { return syscall(SYS_unshare, flags); }

static long try_setns(void) {
    int fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    long r = syscall(SYS_setns, fd, CLONE_NEWNS);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

static long try_mount(void) {
    return syscall(SYS_mount, "probe", target_arg ? target_arg : "/tmp", "tmpfs", 0ul, NULL);
}

static long try_umount(void) {
    return syscall(SYS_umount2, target_arg ? target_arg : "/proc", 2 /* MNT_DETACH */);
}

static long try_chroot(void) { return syscall(SYS_chroot, "/tmp"); }

static long try_pivot_root(void) { return syscall(SYS_pivot_root, "/", "/"); }

static long try_fsopen(void) { return syscall(SYS_fsopen, "tmpfs", 0u); }

static long try_fspick(void) { return syscall(SYS_fspick, AT_FDCWD, "/", 0u); }

static long try_open_tree(void) {
    return syscall(SYS_open_tree, AT_FDCWD, target_arg ? target_arg : "/",
                   PROBE_OPEN_TREE_CLONE);
}

/* open_tree_attr (Linux 6.15): open_tree with mount attributes; 467 on every architecture
 * whose table is shared (the numbers from 424 on). Newer than libseccomp 2.5.4 can name. No
 * OPEN_TREE_CLONE: without capabilities the kernel refuses a clone itself, and the question
 * is whether the call reaches the kernel at all (a plain open_tree_attr needs nothing). */
static long try_open_tree_attr(void) {
    return syscall(467, AT_FDCWD, target_arg ? target_arg : "/", 0u, NULL, (size_t)0);
}

static long try_move_mount(void) {
    return syscall(SYS_move_mount, AT_FDCWD, "/proc", AT_FDCWD, "/tmp", 0u);
}

static long try_mount_setattr(void) {
    struct probe_mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_clr = PROBE_MOUNT_ATTR_RDONLY; /* make a read-only bind writable */
    return syscall(SYS_mount_setattr, AT_FDCWD, target_arg ? target_arg : "/usr", 0u, &attr,
                   sizeof attr);
}

static long try_io_uring_setup(void) {
    unsigned char params[120]; /* struct io_uring_params, all zero */
    memset(params, 0, sizeof params);
    return syscall(SYS_io_uring_setup, 4u, params);
}

static long target_pid(void) { return target_arg ? strtol(target_arg, NULL, 10) : 1; }

static long try_ptrace(void) {
    long pid = target_pid();
    long r = syscall(SYS_ptrace, PTRACE_ATTACH, pid, NULL, NULL);
    if (r == 0) {
        int e = errno;
        waitpid((pid_t)pid, NULL, __WALL);
        syscall(SYS_ptrace, PTRACE_DETACH, pid, NULL, NULL);
        errno = e;
    }
    return r;
}

static long try_process_vm_readv(void) {
    char buf[16];
    static char src[16];
    struct iovec local = {buf, sizeof buf}, remote = {src, sizeof src};
    return syscall(SYS_process_vm_readv, target_pid(), &local, 1ul, &remote, 1ul, 0ul);
}

static long try_kill0(void) { return syscall(SYS_kill, target_pid(), 0); }

static long try_bpf(void) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    return syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
}

static long try_perf_event_open(void) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_TASK_CLOCK;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    return syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0ul);
}

static long try_userfaultfd(void) { return syscall(SYS_userfaultfd, O_CLOEXEC); }

static long try_keyctl(void) {
    return syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "agentbox-probe");
}

static long try_add_key(void) {
    return syscall(SYS_add_key, "user", "agentbox-probe", "x", 1ul, KEY_SPEC_PROCESS_KEYRING);
}

static long try_personality(void) {
    /* Disabling ASLR is the classic use; the default persona (PER_LINUX) stays allowed. */
    return syscall(SYS_personality, (unsigned long)(PER_LINUX | ADDR_NO_RANDOMIZE));
}

static long try_personality_query(void) { return syscall(SYS_personality, 0xffffffffUL); }

static long try_x32_getpid(void) {
    printf("x32: calling\n");
    fflush(stdout);
    return syscall(PROBE_X32_SYSCALL_BIT | SYS_getpid);
}

static long try_int80_getpid(void) {
    long ret;
    printf("int80: calling\n");
    fflush(stdout);
    /* The i386 entry point from a 64-bit process: the kernel reports AUDIT_ARCH_I386 to
     * seccomp, so a filter that checks only syscall numbers sees "20" and lets it through. */
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(PROBE_I386_GETPID)
                     : "memory", "r8", "r9", "r10", "r11");
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

static long try_syslog(void) { return syscall(SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0); }

static long try_acct(void) { return syscall(SYS_acct, NULL); }

static long try_getpid(void) { return syscall(SYS_getpid); }

struct attempt {
    const char *name;
    long (*fn)(void);
};

static const struct attempt attempts[] = {
    {"clone3_newuser", try_clone3_newuser},
    {"clone_newuser", try_clone_newuser},
    {"unshare_user", NULL},
    {"unshare_mount", NULL},
    {"unshare_net", NULL},
    {"setns", try_setns},
    {"mount", try_mount},
    {"umount", try_umount},
    {"chroot", try_chroot},
    {"pivot_root", try_pivot_root},
    {"fsopen", try_fsopen},
    {"fspick", try_fspick},
    {"open_tree", try_open_tree},
    {"open_tree_attr", try_open_tree_attr},
    {"move_mount", try_move_mount},
    {"mount_setattr", try_mount_setattr},
    {"io_uring_setup", try_io_uring_setup},
    {"ptrace", try_ptrace},
    {"process_vm_readv", try_process_vm_readv},
    {"kill0", try_kill0},
    {"bpf", try_bpf},
    {"perf_event_open", try_perf_event_open},
    {"userfaultfd", try_userfaultfd},
    {"keyctl", try_keyctl},
    {"add_key", try_add_key},
    {"personality", try_personality},
    {"personality_query", try_personality_query},
    {"x32", try_x32_getpid},
    {"int80", try_int80_getpid},
    {"syslog", try_syslog},
    {"acct", try_acct},
    {"getpid", try_getpid},
};

static long run_unshare(const char *name) {
    if (strcmp(name, "unshare_user") == 0) return try_unshare(CLONE_NEWUSER);
    if (strcmp(name, "unshare_mount") == 0) return try_unshare(CLONE_NEWNS);
    return try_unshare(CLONE_NEWNET);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s NAME[=ARG]...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s", argv[i]);
        char *eq = strchr(name, '=');
        target_arg = NULL;
        if (eq) {
            *eq = '\0';
            target_arg = argv[i] + (eq - name) + 1;
        }
        const struct attempt *a = NULL;
        for (size_t k = 0; k < sizeof attempts / sizeof attempts[0]; k++)
            if (strcmp(attempts[k].name, name) == 0) a = &attempts[k];
        if (!a) {
            fprintf(stderr, "%s: unknown attempt %s\n", argv[0], name);
            return 2;
        }
        errno = 0;
        long r = a->fn ? a->fn() : run_unshare(name);
        report(name, r);
    }
    return 0;
}
