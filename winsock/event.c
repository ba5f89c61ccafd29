// SPDX-License-Identifier: MIT
/*
 * event.c - WSAEVENTs: WSACreateEvent, WSACloseEvent, WSASetEvent,
 * WSAResetEvent and WSAWaitForMultipleEvents, over a table of eventfds
 * (the library's only table of handles; crd_ws_events_reset() empties it).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define CONNREDIR_WINSOCK_NO_REDIRECT /* libc's select/setsockopt/getsockopt here */
#include "crd_export.h"
#include "winsock_int.h"

#define WS_EVENTS_MAX 0xffff     /* handle = generation << 16 | (slot + 1) */

/*
 * An event is an eventfd (non-blocking): signalled while its counter is not
 * 0. A handle is (generation << 16 | slot + 1): a small number, never a
 * pointer, checked against the table, so a stale or foreign handle is
 * refused rather than followed.
 */
struct ws_event_slot {
	int fd;          /* -1: free */
	unsigned gen;    /* 1..0xffff, changes when the slot is freed */
};

static pthread_mutex_t ws_ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ws_event_slot *ws_ev;
static unsigned ws_nev;

static WSAEVENT ws_ev_handle(unsigned slot)
{
	return (WSAEVENT)(uintptr_t)(((uintptr_t)ws_ev[slot].gen << 16) | (slot + 1));
}

/* The eventfd of live handle @h, or -1. Call with ws_ev_lock held. */
static int ws_ev_fd(WSAEVENT h)
{
	uintptr_t v = (uintptr_t)h;
	unsigned slot = (unsigned)(v & 0xffff), gen = (unsigned)(v >> 16);

	if (slot == 0 || slot > ws_nev || gen == 0 || v >> 16 > 0xffff)
		return -1;
	slot--;
	if (ws_ev[slot].fd < 0 || ws_ev[slot].gen != gen)
		return -1;
	return ws_ev[slot].fd;
}

void crd_ws_event_signal(WSAEVENT h)
{
	uint64_t one = 1;
	int fd, saved = errno;

	pthread_mutex_lock(&ws_ev_lock);
	fd = ws_ev_fd(h);
	if (fd >= 0)
		(void)!write(fd, &one, sizeof(one));   /* EAGAIN: signalled anyway */
	pthread_mutex_unlock(&ws_ev_lock);
	errno = saved;
}

void crd_ws_events_reset(void)
{
	unsigned i;

	pthread_mutex_lock(&ws_ev_lock);
	for (i = 0; i < ws_nev; i++)
		if (ws_ev[i].fd >= 0)
			close(ws_ev[i].fd);
	free(ws_ev);
	ws_ev = NULL;
	ws_nev = 0;
	pthread_mutex_unlock(&ws_ev_lock);
}

CRD_EXPORT WSAEVENT WSACreateEvent(void)
{
	WSAEVENT h = WSA_INVALID_EVENT;
	unsigned i;
	int fd, err = 0;

	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		crd_ws_set_last(errno == ENOMEM ? WSA_NOT_ENOUGH_MEMORY : crd_ws_from_errno(errno));
		return WSA_INVALID_EVENT;
	}
	pthread_mutex_lock(&ws_ev_lock);
	for (i = 0; i < ws_nev; i++)
		if (ws_ev[i].fd < 0)
			break;
	if (i == ws_nev) {
		unsigned n = ws_nev ? ws_nev * 2 : 16, k;
		struct ws_event_slot *t;

		if (n > WS_EVENTS_MAX)
			n = WS_EVENTS_MAX;
		t = n > ws_nev ? realloc(ws_ev, n * sizeof(*t)) : NULL;
		if (!t) {
			err = WSA_NOT_ENOUGH_MEMORY;
			goto out;
		}
		for (k = ws_nev; k < n; k++)
			t[k] = (struct ws_event_slot){ .fd = -1, .gen = 1 };
		ws_ev = t;
		ws_nev = n;
	}
	ws_ev[i].fd = fd;
	h = ws_ev_handle(i);
out:
	pthread_mutex_unlock(&ws_ev_lock);
	if (err) {
		close(fd);
		crd_ws_set_last(err);
	}
	return h;
}

enum ws_ev_op { WS_EV_CLOSE, WS_EV_SET, WS_EV_RESET };

