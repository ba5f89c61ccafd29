/* SPDX-License-Identifier: MIT */
/*
 * pool.h - buffers and pipes kept for the next flow instead of freed and
 * made again for each one: a malloc(), a free() and the heap growing and
 * shrinking, or a pipe2() and two close(), per flow and direction.
 *
 * Buffers of the two sizes the relay uses (INSPECT_WINDOW, RELAY_COPY_BUF)
 * are kept, up to POOL_KEEP of each; other sizes are plain malloc/free.
 * Pipes are kept only if empty, up to POOL_KEEP. pool_trim() gives
 * everything back (after a burst, and at exit).
 */
#ifndef CONNREDIR_PROXY_POOL_H
#define CONNREDIR_PROXY_POOL_H

#include <stddef.h>

#define POOL_KEEP 64

/* pool_buf_get - a buffer of @size bytes (contents undefined), or NULL. */
void *pool_buf_get(size_t size);

/* pool_buf_put - give back @buf (NULL: nothing), got with @size. */
void pool_buf_put(void *buf, size_t size);

/* pool_pipe_get - a non-blocking, close-on-exec pipe in @p. 0 or -errno. */
int pool_pipe_get(int p[2]);

/* pool_pipe_put - give back an empty pipe (@r, @w); closed if not kept. */
void pool_pipe_put(int r, int w);

/* pool_trim_pipes - close the kept pipes. */
void pool_trim_pipes(void);

/* pool_trim - free the kept buffers and close the kept pipes. */
void pool_trim(void);

#endif /* CONNREDIR_PROXY_POOL_H */
