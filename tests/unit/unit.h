/* SPDX-License-Identifier: MIT */
/*
 * unit.h - a tiny header-only test harness.
 *
 * Every check prints exactly one line to stdout:
 *	PASS <test-name>: <what>
 *	FAIL <test-name>: <what> (file:line)
 * <test-name> is whatever UNIT_TEST() last set ("main" before that).
 *
 *	int main(void)
 *	{
 *		UNIT_TEST("parse_addr");
 *		CHECK(x == 1, "x is %d", 1);
 *		CHECK_EQ_INT(f(), -EINVAL, "f(%s) fails", "");
 *		return unit_done();	(0 if no check failed, else 1)
 *	}
 *
 * Control characters in <what> are printed as '?'.
 * CHECK_EQ_INT and CHECK_EQ_STR append "[got ..., want ...]" to <what>
 * when they fail. A summary goes to stderr, so stdout holds only checks.
 */
#ifndef CONNREDIR_TESTS_UNIT_H
#define CONNREDIR_TESTS_UNIT_H

#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *unit_name_ = "main";
static unsigned int unit_pass_, unit_fail_;

#define UNIT_TEST(name)	(unit_name_ = (name))

__attribute__((format(printf, 5, 6), unused))
static int unit_check_(int ok, const char *file, int line, const char *extra,
		       const char *fmt, ...)
{
	char what[512], *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	for (p = what; *p; p++)		/* one line per check, always */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (ok) {
		unit_pass_++;
		printf("PASS %s: %s\n", unit_name_, what);
	} else {
		unit_fail_++;
		printf("FAIL %s: %s%s (%s:%d)\n", unit_name_, what,
		       extra ? extra : "", file, line);
	}
	fflush(stdout);
	return ok;
}

/* CHECK(cond, fmt, ...): returns cond as 0/1 so callers may chain. */
#define CHECK(cond, ...) \
	unit_check_(!!(cond), __FILE__, __LINE__, NULL, __VA_ARGS__)

#define CHECK_EQ_INT(got, want, ...) __extension__ ({			\
	long long g_ = (long long)(got), w_ = (long long)(want);	\
	char x_[96];							\
	snprintf(x_, sizeof(x_), " [got %lld, want %lld]", g_, w_);	\
	unit_check_(g_ == w_, __FILE__, __LINE__, x_, __VA_ARGS__);	\
})

#define CHECK_EQ_STR(got, want, ...) __extension__ ({			\
	const char *g_ = (got), *w_ = (want);				\
	char x_[160];							\
	snprintf(x_, sizeof(x_), " [got \"%.60s\", want \"%.60s\"]",	\
		 g_ ? g_ : "(null)", w_ ? w_ : "(null)");		\
	unit_check_(g_ && w_ && !strcmp(g_, w_), __FILE__, __LINE__,	\
		    x_, __VA_ARGS__);					\
})

/* Summary to stderr; the exit status for main: 0 all passed, 1 otherwise. */
__attribute__((unused))
static int unit_done(void)
{
	fprintf(stderr, "%u checks, %u passed, %u failed\n",
		unit_pass_ + unit_fail_, unit_pass_, unit_fail_);
	return unit_fail_ ? 1 : 0;
}

/*
 * unit_own_netns - move this process into a network namespace of its own
 * with loopback up, for checks that use TCP/UDP on 127.0.0.1. Returns 1, or
 * 0 if that is not possible (not root): the caller prints a SKIP.
 */
__attribute__((unused))
static int unit_own_netns(void)
{
	struct ifreq ifr;
	int fd, ret;

	if (unshare(CLONE_NEWNET))
		return 0;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	ret = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	if (ret)
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
	if (fd >= 0)
		close(fd);
	return ret;
}

#endif /* CONNREDIR_TESTS_UNIT_H */
