/*
 * fake_dns: loopback DNS endpoints for tests that load a world from zone files and must
 * never reach the network. One UDP server answers every query with NXDOMAIN (the question
 * echoed, no records): a forwarder for every name outside the world. One bound UDP socket
 * that never answers: a forward zone pointed at it times out.
 */
#ifndef MB_TESTS_FAKE_DNS_H
#define MB_TESTS_FAKE_DNS_H

#include <uv.h>

typedef struct fake_dns {
    uv_udp_t nx_server;
    int silent_fd;   /* -1 when not open */
    int nx_port;     /* 127.0.0.1:nx_port answers NXDOMAIN */
    int silent_port; /* 127.0.0.1:silent_port never answers */
} fake_dns_t;

/* Starts both on loop (the server is unreferenced: it does not keep the loop alive).
 * Returns 0, or -1 when a socket could not be made. */
int fake_dns_start(fake_dns_t *f, uv_loop_t *loop);
/* Closes both; run the loop afterwards to finish closing the server. */
void fake_dns_stop(fake_dns_t *f);

/* Only the socket that never answers (no loop needed): its descriptor with its port in
 * *port, or -1. The caller closes it. */
int fake_dns_silent(int *port);

/* Writes text to path (created or truncated). Returns 0, or -1 on any error. */
int write_text_file(const char *path, const char *text);

#endif
