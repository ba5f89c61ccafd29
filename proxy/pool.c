// SPDX-License-Identifier: MIT
/*
 * pool.c - free lists of relay buffers and pipes (see pool.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "inspect.h"
#include "pool.h"
#include "relay.h"

struct buf_class {
	size_t size;
	unsigned n;
	void *free[POOL_KEEP];
};

static struct buf_class classes[] = {
	{ .size = INSPECT_WINDOW },
	{ .size = RELAY_COPY_BUF },
};

static int pipes[POOL_KEEP][2];
static unsigned n_pipes;

static struct buf_class *class_of(size_t size)
{
	size_t i;

	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (classes[i].size == size)
			return &classes[i];
	return NULL;
}

void *pool_buf_get(size_t size)
{
	struct buf_class *c = class_of(size);

	if (c && c->n)
		return c->free[--c->n];
	return malloc(size);
}

void pool_buf_put(void *buf, size_t size)
{
	struct buf_class *c = class_of(size);

	if (!buf)
		return;
	if (c && c->n < POOL_KEEP)
		c->free[c->n++] = buf;
	else
		free(buf);
}

int pool_pipe_get(int p[2])
{
	if (n_pipes) {
		n_pipes--;
		p[0] = pipes[n_pipes][0];
		p[1] = pipes[n_pipes][1];
		return 0;
	}
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
		return -errno;
	if (RELAY_PIPE_SIZE != 65536)
		fcntl(p[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
	return 0;
}

void pool_pipe_put(int r, int w)
{
	if (n_pipes < POOL_KEEP) {
		pipes[n_pipes][0] = r;
		pipes[n_pipes][1] = w;
		n_pipes++;
		return;
	}
	close(r);
	close(w);
}

void pool_trim_pipes(void)
{
	while (n_pipes) {
		n_pipes--;
		close(pipes[n_pipes][0]);
		close(pipes[n_pipes][1]);
	}
}

void pool_trim(void)
{
	size_t i;

	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		while (classes[i].n)
			free(classes[i].free[--classes[i].n]);
	pool_trim_pipes();
}
