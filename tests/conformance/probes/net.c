/* Tries to reach something outside the sandbox's network namespace. Each argument is one
 * attempt, its fields separated by commas; one line per attempt:
 *     <kind>: ok            (connected / sent; MARKER was written to the peer)
 *     <kind>: errno=N (<message>)
 *     iface NAME up|down    (for "ifaces")
 *
 *   tcp4,ADDR,PORT,MARKER    tcp6,ADDR,PORT,MARKER    connect, then send MARKER
 *   udp4,ADDR,PORT,MARKER    udp6,ADDR,PORT,MARKER    sendto MARKER
 *   unix,PATH,MARKER         abstract,NAME,MARKER     connect a stream unix socket, send MARKER
 *   raw4                     packet                   open a raw IP / packet socket
 *   ifaces                                            list interfaces and whether each is up
 * usage: net ATTEMPT... */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FIELDS 4

static int fail(const char *kind) {
    printf("%s: errno=%d (%s)\n", kind, errno, strerror(errno));
    return 1;
}

/* connect() with a bound wait, so a filtered network cannot hang the test. */
static int connect_wait(int fd, const struct sockaddr *sa, socklen_t len) {
    if (connect(fd, sa, len) == 0) return 0;
    if (errno != EINPROGRESS) return -1;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, 3000) != 1) {
        errno = ETIMEDOUT;
        return -1;
    }
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
    errno = err;
    return err ? -1 : 0;
}

static int ip_attempt(char **f, int family, int type) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    uint16_t port = (uint16_t)atoi(f[2]);
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        inet_pton(AF_INET, f[1], &in->sin_addr);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        inet_pton(AF_INET6, f[1], &in6->sin6_addr);
        len = sizeof *in6;
    }
    int fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return fail(f[0]);
    int rc = 0;
    if (type == SOCK_DGRAM) {
        if (sendto(fd, f[3], strlen(f[3]), 0, (struct sockaddr *)&ss, len) < 0) rc = fail(f[0]);
    } else if (connect_wait(fd, (struct sockaddr *)&ss, len) < 0 ||
               send(fd, f[3], strlen(f[3]), MSG_NOSIGNAL) < 0) {
        rc = fail(f[0]);
    }
    close(fd);
    if (rc == 0) printf("%s: ok\n", f[0]);
    return rc;
}

static int unix_attempt(char **f, int abstract) {
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    size_t n = strlen(f[1]);
    if (n + 2 > sizeof un.sun_path) {
        errno = ENAMETOOLONG;
        return fail(f[0]);
    }
    /* An abstract name starts with a NUL byte and is not NUL-terminated. */
    memcpy(un.sun_path + (abstract ? 1 : 0), f[1], n);
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (abstract ? 1 : 0));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(f[0]);
    int rc = 0;
    if (connect(fd, (struct sockaddr *)&un, len) < 0 ||
        send(fd, f[2], strlen(f[2]), MSG_NOSIGNAL) < 0)
        rc = fail(f[0]);
    close(fd);
    if (rc == 0) printf("%s: ok\n", f[0]);
    return rc;
}

static int socket_attempt(const char *kind, int family, int type, int proto) {
    int fd = socket(family, type | SOCK_CLOEXEC, proto);
    if (fd < 0) return fail(kind);
    close(fd);
    printf("%s: ok\n", kind);
    return 0;
}

static int list_ifaces(void) {
    struct if_nameindex *names = if_nameindex();
    if (!names) return fail("ifaces");
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    for (struct if_nameindex *i = names; i->if_index != 0; i++) {
        struct ifreq req;
        memset(&req, 0, sizeof req);
        snprintf(req.ifr_name, sizeof req.ifr_name, "%s", i->if_name);
        int up = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &req) == 0 && (req.ifr_flags & IFF_UP);
        printf("iface %s %s\n", i->if_name, up ? "up" : "down");
    }
    if (fd >= 0) close(fd);
    if_freenameindex(names);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s ATTEMPT...\n", argv[0]);
        return 2;
    }
    for (int a = 1; a < argc; a++) {
        char *f[MAX_FIELDS] = {NULL, NULL, NULL, NULL};
        int nf = 0;
        for (char *save = NULL, *tok = strtok_r(argv[a], ",", &save); tok && nf < MAX_FIELDS;
             tok = strtok_r(NULL, ",", &save))
            f[nf++] = tok;
        const char *k = f[0];
        if ((!strcmp(k, "tcp4") || !strcmp(k, "tcp6") || !strcmp(k, "udp4") ||
             !strcmp(k, "udp6")) && nf == 4)
            ip_attempt(f, k[3] == '4' ? AF_INET : AF_INET6, k[0] == 't' ? SOCK_STREAM : SOCK_DGRAM);
        else if ((!strcmp(k, "unix") || !strcmp(k, "abstract")) && nf == 3)
            unix_attempt(f, k[0] == 'a');
        else if (!strcmp(k, "raw4"))
            socket_attempt(k, AF_INET, SOCK_RAW, IPPROTO_ICMP);
        else if (!strcmp(k, "packet"))
            socket_attempt(k, AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
        else if (!strcmp(k, "ifaces"))
            list_ifaces();
        else {
            fprintf(stderr, "%s: bad attempt %s\n", argv[0], argv[a]);
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
