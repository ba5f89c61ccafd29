// SPDX-License-Identifier: MIT
/*
 * events.c - the epoll instance and the clock of the event loop.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "events.h"

#define EVENTS_BATCH 256

static int epfd = -1;
static uint64_t now_ns;

int events_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	events_tick();
	return 0;
}

void events_fini(void)
{
	if (epfd >= 0)
		close(epfd);
	epfd = -1;
}

int events_add(int fd, uint32_t mask, struct events_handler *h)
{
	struct epoll_event ev = { .events = mask, .data.ptr = h };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int events_mod(int fd, uint32_t mask, struct events_handler *h)
{
	struct epoll_event ev = { .events = mask, .data.ptr = h };

	return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

void events_del(int fd)
{
	struct epoll_event ev = { 0 };

	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
}

int events_run_once(int timeout_ms)
{
	struct epoll_event ev[EVENTS_BATCH];
	int n, i;

	n = epoll_wait(epfd, ev, EVENTS_BATCH, timeout_ms);
	events_tick();
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct events_handler *h = ev[i].data.ptr;

		h->fn(h, ev[i].events);
	}
	return 0;
}

uint64_t events_now(void)
{
	return now_ns;
}

void events_tick(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
