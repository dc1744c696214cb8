/*
 * fake_dns: see fake_dns.h.
 */
#include "fake_dns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void nx_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char mem[4096];
    *buf = uv_buf_init(mem, sizeof mem);
}

/* Answers every query with NXDOMAIN (the question echoed, no records). */
static void nx_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags)
{
    (void)flags;
    if (n < 12 || from == NULL) return;
    const unsigned char *q = (const unsigned char *)buf->base;
    size_t off = 12;
    while (off < (size_t)n && q[off] != 0 && (q[off] & 0xc0) == 0)
        off += (size_t)q[off] + 1;
    if (off + 5 > (size_t)n) return;
    off += 5;
    unsigned char r[600];
    if (off > sizeof r) return;
    memcpy(r, q, off);
    r[2] = (unsigned char)(0x80 | (q[2] & 0x79)); /* QR, opcode, RD */
    r[3] = 0x80 | 3;                              /* RA, NXDOMAIN */
    r[4] = 0;
    r[5] = 1;
    memset(r + 6, 0, 6);
    uv_buf_t out = uv_buf_init((char *)r, (unsigned)off);
    uv_udp_try_send(h, &out, 1, from);
}

static int bound_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) return -1;
    return ntohs(sa.sin_port);
}

int fake_dns_silent(int *port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || (*port = bound_port(fd)) <= 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int write_text_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int fake_dns_start(fake_dns_t *f, uv_loop_t *loop)
{
    memset(f, 0, sizeof *f);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->silent_fd = fake_dns_silent(&f->silent_port);
    if (f->silent_fd < 0)
        return -1;
    if (uv_udp_init(loop, &f->nx_server) != 0 ||
        uv_udp_bind(&f->nx_server, (const struct sockaddr *)&sa, 0) != 0)
        return -1;
    uv_os_fd_t fd;
    uv_fileno((uv_handle_t *)&f->nx_server, &fd);
    f->nx_port = bound_port(fd);
    uv_udp_recv_start(&f->nx_server, nx_alloc, nx_recv);
    uv_unref((uv_handle_t *)&f->nx_server);
    return f->nx_port > 0 && f->silent_port > 0 ? 0 : -1;
}

void fake_dns_stop(fake_dns_t *f)
{
    if (!uv_is_closing((uv_handle_t *)&f->nx_server))
        uv_close((uv_handle_t *)&f->nx_server, NULL);
    if (f->silent_fd >= 0) close(f->silent_fd);
    f->silent_fd = -1;
}
