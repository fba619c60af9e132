/* Tries to get a writable handle on the launcher's binary through /proc, the way a container
 * process overwrote the host's runc (CVE-2019-5736). One line per attempt:
 *     <attempt>: ok        (a writable descriptor was obtained; nothing is written)
 *     <attempt>: errno=N (<message>)
 * usage: procexe PID      (normally 1: agentbox's init inside the sandbox) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void report(const char *what, int fd) {
    if (fd < 0)
        printf("%s: errno=%d (%s)\n", what, errno, strerror(errno));
    else
        printf("%s: ok\n", what);
    fflush(stdout);
}

int main(int argc, char **argv) {
    const char *pid = argc > 1 ? argv[1] : "1";
    char exe[64];
    snprintf(exe, sizeof exe, "/proc/%s/exe", pid);

    int fd = open(exe, O_WRONLY | O_CLOEXEC);
    report("open_wronly", fd);
    if (fd >= 0) close(fd);

    /* The runc exploit: hold an O_PATH handle, wait until the binary is not running any more
     * (no ETXTBSY), then reopen it for writing through /proc/self/fd. */
    int path_fd = open(exe, O_PATH | O_CLOEXEC);
    report("open_path", path_fd);
    if (path_fd >= 0) {
        char again[64];
        snprintf(again, sizeof again, "/proc/self/fd/%d", path_fd);
        int w = open(again, O_WRONLY | O_CLOEXEC);
        report("reopen_wronly", w);
        if (w >= 0) close(w);
        close(path_fd);
    }

    int r = open(exe, O_RDONLY | O_CLOEXEC);
    report("open_rdonly", r);
    if (r >= 0) close(r);
    return 0;
}
