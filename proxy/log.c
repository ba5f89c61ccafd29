// SPDX-License-Identifier: MIT
/*
 * log.c - the flow log's descriptor, reopening it, and warnings.
 *
 * Lines are gathered in a buffer and written together (log_flush()): when
 * the next line would not fit, LOG_FLUSH_NS after the first line waiting,
 * before the file is switched or closed, and at exit. Whole lines only,
 * so O_APPEND still keeps them whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int log_fd = -1;
static bool log_is_stdout;
static const char *log_file;
static unsigned long dropped;

#define LOG_BUF (64 * 1024)
#define LOG_FLUSH_NS 50000000ull        /* 50 ms */

static char pend[LOG_BUF];
static size_t pend_len;
static unsigned long pend_lines;
static uint64_t pend_since;             /* CLOCK_MONOTONIC ns of the first waiting line */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Write @len bytes to the log, restarting on EINTR and short writes. */
static int write_all(const char *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(log_fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * @n lines could not be written (@err). The audit log is not lost silently:
 * the first drop and then every 1000th is said at once, the total at exit.
 */
static void note_dropped(int err, unsigned long n)
{
	unsigned long before = dropped;

	dropped += n;
	if (before && before / 1000 == dropped / 1000)
		return;
	if (n == 1)
		log_warn("--log '%s': a log line could not be written (%s); %lu dropped "
			 "so far", log_file, strerror(-err), dropped);
	else
		log_warn("--log '%s': %lu log lines could not be written (%s); %lu dropped "
			 "so far", log_file, n, strerror(-err), dropped);
}

int log_flush(void)
{
	int err = 0;

	if (pend_len && log_fd >= 0)
		err = write_all(pend, pend_len);
	if (err)
		note_dropped(err, pend_lines);
	pend_len = 0;
	pend_lines = 0;
	return err;
}

int log_flush_ms(void)
{
	uint64_t now, due;

	if (!pend_len)
		return -1;
	now = now_ns();
	due = pend_since + LOG_FLUSH_NS;
	return due <= now ? 0 : (int)((due - now + 999999) / 1000000);
}

static int open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	return fd < 0 ? -errno : fd;
}

int log_open(const char *path)
{
	int fd;

	if (!path) {
		log_close();
		return 0;
	}
	if (!strcmp(path, "-")) {
		log_close();
		log_fd = STDOUT_FILENO;
		log_is_stdout = true;
		log_file = path;
		return 0;
	}
	fd = open_file(path);
	if (fd < 0)
		return fd;
	log_close();
	log_fd = fd;
	log_file = path;
	return 0;
}

int log_reopen(void)
{
	int fd;

	if (!log_file || log_is_stdout)
		return 0;
	fd = open_file(log_file);
	if (fd < 0)
		return fd;
	log_flush();
	close(log_fd);
	log_fd = fd;
	return 0;
}

const char *log_path(void)
{
	return log_file;
}

int log_line(const char *line, size_t len)
{
	int err = 0;

	if (log_fd < 0)
		return 0;
	if (pend_len + len > sizeof(pend))
		err = log_flush();
	if (len > sizeof(pend)) {
		err = write_all(line, len);
		if (err)
			note_dropped(err, 1);
		return err;
	}
	if (!pend_len)
		pend_since = now_ns();
	memcpy(pend + pend_len, line, len);
	pend_len += len;
	pend_lines++;
	return err;
}

unsigned long log_dropped(void)
{
	return dropped;
}

void log_close(void)
{
	log_flush();
	if (log_fd >= 0 && !log_is_stdout)
		close(log_fd);
	log_fd = -1;
	log_is_stdout = false;
	log_file = NULL;
}

void log_warn(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "connredir-proxy: %s\n", msg);
}
