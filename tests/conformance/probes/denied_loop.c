/* Calls a syscall the default filter denies (mount) N times and prints how many calls failed
 * with EPERM, for the decision log's "no denied syscall is lost" test.
 *
 * usage: denied_loop N */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: denied_loop N\n");
        return 2;
    }
    long n = strtol(argv[1], NULL, 10), denied = 0, other = 0;
    for (long i = 0; i < n; ++i) {
        long r = syscall(SYS_mount, "none", "/tmp", "tmpfs", 0L, NULL);
        if (r < 0 && errno == EPERM)
            ++denied;
        else
            ++other;
    }
    printf("denied=%ld other=%ld\n", denied, other);
    return 0;
}