/* Apply @op to event @h: TRUE, or FALSE with WSA_INVALID_HANDLE. */
static BOOL ws_ev_op(WSAEVENT h, enum ws_ev_op op)
{
	uint64_t v = 1;
	int fd, saved = errno;

	pthread_mutex_lock(&ws_ev_lock);
	fd = ws_ev_fd(h);
	if (fd >= 0) {
		if (op == WS_EV_SET) {
			/* EAGAIN: the counter is full, so it is signalled anyway. */
			(void)!write(fd, &v, sizeof(v));
		} else if (op == WS_EV_RESET) {
			(void)!read(fd, &v, sizeof(v));   /* EAGAIN: not signalled */
		} else {
			unsigned slot = (unsigned)((uintptr_t)h & 0xffff) - 1;

			close(fd);
			ws_ev[slot].fd = -1;
			ws_ev[slot].gen = ws_ev[slot].gen >= 0xffff ? 1 : ws_ev[slot].gen + 1;
		}
	}
	pthread_mutex_unlock(&ws_ev_lock);
	if (fd < 0) {
		crd_ws_set_last(WSA_INVALID_HANDLE);
		return FALSE;
	}
	errno = saved;
	return TRUE;
}

CRD_EXPORT BOOL WSACloseEvent(WSAEVENT hEvent)
{
	return ws_ev_op(hEvent, WS_EV_CLOSE);
}

CRD_EXPORT BOOL WSASetEvent(WSAEVENT hEvent)
{
	return ws_ev_op(hEvent, WS_EV_SET);
}

CRD_EXPORT BOOL WSAResetEvent(WSAEVENT hEvent)
{
	return ws_ev_op(hEvent, WS_EV_RESET);
}

static int64_t ws_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * poll(2) @p until @deadline, a ws_now_ms() time (-1: none; one already
 * past: just look). Returns poll's answer, never EINTR.
 */
static int ws_poll_until(struct pollfd *p, nfds_t n, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline < 0 ? -1 : deadline - ws_now_ms();
		int r;

		if (deadline >= 0 && left < 0)
			left = 0;
		r = poll(p, n, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0 || (r == 0 && (deadline < 0 || left <= INT_MAX)))
			return r;
		if (r < 0 && errno != EINTR)
			return r;
	}
}

CRD_EXPORT DWORD WSAWaitForMultipleEvents(DWORD cEvents, const WSAEVENT *lphEvents,
					  BOOL fWaitAll, DWORD dwTimeout, BOOL fAlertable)
{
	struct pollfd p[WSA_MAXIMUM_WAIT_EVENTS];
	int fds[WSA_MAXIMUM_WAIT_EVENTS];
	int64_t deadline = dwTimeout == WSA_INFINITE ? -1 : ws_now_ms() + dwTimeout;
	DWORD i, ret = WSA_WAIT_FAILED;
	int err = 0, saved = errno, r;

	if (cEvents == 0 || cEvents > WSA_MAXIMUM_WAIT_EVENTS || !lphEvents) {
		crd_ws_set_last(WSA_INVALID_PARAMETER);
		return WSA_WAIT_FAILED;
	}
	/* Wait on copies: an event closed meanwhile cannot take our fd away. */
	pthread_mutex_lock(&ws_ev_lock);
	for (i = 0; i < cEvents; i++) {
		int fd = ws_ev_fd(lphEvents[i]);

		fds[i] = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (fds[i] < 0) {
			err = fd < 0 ? WSA_INVALID_HANDLE : crd_ws_from_errno(errno);
			break;
		}
	}
	pthread_mutex_unlock(&ws_ev_lock);
	if (err) {
		cEvents = i;
		goto out;
	}
	for (;;) {
		nfds_t n = 0;

		/* Which are signalled now? (Waiting for all: only look.) */
		for (i = 0; i < cEvents; i++)
			p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		r = ws_poll_until(p, cEvents, fWaitAll ? 0 : deadline);
		if (r < 0) {
			err = crd_ws_from_errno(errno);
			goto out;
		}
		if (!fWaitAll) {
			for (i = 0; i < cEvents; i++)
				if (p[i].revents & POLLIN)
					break;
			ret = i < cEvents ? WSA_WAIT_EVENT_0 + i : WSA_WAIT_TIMEOUT;
			goto out;
		}
		/* All of them: wait for the ones not signalled yet, then look again. */
		for (i = 0; i < cEvents; i++)
			if (!(p[i].revents & POLLIN))
				p[n++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (n == 0) {
			ret = WSA_WAIT_EVENT_0;
			goto out;
		}
		r = ws_poll_until(p, n, deadline);
		if (r < 0) {
			err = crd_ws_from_errno(errno);
			goto out;
		}
		if (r == 0) {
			ret = WSA_WAIT_TIMEOUT;
			goto out;
		}
	}
out:
	for (i = 0; i < cEvents; i++)
		close(fds[i]);
	if (err) {
		crd_ws_set_last(err);
		return WSA_WAIT_FAILED;
	}
	errno = saved;
	return ret;
}
