/*
 * null_policy: the cheapest Postfix policy server there can be, as a yardstick for
 * bench/run-gate.sh. One thread, epoll, non-blocking sockets: it reads requests, finds the
 * empty line that ends each one and answers "action=DUNNO" without looking at anything.
 * Its decisions/s on one core is what the kernel's socket path alone allows on the machine;
 * a real policy server cannot do better over the same transport. Not part of mailblock.
 *
 *   null_policy PORT      listens on 127.0.0.1:PORT until killed
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536

typedef struct conn {
    int fd;
    int nl; /* the last byte seen was '\n' (a request's end is "\n\n") */
} conn_t;

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: null_policy PORT\n");
        return 64;
    }
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)atoi(argv[1])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 1024) != 0) {
        perror("null_policy: bind/listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    static char buf[BUF];
    static const char reply[] = "action=DUNNO\n\n";
    struct epoll_event evs[512];
    for (;;) {
        int n = epoll_wait(ep, evs, 512, -1);
        if (n < 0 && errno != EINTR) return 1;
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conn_t *nc = calloc(1, sizeof *nc);
                    nc->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            ssize_t r = read(c->fd, buf, sizeof buf);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) {
                close(c->fd);
                free(c);
                continue;
            }
            unsigned replies = 0;
            for (ssize_t k = 0; k < r; k++) {
                if (buf[k] == '\n' && c->nl) {
                    replies++;
                    c->nl = 0;
                } else {
                    c->nl = buf[k] == '\n';
                }
            }
            /* one write per answer, as a server deciding one request at a time does */
            for (unsigned k = 0; k < replies; k++)
                if (write(c->fd, reply, sizeof reply - 1) < 0) break;
        }
    }
}
