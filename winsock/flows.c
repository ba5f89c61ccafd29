// SPDX-License-Identifier: MIT
/*
 * flows.c - what WSARecvMsg remembers per UDP socket: whether it has set
 * the socket up (SO_RCVMARK), which flows it has already given the records
 * and context to, and which of those messages the caller turned off with
 * setsockopt(IP_WFP_REDIRECT_*). One bounded table under one mutex;
 * crd_ws_flows_reset() empties it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CONNREDIR_WINSOCK_NO_REDIRECT /* libc's select/setsockopt/getsockopt here */
#include "winsock_int.h"

#ifndef SO_RCVMARK
#define SO_RCVMARK 75
#endif

/*
 * What WSARecvMsg remembers per socket: CRD_WS_SOCKETS sockets, each with
 * the last CRD_WS_FLOWS flow handles it has reported, both least recently
 * used out. A socket is (descriptor, inode number): a descriptor closed and
 * reused for another socket is another socket, with nothing remembered
 * (closesocket() also forgets it at once). A forgotten flow (evicted, or its
 * socket evicted) gets the records and context again on its next datagram;
 * a proxy sees that as a new flow. The handle table of a socket is
 * allocated the first time it has a handle to remember.
 */
struct ws_flow {
	uint32_t handle;
	uint32_t stamp;
};

struct ws_sock {
	int fd;                 /* -1: free */
	uint64_t ino;
	uint64_t stamp;
	int family;             /* AF_INET/AF_INET6 for a UDP socket, else 0 */
	int user_mark;          /* SO_RCVMARK was on before we looked */
	unsigned wfp_off;       /* CRD_WS_*_OFF: turned off with setsockopt */
	uint32_t clock;
	struct ws_flow *flows;  /* CRD_WS_FLOWS, or NULL */
};

static struct ws_sock ws_socks[CRD_WS_SOCKETS];
static uint64_t ws_socks_clock;
static int ws_socks_ready;
static pthread_mutex_t ws_socks_lock = PTHREAD_MUTEX_INITIALIZER;

/* Under ws_socks_lock: the entry of (@fd, @ino), made if @make (LRU victim). */
static struct ws_sock *ws_sock_find(int fd, uint64_t ino, int make, int *made)
{
	struct ws_sock *e, *victim = NULL;
	int i;

	if (!ws_socks_ready) {
		for (i = 0; i < CRD_WS_SOCKETS; i++)
			ws_socks[i].fd = -1;
		ws_socks_ready = 1;
	}
	*made = 0;
	for (i = 0; i < CRD_WS_SOCKETS; i++) {
		e = &ws_socks[i];
		if (e->fd == fd && e->ino == ino) {
			e->stamp = ++ws_socks_clock;
			return e;
		}
		if (!victim || (victim->fd >= 0 && (e->fd < 0 || e->stamp < victim->stamp)))
			victim = e;
	}
	if (!make)
		return NULL;
	free(victim->flows);
	memset(victim, 0, sizeof(*victim));
	victim->fd = fd;
	victim->ino = ino;
	victim->stamp = ++ws_socks_clock;
	*made = 1;
	return victim;
}

/*
 * Under ws_socks_lock: whether @handle is new on @e (1) or already reported
 * (0). With @remember a new handle is remembered (evicting the least
 * recently used) and a known one refreshed. Without memory for the table,
 * every datagram counts as new (records again rather than never).
 */
static int ws_flow_first(struct ws_sock *e, uint32_t handle, int remember)
{
	struct ws_flow *f, *victim = NULL;
	int i;

	if (!e->flows) {
		if (!remember)
			return 1;
		e->flows = calloc(CRD_WS_FLOWS, sizeof(*e->flows));
		if (!e->flows)
			return 1;
	}
	for (i = 0; i < CRD_WS_FLOWS; i++) {
		f = &e->flows[i];
		if (f->handle == handle) {
			if (remember)
				f->stamp = ++e->clock;
			return 0;
		}
		if (!victim || (victim->handle && (!f->handle || f->stamp < victim->stamp)))
			victim = f;
	}
	if (remember) {
		victim->handle = handle;
		victim->stamp = ++e->clock;
	}
	return 1;
}

/* Under ws_socks_lock: forget @handle on @e (its messages did not fit). */
static void ws_flow_unsee(struct ws_sock *e, uint32_t handle)
{
	int i;

	for (i = 0; e->flows && i < CRD_WS_FLOWS; i++)
		if (e->flows[i].handle == handle)
			e->flows[i].handle = 0;
}

int crd_ws_flow_claim(int fd, uint64_t ino, uint32_t handle, int remember, unsigned *off)
{
	struct ws_sock *e;
	int made, first;

	pthread_mutex_lock(&ws_socks_lock);
	e = ws_sock_find(fd, ino, 1, &made);
	*off = e->wfp_off;
	first = *off == (CRD_WS_RECORDS_OFF | CRD_WS_CONTEXT_OFF) ? 0 :
		ws_flow_first(e, handle, remember);
	pthread_mutex_unlock(&ws_socks_lock);
	return first;
}

