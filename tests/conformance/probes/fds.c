/* Lists the file descriptors this process was started with, and where each points:
 *     fd N -> TARGET
 * A launcher that forgets to close a descriptor hands the sandbox a way out: a directory fd
 * opened on the host resolves "..", a file fd reads a secret (runc CVE-2024-21626).
 * usage: fds */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        perror("opendir /proc/self/fd");
        return 1;
    }
    int own = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd == own) continue;
        char path[64], target[4096];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n < 0 ? 0 : n] = '\0';
        printf("fd %d -> %s\n", fd, target);
    }
    closedir(d);
    return 0;
}
