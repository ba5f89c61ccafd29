/* SPDX-License-Identifier: MIT */
/*
 * relay.h - moving one direction of a flow's bytes, from a source socket to
 * a destination socket: through a user-space buffer (while inspectors look
 * at the bytes, or with --copy-only), or with splice(2) through a pipe.
 *
 * Back-pressure: a direction reads from its source only while it has room
 * (a buffer not full, an empty pipe), so a slow destination stops the
 * reading and TCP flow control slows the sender. The socket readiness
 * flags (rd, wr) are the event loop's edge-triggered hints: set when epoll
 * reports the socket ready, cleared when a call would block.
 */
#ifndef CONNREDIR_PROXY_RELAY_H
#define CONNREDIR_PROXY_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copy buffer after inspection (--copy-only); the window is INSPECT_WINDOW. */
#define RELAY_COPY_BUF (64 * 1024)
/* The pipe of a spliced direction (best effort: F_SETPIPE_SZ). */
#define RELAY_PIPE_SIZE (64 * 1024)
/* A direction that may splice copies this much first (== INSPECT_WINDOW). */
#define RELAY_SPLICE_AFTER (16 * 1024)
/*
 * Bytes one relay_pump() call moves at most, so that one busy flow cannot
 * keep the loop from the others; a direction that stopped there sets
 * d->more and must be pumped again without waiting for an event.
 */
#define RELAY_BUDGET (512 * 1024)

/* One socket of a flow. */
struct relay_sock {
	int fd;
	bool up;       /* connected: bytes may be written */
	bool rd;       /* may have bytes (or EOF, or an error) to read */
	bool wr;       /* may take bytes */
};

/* Which end of a direction failed. */
enum relay_side { RELAY_SRC = 0, RELAY_DST = 1 };

/* One direction. */
struct relay_dir {
	struct relay_sock *src, *dst;
	/* user-space path */
	uint8_t *buf;         /* NULL until needed */
	size_t cap;           /* its size */
	size_t off, len;      /* bytes [off, len) are still to send */
	bool window;          /* reading fills a window from buf[0] (inspection) */
	bool hold;            /* do not send (the inspectors have not decided) */
	/* splice path */
	bool want_splice;     /* move with splice once the buffer is empty */
	bool spliced;         /* the splice path is in use */
	int pipe_r, pipe_w;   /* -1 until needed */
	size_t in_pipe;       /* bytes in the pipe */
	/* state */
	bool more;            /* stopped at RELAY_BUDGET: pump again soon */
	bool eof;             /* the source said EOF */
	bool shut;            /* EOF was passed on: shutdown(dst, SHUT_WR) */
	uint64_t bytes;       /* bytes sent to dst */
	uint64_t spliced_bytes; /* of which by splice */
	enum relay_side err_side; /* after an error: which end */
};

/*
 * relay_dir_init - a direction from @src to @dst, on the user-space path
 * with no buffer yet (window mode off, nothing held).
 */
void relay_dir_init(struct relay_dir *d, struct relay_sock *src, struct relay_sock *dst);

/*
 * relay_dir_window - start (@on, before the first byte) or stop the
 * inspection window: while on, bytes read go to buf[0..INSPECT_WINDOW) and
 * stay there (sent ones too), so the inspectors see the stream from its
 * first byte.
 */
void relay_dir_window(struct relay_dir *d, bool on);

/*
 * relay_dir_use_splice - from now on, once the buffer is empty, move bytes
 * with splice(2). A direction that cannot get a pipe stays on the copy path.
 */
void relay_dir_use_splice(struct relay_dir *d);

/*
 * relay_pump - move what can be moved now: send pending bytes (unless
 * held), read more while there is room, pass EOF on (shutdown(SHUT_WR))
 * once everything before it was sent. Sets *moved if anything happened,
 * d->more if it stopped at RELAY_BUDGET with more to do.
 * Returns 0, or -errno with d->err_side telling which socket failed
 * (ECONNRESET from the source, EPIPE or ECONNRESET from the destination).
 */
int relay_pump(struct relay_dir *d, bool *moved);

/* relay_pending - bytes read but not yet sent (buffer and pipe). */
size_t relay_pending(const struct relay_dir *d);

/* relay_window_full - the inspection window holds INSPECT_WINDOW bytes. */
bool relay_window_full(const struct relay_dir *d);

/* relay_dir_free - free the buffer, close the pipe (idempotent). */
void relay_dir_free(struct relay_dir *d);

#endif /* CONNREDIR_PROXY_RELAY_H */