void crd_ws_flow_unsee(int fd, uint64_t ino, uint32_t handle)
{
	struct ws_sock *e;
	int made;

	pthread_mutex_lock(&ws_socks_lock);
	e = ws_sock_find(fd, ino, 0, &made);
	if (e)
		ws_flow_unsee(e, handle);
	pthread_mutex_unlock(&ws_socks_lock);
}

/*
 * crd_ws_flow_first - the flow table on its own (for the tests): 1 if
 * @handle (not 0) is new on socket (@fd, @ino), remembering it if
 * @remember, else 0.
 */
int crd_ws_flow_first(int fd, uint64_t ino, uint32_t handle, int remember)
{
	struct ws_sock *e;
	int made, r = 1;

	if (!handle)
		return 0;
	pthread_mutex_lock(&ws_socks_lock);
	e = ws_sock_find(fd, ino, remember, &made);
	if (e)
		r = ws_flow_first(e, handle, remember);
	pthread_mutex_unlock(&ws_socks_lock);
	return r;
}

/* crd_ws_flow_forget - forget everything about descriptor @fd. */
void crd_ws_flow_forget(int fd)
{
	int i;

	pthread_mutex_lock(&ws_socks_lock);
	for (i = 0; ws_socks_ready && i < CRD_WS_SOCKETS; i++) {
		if (ws_socks[i].fd != fd)
			continue;
		free(ws_socks[i].flows);
		memset(&ws_socks[i], 0, sizeof(ws_socks[i]));
		ws_socks[i].fd = -1;
	}
	pthread_mutex_unlock(&ws_socks_lock);
}

/*
 * The receive set-up of socket @s (inode @ino): for an IPv4/IPv6 datagram
 * socket, SO_RCVMARK is turned on (once, the first time this socket is
 * seen; whether the caller had it on is remembered) and its family is
 * returned; 0 for every other socket. *@user_mark: the caller wants SO_MARK
 * messages.
 */
int crd_ws_udp_setup(SOCKET s, uint64_t ino, int *user_mark)
{
	struct ws_sock *e;
	int made, dom = 0, type = 0, on = 0, one = 1, family = 0;

	*user_mark = 1;
	pthread_mutex_lock(&ws_socks_lock);
	e = ws_sock_find(s, ino, 1, &made);
	if (made) {
		if (!crd_ws_sockopt_int(s, SO_DOMAIN, &dom) && !crd_ws_sockopt_int(s, SO_TYPE, &type) &&
		    (dom == AF_INET || dom == AF_INET6) && type == SOCK_DGRAM &&
		    !crd_ws_sockopt_int(s, SO_RCVMARK, &on)) {
			e->user_mark = on;
			if (on || !setsockopt(s, SOL_SOCKET, SO_RCVMARK, &one, sizeof(one)))
				e->family = dom;
		}
	}
	family = e->family;
	*user_mark = e->user_mark;
	pthread_mutex_unlock(&ws_socks_lock);
	return family;
}

/*
 * crd_ws_wfp_option - setsockopt/getsockopt of IP_WFP_REDIRECT_RECORDS or
 * IP_WFP_REDIRECT_CONTEXT (@optname) on socket @s: with @set, turn that
 * message of WSARecvMsg on (*@on != 0) or off; else read the state into
 * *@on. The socket must be an IPv4/IPv6 datagram socket (WSAENOPROTOOPT);
 * it is set up for receiving (SO_RCVMARK) at once. Returns 0 or a Winsock
 * error. The state lives in the bounded socket table: a socket evicted
 * from it (more than CRD_WS_SOCKETS in use) has both messages on again.
 */
int crd_ws_wfp_option(SOCKET s, int optname, int set, int *on)
{
	unsigned bit = optname == IP_WFP_REDIRECT_RECORDS ? CRD_WS_RECORDS_OFF : CRD_WS_CONTEXT_OFF;
	uint64_t ino = 0;
	struct ws_sock *e;
	int made, user_mark, err = crd_ws_socket_ino(s, &ino);

	if (err)
		return err;
	if (!crd_ws_udp_setup(s, ino, &user_mark))
		return WSAENOPROTOOPT;
	pthread_mutex_lock(&ws_socks_lock);
	e = ws_sock_find(s, ino, 1, &made);
	if (set && *on)
		e->wfp_off &= ~bit;
	else if (set)
		e->wfp_off |= bit;
	else
		*on = !(e->wfp_off & bit);
	pthread_mutex_unlock(&ws_socks_lock);
	return 0;
}

void crd_ws_flows_reset(void)
{
	int i;

	pthread_mutex_lock(&ws_socks_lock);
	for (i = 0; i < CRD_WS_SOCKETS; i++) {
		free(ws_socks[i].flows);
		memset(&ws_socks[i], 0, sizeof(ws_socks[i]));
		ws_socks[i].fd = -1;
	}
	ws_socks_clock = 0;
	ws_socks_ready = 1;
	pthread_mutex_unlock(&ws_socks_lock);
}
