// SPDX-License-Identifier: MIT
/*
 * log.c - the flow log's descriptor, reopening it, and warnings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int log_fd = -1;
static bool log_is_stdout;
static const char *log_file;
static unsigned long dropped;

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
	ssize_t n;

	if (log_fd < 0)
		return 0;
	do
		n = write(log_fd, line, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != len) {
		int err = n < 0 ? -errno : -EIO;

		/* The audit log is not lost silently: the first drop and then
		 * every 1000th is said at once, the total at exit. */
		if (dropped++ % 1000 == 0)
			log_warn("--log '%s': a log line could not be written (%s); %lu "
				 "dropped so far", log_file, strerror(-err), dropped);
		return err;
	}
	return 0;
}

unsigned long log_dropped(void)
{
	return dropped;
}

void log_close(void)
{
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
