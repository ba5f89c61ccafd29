/* SPDX-License-Identifier: MIT */
/*
 * events.h - the one epoll instance of connredir-proxy, and its clock.
 *
 * Every file descriptor the proxy waits on is registered with a handler: a
 * struct events_handler embedded in the object that owns the descriptor.
 * events_run_once() waits and calls each ready handler with the epoll event
 * mask. Handlers may close descriptors and end objects; an object whose
 * descriptor may still have an event later in the same batch must not be
 * freed before events_run_once() returns (flow.c defers its frees).
 */
#ifndef CONNREDIR_PROXY_EVENTS_H
#define CONNREDIR_PROXY_EVENTS_H

#include <stdint.h>

struct events_handler {
	void (*fn)(struct events_handler *h, uint32_t events);
};

/* events_init - make the epoll instance. Returns 0 or -errno. */
int events_init(void);

/* events_fini - close it (idempotent). */
void events_fini(void);

/*
 * events_add - wait for @mask (EPOLLIN, EPOLLOUT, EPOLLET, ...) on @fd and
 * call @h when it happens. Returns 0 or -errno.
 */
int events_add(int fd, uint32_t mask, struct events_handler *h);

/* events_mod - change @fd's mask (0: wait for nothing). 0 or -errno. */
int events_mod(int fd, uint32_t mask, struct events_handler *h);

/* events_del - stop waiting on @fd (closing it does the same). */
void events_del(int fd);

/*
 * events_run_once - wait up to @timeout_ms (-1: no limit) and dispatch what
 * is ready. Returns 0 (also when interrupted) or -errno.
 */
int events_run_once(int timeout_ms);

/* events_now - CLOCK_MONOTONIC in ns, as of the latest wake-up. */
uint64_t events_now(void);

/* events_tick - re-read the clock (for use outside the loop). */
void events_tick(void);

#endif /* CONNREDIR_PROXY_EVENTS_H */
