// SPDX-License-Identifier: MIT
/*
 * log.c - what the CLI prints besides its results: libbpf's messages (one
 * callback for every command that loads BPF), --verbose notes, and the one
 * line that explains a required program the kernel refused.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool crd_verbose;

/* The first program libbpf reported as failing to load, for crd_load_failed(). */
static char failed_prog[64];

static int debug_level(void)
{
	const char *d = getenv("CONNREDIR_DEBUG");

	return !d || !*d || !strcmp(d, "0") ? 0 : !strcmp(d, "2") ? 2 : 1;
}

/* libbpf's "libbpf: prog 'NAME': BPF program load failed: ..." (and
 * "failed to load"): remember NAME. */
static void note_failed_prog(const char *fmt, va_list ap)
{
	char line[256];
	const char *a, *b;
	va_list cp;

	if (failed_prog[0] || !strstr(fmt, "prog '"))
		return;
	va_copy(cp, ap);
	vsnprintf(line, sizeof(line), fmt, cp);
	va_end(cp);
	a = line;
	if (!strncmp(a, "libbpf: ", 8))
		a += 8;
	if (strncmp(a, "prog '", 6) ||
	    (!strstr(a, "load failed") && !strstr(a, "failed to load")))
		return;
	a += 6;
	b = strchr(a, '\'');
	if (b && (size_t)(b - a) < sizeof(failed_prog))
		snprintf(failed_prog, sizeof(failed_prog), "%.*s", (int)(b - a), a);
}

int crd_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int dbg = debug_level();

	note_failed_prog(fmt, ap);
	if (level == LIBBPF_DEBUG ? dbg >= 2 : level == LIBBPF_INFO ? dbg >= 1 :
	    crd_verbose || dbg >= 1)
		return vfprintf(stderr, fmt, ap);
	return 0;
}

void crd_note(const char *fmt, ...)
{
	va_list ap;

	if (!crd_verbose)
		return;
	fputs("connredir: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *crd_errname(int err)
{
	const char *n = strerrorname_np(err < 0 ? -err : err);

	return n ? n : "?";
}

/* Why the kernel most likely refused a program with @err (-errno). */
static const char *likely_cause(int err)
{
	switch (-err) {
	case EPERM:
		return "needs root with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (or "
		       "CAP_SYS_ADMIN); even for root, lockdown or an LSM may forbid it";
	case EACCES:
		return "the kernel's verifier rejected it: without CAP_PERFMON (or "
		       "CAP_SYS_ADMIN) it refuses what connredir's programs do; else this "
		       "kernel lacks something they need (Linux >= 6.1); CONNREDIR_DEBUG=1 "
		       "shows the verifier's log";
	case EINVAL:
	case E2BIG:
		return "the kernel's verifier rejected it: this kernel is older than "
		       "connredir needs (Linux >= 6.1) or lacks a feature it uses; "
		       "CONNREDIR_DEBUG=1 shows the verifier's log";
	case ENOMEM:
		return "out of memory, or the locked-memory limit (ulimit -l) is too low";
	case ENOTSUP:
	case ENOENT:
	case ESRCH:
		return "this kernel lacks a program type or BTF that connredir needs "
		       "(Linux >= 6.1 with CONFIG_DEBUG_INFO_BTF)";
	default:
		return "CONNREDIR_DEBUG=1 shows libbpf's messages";
	}
}

void crd_load_failed(const char *what, int err)
{
	if (failed_prog[0])
		crd_err("%s: the kernel refused required program %s: %s (%s): %s", what,
			failed_prog, crd_bpf_strerror(err), crd_errname(err), likely_cause(err));
	else
		crd_err("%s: %s (%s): %s", what, crd_bpf_strerror(err), crd_errname(err),
			likely_cause(err));
}
