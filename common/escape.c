// SPDX-License-Identifier: MIT
/*
 * escape.c - the terminal escape (escape.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"

/* @c as it is shown: into @e (at most 4 bytes), its length. With
 * @keep_lines (whole output, escaped field by field already where it must
 * read back: JSON, \xNN), '\n', '\t' and '\\' pass as they are. */
static size_t esc_byte(unsigned char c, bool keep_lines, char e[4])
{
	static const char hex[] = "0123456789abcdef";

	if (c == '\\' && !keep_lines) {
		e[0] = e[1] = '\\';
		return 2;
	}
	if ((c >= 0x20 && c < 0x7f) || (keep_lines && (c == '\n' || c == '\t'))) {
		e[0] = (char)c;
		return 1;
	}
	e[0] = '\\';
	e[1] = 'x';
	e[2] = hex[c >> 4];
	e[3] = hex[c & 15];
	return 4;
}

size_t crd_esc_mem(char *dst, size_t cap, const void *src, size_t n,
		   bool keep_lines, bool *cut)
{
	const unsigned char *s = src;
	size_t i, len = 0;
	char e[4];

	if (cut)
		*cut = false;
	for (i = 0; i < n; i++) {
		size_t el = esc_byte(s[i], keep_lines, e);

		if (len + el >= cap) {
			if (cut)
				*cut = true;
			break;
		}
		memcpy(dst + len, e, el);
		len += el;
	}
	dst[len] = '\0';
	return len;
}

const char *crd_esc(const char *s, char *buf, size_t cap)
{
	crd_esc_mem(buf, cap, s, strlen(s), false, NULL);
	return buf;
}

/* ---- the stream ------------------------------------------------------------ */

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

static ssize_t esc_write(void *cookie, const char *buf, size_t size)
{
	int fd = (int)(long)cookie;
	const unsigned char *s = (const unsigned char *)buf;
	char out[1024];
	size_t i = 0, len = 0;
	char e[4];

	for (i = 0; i < size; i++) {
		size_t el = esc_byte(s[i], true, e);

		if (len + el > sizeof(out)) {
			if (write_all(fd, out, len))
				return -1;
			len = 0;
		}
		memcpy(out + len, e, el);
		len += el;
	}
	if (len && write_all(fd, out, len))
		return -1;
	return size;
}

FILE *crd_esc_stream(int fd)
{
	cookie_io_functions_t io = { .write = esc_write };
	FILE *f = fopencookie((void *)(long)fd, "w", io);

	if (f && isatty(fd))
		setvbuf(f, NULL, _IOLBF, 0);
	return f;
}

void crd_esc_stdio(bool with_stdout)
{
	FILE *o = with_stdout ? crd_esc_stream(STDOUT_FILENO) : NULL;
	FILE *e = crd_esc_stream(STDERR_FILENO);

	if (o)
		stdout = o;
	if (e) {
		setvbuf(e, NULL, _IOLBF, 0);
		stderr = e;
	}
}
