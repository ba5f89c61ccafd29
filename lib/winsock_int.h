/* SPDX-License-Identifier: MIT */
/*
 * winsock_int.h - what the Winsock layer's files share (not installed):
 * lib/winsock.c (last error, WSAIoctl, messages, the UDP socket table) and
 * lib/winsock_sock.c (sockets, data calls, select, socket options).
 */
#ifndef CONNREDIR_WINSOCK_INT_H
#define CONNREDIR_WINSOCK_INT_H

#include <sys/socket.h>
#include <sys/uio.h>

#define CRD_EXPORT __attribute__((visibility("default")))

/* The Winsock error for errno @e (0 for 0; WSASYSCALLFAILURE if none). */
int crd_ws_from_errno(int e);

/* Set this thread's last error to @w (and errno to the nearest value). */
void crd_ws_set_last(int w);

/* Fail a data call given a WSAOVERLAPPED or routine: WSAEOPNOTSUPP. */
int crd_ws_no_overlapped(void);

/*
 * The data part of WSAMSG @m as a msghdr (no control): name and the WSABUF
 * array as iovecs in @small (8) or, beyond, in *@heap (the caller frees
 * it). Returns 0 or a Winsock error.
 */
int crd_ws_msghdr(const WSAMSG *m, struct msghdr *mh, struct iovec *small,
		  struct iovec **heap);

/* Set (@set) or read IP_WFP_REDIRECT_RECORDS / _CONTEXT (@optname) on @s. */
int crd_ws_wfp_option(SOCKET s, int optname, int set, int *on);

#endif
