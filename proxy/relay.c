// SPDX-License-Identifier: MIT
/*
 * relay.c - moving bytes: recv/send through a buffer, or splice(2) from
 * the source socket into a pipe and from the pipe into the destination.
 *
 * The splice path reads from the source only when the pipe is empty. A
 * pipe is full when its slots are, not its bytes, so "room in the pipe"
 * cannot be known; reading into an empty pipe always has room, and an
 * EAGAIN then means the socket has nothing, never that the pipe is full.
 * (A full pipe with a readable socket would otherwise wake the loop for
 * ever.) Pending bytes are always sent first, so the pipe is non-empty
 * only while the destination cannot take more.
 *
 * A direction that may splice copies its first RELAY_SPLICE_AFTER bytes
 * (through a pooled buffer of that size) and takes a pipe (from the pool)
 * only when it has moved that much: a short flow never pays for pipes and
 * the extra system calls of splicing through them.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inspect.h"
#include "pool.h"
#include "relay.h"

void relay_dir_init(struct relay_dir *d, struct relay_sock *src, struct relay_sock *dst)
{
	*d = (struct relay_dir){ .src = src, .dst = dst, .pipe_r = -1, .pipe_w = -1 };
}

void relay_dir_window(struct relay_dir *d, bool on)
{
	d->window = on;         /* the buffer comes with the first byte */
}

void relay_dir_use_splice(struct relay_dir *d)
{
	d->want_splice = true;
}

size_t relay_pending(const struct relay_dir *d)
{
	return d->len - d->off + d->in_pipe;
}

bool relay_window_full(const struct relay_dir *d)
{
	return d->window && d->len >= INSPECT_WINDOW;
}

void relay_dir_free(struct relay_dir *d)
{
	pool_buf_put(d->buf, d->cap);
	d->buf = NULL;
	d->cap = d->off = d->len = 0;
	if (d->pipe_r >= 0 && d->pipe_w >= 0 && !d->in_pipe) {
		pool_pipe_put(d->pipe_r, d->pipe_w);
	} else {
		if (d->pipe_r >= 0)
			close(d->pipe_r);
		if (d->pipe_w >= 0)
			close(d->pipe_w);
	}
	d->pipe_r = d->pipe_w = -1;
	d->in_pipe = 0;
}

static int fail(struct relay_dir *d, enum relay_side side, int err)
{
	d->err_side = side;
	return -err;
}

/*
 * Switch to splice once RELAY_SPLICE_AFTER bytes have moved and the buffer
 * is empty (the pipe comes with the data).
 */
static void maybe_splice(struct relay_dir *d)
{
	if (!d->want_splice || d->spliced || d->window || d->off != d->len ||
	    d->bytes < RELAY_SPLICE_AFTER)
		return;
	d->want_splice = false;
	d->spliced = true;
	pool_buf_put(d->buf, d->cap);
	d->buf = NULL;
	d->cap = d->off = d->len = 0;
}

/* The pipe of a spliced direction; without one, back to copying. */
static void get_pipe(struct relay_dir *d)
{
	int p[2];

	if (pool_pipe_get(p)) {
		d->spliced = false;     /* EMFILE and the like: copy instead */
		return;
	}
	d->pipe_r = p[0];
	d->pipe_w = p[1];
}

/* The buffer a direction copies through: small until it may splice. */
static size_t copy_size(const struct relay_dir *d)
{
	return d->window || d->want_splice ? INSPECT_WINDOW : RELAY_COPY_BUF;
}

/* Send what is pending. 0, or -errno (after fail()). */
static int send_out(struct relay_dir *d, bool *moved)
{
	ssize_t n;

	if (d->hold || !d->dst->up || !d->dst->wr)
		return 0;
	if (d->spliced && d->in_pipe) {
		n = splice(d->pipe_r, NULL, d->dst->fd, NULL, d->in_pipe,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			d->in_pipe -= (size_t)n;
			d->bytes += (uint64_t)n;
			d->spliced_bytes += (uint64_t)n;
			*moved = true;
		}
	} else if (d->off < d->len) {
		n = send(d->dst->fd, d->buf + d->off, d->len - d->off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			d->off += (size_t)n;
			d->bytes += (uint64_t)n;
			*moved = true;
			if (d->off == d->len && !d->window) {
				/* Empty: rewind; a buffer of the wrong size makes
				 * way for one of the right size at the next read. */
				d->off = d->len = 0;
				if (d->cap != copy_size(d)) {
					pool_buf_put(d->buf, d->cap);
					d->buf = NULL;
				}
			}
		}
	} else {
		return 0;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			d->dst->wr = errno == EINTR;
		else
			return fail(d, RELAY_DST, errno);
	}
	return 0;
}

/* Read more if there is room. 0, or -errno (after fail()). */
static int read_in(struct relay_dir *d, bool *moved)
{
	ssize_t n;
	size_t room;

	if (d->eof || !d->src->rd)
		return 0;
	if (d->spliced && d->pipe_r < 0)
		get_pipe(d);
	if (d->spliced) {
		if (d->in_pipe)
			return 0;
		n = splice(d->src->fd, NULL, d->pipe_w, NULL, RELAY_PIPE_SIZE,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0)
			d->in_pipe = (size_t)n;
	} else {
		if (!d->buf) {
			d->cap = copy_size(d);
			d->buf = pool_buf_get(d->cap);
			if (!d->buf)
				return fail(d, RELAY_SRC, ENOMEM);
		}
		room = d->cap - d->len;
		if (d->want_splice && !d->window) {
			/* Copy no further than where splicing starts. */
			uint64_t got = d->bytes + (d->len - d->off);

			if (got >= RELAY_SPLICE_AFTER)
				return 0;
			if (room > RELAY_SPLICE_AFTER - got)
				room = (size_t)(RELAY_SPLICE_AFTER - got);
		}
		if (!room)
			return 0;
		n = recv(d->src->fd, d->buf + d->len, room, MSG_DONTWAIT);
		if (n > 0)
			d->len += (size_t)n;
	}
	if (n > 0) {
		*moved = true;
	} else if (n == 0) {
		d->eof = true;
		*moved = true;
	} else if (errno == EAGAIN) {
		d->src->rd = false;
	} else if (errno != EINTR) {
		return fail(d, RELAY_SRC, errno);
	}
	return 0;
}

int relay_pump(struct relay_dir *d, bool *moved)
{
	uint64_t start = d->bytes;
	bool again;
	int err;

	d->more = false;
	do {
		again = false;
		err = send_out(d, &again);
		if (err)
			return err;
		maybe_splice(d);
		if (d->bytes - start >= RELAY_BUDGET) {
			d->more = true;
			*moved = true;
			return 0;
		}
		err = read_in(d, &again);
		if (err)
			return err;
		*moved |= again;
	} while (again);
	if (d->eof && !d->shut && !d->hold && d->dst->up && !relay_pending(d)) {
		if (shutdown(d->dst->fd, SHUT_WR) && errno != ENOTCONN)
			return fail(d, RELAY_DST, errno);
		d->shut = true;
		*moved = true;
	}
	return 0;
}
