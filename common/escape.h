/* SPDX-License-Identifier: MIT */
/*
 * escape.h - making text from applications and the network safe to print on
 * a terminal (the one terminal escape of connredir and connredir-proxy).
 *
 * Every byte that is not printable ASCII is shown as \xNN: control
 * characters (ESC, BEL, CR, ...; with crd_esc(), '\n' and '\t' too), DEL,
 * and every byte >= 0x80 (so no UTF-8 sequence, valid or not, can carry a
 * C1 control or a bidirectional override to the terminal). A backslash is
 * shown as "\\", so the escaped text reads back unambiguously; except on
 * whole output (keep_lines, crd_esc_stream), which was escaped field by
 * field already where it must read back (JSON, crd_esc()), and keeps '\n',
 * '\t' and '\\' as they are.
 */
#ifndef CONNREDIR_COMMON_ESCAPE_H
#define CONNREDIR_COMMON_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * crd_esc_mem - escape @n bytes at @src into @dst (@cap >= 1 bytes, always
 * NUL-terminated). Cut only between whole escapes; *@cut (if not NULL) says
 * whether something was left out. '\n', '\t' and '\\' are kept as they are
 * when @keep_lines.
 * Returns the length written.
 */
size_t crd_esc_mem(char *dst, size_t cap, const void *src, size_t n,
		   bool keep_lines, bool *cut);

/* crd_esc - the string @s escaped into @buf (@cap bytes); returns @buf.
 * For one field of a line: '\n' and '\t' are escaped too. */
const char *crd_esc(const char *s, char *buf, size_t cap);

/*
 * crd_esc_stream - a stream that writes everything through crd_esc_mem()
 * (keeping '\n' and '\t') to descriptor @fd; line-buffered when @fd is a
 * terminal. NULL if it cannot be made.
 */
FILE *crd_esc_stream(int fd);

/* crd_esc_stdio - send stderr (line-buffered) and, with @with_stdout,
 * stdout through crd_esc_stream(): a program's every message is escaped.
 * A stream that cannot be made is left as it was. */
void crd_esc_stdio(bool with_stdout);

#endif /* CONNREDIR_COMMON_ESCAPE_H */
