/* Resource exhaustion with a ceiling, so that a missing limit fails the test instead of taking
 * the test machine down. Prints progress and one final line:
 *     fork: made=N errno=E        forks (children sleep, then all are killed)
 *     mem: touched=N MiB           printed every 8 MiB, then "mem: done" or the process dies
 *     fd: opened=N errno=E         descriptors opened on /dev/null
 * usage: bomb fork MAX | bomb mem MAX_MIB | bomb fd MAX */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int fork_bomb(long max) {
    pid_t *kids = calloc((size_t)max, sizeof *kids);
    long made = 0;
    int err = 0;
    for (; kids && made < max; made++) {
        pid_t p = fork();
        if (p < 0) {
            err = errno;
            break;
        }
        if (p == 0) {
            pause();
            _exit(0);
        }
        kids[made] = p;
    }
    printf("fork: made=%ld errno=%d\n", made, err);
    fflush(stdout);
    for (long i = 0; i < made; i++) kill(kids[i], SIGKILL);
    for (long i = 0; i < made; i++) waitpid(kids[i], NULL, 0);
    free(kids);
    return 0;
}

static int mem_bomb(long max_mib) {
    const size_t chunk = 1u << 20;
    for (long mib = 1; mib <= max_mib; mib++) {
        char *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            printf("mem: errno=%d at=%ld MiB\n", errno, mib);
            return 1;
        }
        memset(p, 0x5a, chunk); /* touch every page: only resident memory counts */
        if (mib % 8 == 0) {
            printf("mem: touched=%ld MiB\n", mib);
            fflush(stdout);
        }
    }
    printf("mem: done\n");
    return 0;
}

static int fd_bomb(long max) {
    long opened = 0;
    int err = 0;
    for (; opened < max; opened++) {
        if (open("/dev/null", O_RDONLY) < 0) {
            err = errno;
            break;
        }
    }
    printf("fd: opened=%ld errno=%d\n", opened, err);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s fork|mem|fd MAX\n", argv[0]);
        return 2;
    }
    long max = strtol(argv[2], NULL, 10);
    if (!strcmp(argv[1], "fork")) return fork_bomb(max);
    if (!strcmp(argv[1], "mem")) return mem_bomb(max);
    if (!strcmp(argv[1], "fd")) return fd_bomb(max);
    fprintf(stderr, "%s: unknown kind %s\n", argv[0], argv[1]);
    return 2;
}
