/* SPDX-License-Identifier: MIT */
/*
 * log.h - where connredir-proxy's flow log goes (--log FILE or -), and its
 * warnings on stderr.
 *
 * A log line is written with one write(2) to a descriptor opened with
 * O_APPEND, so lines are never interleaved or split, and log_reopen() lets
 * logrotate move the file away and send SIGHUP.
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
 * log_line - write @len bytes (one line, ending in '\n') in one write(2).
 * Returns 0 or -errno (the line is dropped; log_dropped() counts it).
 */
int log_line(const char *line, size_t len);

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
