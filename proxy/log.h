/* SPDX-License-Identifier: MIT */
/*
 * log.h - where connredir-proxy's flow log goes (--log FILE or -), and its
 * warnings on stderr.
 *
 * Log lines are gathered and written in batches of whole lines (one
 * write(2) for many flows, off the per-flow path) to a descriptor opened
 * with O_APPEND, so lines are never interleaved or split; the batch waits
 * at most 50 ms (log_flush_ms()) and is flushed before a reopen, on
 * log_close() and at exit. log_reopen() lets logrotate move the file away
 * and send SIGHUP.
 */
#ifndef CONNREDIR_PROXY_LOG_H
#define CONNREDIR_PROXY_LOG_H

#include <stdbool.h>
#include <stddef.h>

/*
 * log_open - send flow log lines to @path ("-": standard output, NULL: no
 * log). A file is created (mode 0640) if missing and appended to.
 * Returns 0 or -errno; the previous destination is kept on failure.
 */
int log_open(const char *path);

/*
 * log_reopen - open the same path again (after it was moved away) and
 * switch to it. Returns 0 (also for standard output or no log) or -errno,
 * and then keeps writing to the old descriptor.
 */
int log_reopen(void);

/* log_path - the path given to log_open(), "-" or NULL. */
const char *log_path(void);

/*
 * log_line - queue @len bytes (one line, ending in '\n') for the next
 * batch. Returns 0 or -errno if a batch it caused to be written failed
 * (its lines are dropped; log_dropped() counts them).
 */
int log_line(const char *line, size_t len);

/* log_flush - write the waiting lines now. 0 or -errno (then dropped). */
int log_flush(void);

/* log_flush_ms - ms until the waiting lines are due (0: now); -1: none. */
int log_flush_ms(void);

/* log_dropped - lines log_line() could not write so far. */
unsigned long log_dropped(void);

/* log_close - close the log (idempotent). */
void log_close(void);

/*
 * log_warn - "connredir-proxy: MESSAGE\n" on stderr, for what happens while
 * running (start-up errors are printed by main.c).
 */
__attribute__((format(printf, 1, 2)))
void log_warn(const char *fmt, ...);

#endif /* CONNREDIR_PROXY_LOG_H */
