// SPDX-License-Identifier: MIT
/*
 * crd-bypass - open one flow by one chosen path, for tests/it/13-bypass.sh:
 * every way a process can open a TCP or UDP flow must reach the proxy.
 *
 *   crd-bypass [OPTIONS] PATH ADDR PORT [PORT...]
 *
 * PATH (ADDR is numeric IPv4 or IPv6; its family is the socket's family
 * unless the path says otherwise; one PORT unless the path says otherwise):
 *
 *   tcp              socket(), connect(), write, read the echo
 *   mapped           an AF_INET6 socket connects to ::ffff:ADDR (ADDR IPv4)
 *   mptcp            socket(..., IPPROTO_MPTCP)
 *   tfo-sendto       TCP Fast Open: sendto(MSG_FASTOPEN) instead of connect()
 *   tfo-connect      TCP Fast Open: TCP_FASTOPEN_CONNECT, connect(), write
 *   iouring-connect  the connect is an io_uring IORING_OP_CONNECT
 *   fork             the socket is made by the parent, connected by a child
 *   exec             made by the parent, connected by a child after execve()
 *                    (it runs this program again with --fd)
 *   dup              connected through a dup() of it, the original closed
 *   scm-rights       made by the parent, passed over a Unix socket pair with
 *                    SCM_RIGHTS to a child, which connects it
 *   udp-connected    UDP: connect(), send(), recv()
 *   udp-unconnected  UDP: sendto(), recvfrom()
 *   sendmmsg         UDP: one unconnected socket, one sendmmsg() call with one
 *                    datagram to each PORT (several allowed)
 *   iouring-sendmsg  UDP: the datagram is an io_uring IORING_OP_SENDMSG with
 *                    msg_name set (unconnected socket)
 *
 * Options:
 *   --bytes N        payload per flow (TCP default 1000, UDP default 100;
 *                    UDP at most 1400)
 *   --timeout SECS   longest wait for any step (default 5)
 *   --fd N           use descriptor N instead of making a socket
 *   --from-unix PATH take the socket from `crd-bypass give` at PATH
 *                    (SCM_RIGHTS) instead of making it
 *   --join DIR       once the socket is made (or taken), fork; the child
 *                    moves itself into the cgroup DIR (writes 0 to
 *                    DIR/cgroup.procs) and opens the flow; the parent waits
 *   --label NAME     the path name to print (default: PATH)
 *
 * Output, one line per flow, on stdout:
 *   path=P pid=PID local=A:P dst=A:P sent=N got=N from=A:P result=ok
 *   path=P pid=PID local=A:P dst=A:P result=fail step=STEP errno=NAME
 * pid is the process that opened the flow; local is the socket's own
 * address (A:P "?" when unknown); from is where the reply came from as the
 * application sees it (UDP: recvfrom()'s source; TCP: getpeername()).
 * result=ok only if every byte came back unchanged (and, for UDP, from the
 * destination). errno=- when the failure has none (a mismatch, a timeout).
 * Exit: 0 every flow ok, 1 a flow failed, 2 misuse or setup error.
 *
 *   crd-bypass serve [--ready FILE] [--log FILE] ADDR:PORT...
 *       TCP and UDP echo on each ADDR:PORT. Logs, one line each, flushed:
 *         tcp local=A:P peer=A:P in=N      (when the connection ends)
 *         udp local=A:P peer=A:P len=N     (per datagram)
 *   crd-bypass give [--ready FILE] UNIXPATH tcp4|tcp6|udp4|udp6
 *       make one such socket, hand it to the first process that connects to
 *       the Unix socket UNIXPATH (SCM_RIGHTS), and exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "parse.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30
#endif

#define MAX_DST 16
#define MAX_EP 16
#define UDP_MAX 1400

static const char *prog_path, *label;
static size_t opt_bytes;
static int timeout_ms = 5000;
static int opt_fd = -1;
static const char *from_unix, *join_dir;

struct dst {
	struct sockaddr_storage ss;
	socklen_t len;
};

static void usage(FILE *f)
{
	fputs("Usage: crd-bypass [--bytes N] [--timeout SECS] [--fd N] [--from-unix PATH]\n"
	      "                  [--join DIR] [--label NAME] PATH ADDR PORT [PORT...]\n"
	      "       crd-bypass serve [--ready FILE] [--log FILE] ADDR:PORT...\n"
	      "       crd-bypass give [--ready FILE] UNIXPATH tcp4|tcp6|udp4|udp6\n"
	      "PATH: tcp mapped mptcp tfo-sendto tfo-connect iouring-connect fork exec\n"
	      "      dup scm-rights udp-connected udp-unconnected sendmmsg iouring-sendmsg\n",
	      f);
}

static const char *ename(int e)
{
	const char *n = e ? strerrorname_np(e) : NULL;

	return n ? n : "-";
}

static const char *fmt_ss(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	struct crd_ipaddr a = { 0 };
	uint16_t port;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		a.family = AF_INET;
		a.addr[10] = a.addr[11] = 0xff;
		memcpy(a.addr + 12, &s4->sin_addr, 4);
		port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		a.family = AF_INET6;
		memcpy(a.addr, &s6->sin6_addr, 16);
		port = ntohs(s6->sin6_port);
	} else {
		return "?";
	}
	/* An IPv4-mapped address on an AF_INET6 socket prints as IPv4. */
	return crd_format_endpoint(&a, port, buf, len);
}

static const char *local_of(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		return "?";
	return fmt_ss(&ss, buf, len);
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	char x[64], y[64];

	return !strcmp(fmt_ss(a, x, sizeof(x)), fmt_ss(b, y, sizeof(y)));
}

static int report_fail(int fd, const struct dst *d, const char *step, int err)
{
	char l[64], t[64];

	printf("path=%s pid=%d local=%s dst=%s result=fail step=%s errno=%s\n", label,
	       (int)getpid(), fd >= 0 ? local_of(fd, l, sizeof(l)) : "?",
	       fmt_ss(&d->ss, t, sizeof(t)), step, ename(err));
	fflush(stdout);
	return 1;
}

static int report_ok(int fd, const struct dst *d, size_t sent, size_t got,
		     const struct sockaddr_storage *from, int ok)
{
	char l[64], t[64], f[64];

	printf("path=%s pid=%d local=%s dst=%s sent=%zu got=%zu from=%s result=%s\n", label,
	       (int)getpid(), local_of(fd, l, sizeof(l)), fmt_ss(&d->ss, t, sizeof(t)),
	       sent, got, from ? fmt_ss(from, f, sizeof(f)) : "?", ok ? "ok" : "fail");
	fflush(stdout);
	return !ok;
}

static void fill(unsigned char *buf, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)(i * 31 + seed);
}

/* Wait until @fd is ready for @ev; 0, or -ETIMEDOUT / -errno. */
static int wait_fd(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r ? 0 : -ETIMEDOUT;
}

/* ---- io_uring, by raw system calls --------------------------------------- */

struct ring {
	int fd;
	void *sq, *cq;
	size_t sq_len, cq_len, sqes_len;
	struct io_uring_sqe *sqes;
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
};

static void ring_exit(struct ring *r)
{
	if (r->sqes && r->sqes != MAP_FAILED)
		munmap(r->sqes, r->sqes_len);
	if (r->cq && r->cq != MAP_FAILED && r->cq != r->sq)
		munmap(r->cq, r->cq_len);
	if (r->sq && r->sq != MAP_FAILED)
		munmap(r->sq, r->sq_len);
	if (r->fd >= 0)
		close(r->fd);
}

static int ring_init(struct ring *r)
{
	struct io_uring_params p;

	memset(r, 0, sizeof(*r));
	memset(&p, 0, sizeof(p));
	r->fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (r->fd < 0)
		return -errno;
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (r->cq_len > r->sq_len)
			r->sq_len = r->cq_len;
		r->cq_len = r->sq_len;
	}
	r->sq = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		     r->fd, IORING_OFF_SQ_RING);
	if (r->sq == MAP_FAILED)
		goto fail;
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		r->cq = r->sq;
	else
		r->cq = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	if (r->cq == MAP_FAILED)
		goto fail;
	r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED)
		goto fail;
	r->sq_tail = (unsigned *)((char *)r->sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)((char *)r->sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)((char *)r->sq + p.sq_off.array);
	r->cq_head = (unsigned *)((char *)r->cq + p.cq_off.head);
	r->cq_tail = (unsigned *)((char *)r->cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)((char *)r->cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)((char *)r->cq + p.cq_off.cqes);
	return 0;
fail:;
	int e = errno;

	ring_exit(r);
	return -e;
}

/* Submit @sqe and wait for its completion: its res (>= 0 or -errno). */
static int ring_run(struct ring *r, const struct io_uring_sqe *sqe)
{
	unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask, head;
	int res;

	r->sqes[idx] = *sqe;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	for (;;) {
		if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0 &&
		    errno != EINTR)
			return -errno;
		head = *r->cq_head;
		if (head != __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
			break;
	}
	res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

/* ---- TCP ------------------------------------------------------------------- */

enum tcp_how { T_CONNECT, T_TFO_SENDTO, T_TFO_CONNECT, T_IOURING };

/* Open the flow on @fd by @how, send the payload, read the echo. */
static int run_tcp(int fd, const struct dst *d, enum tcp_how how)
{
	size_t n = opt_bytes, off = 0, got = 0;
	unsigned char *out = malloc(n ? n : 1), *in = malloc(n ? n : 1);
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	ssize_t w;
	int err, ok;

	if (!out || !in) {
		free(out);
		free(in);
		return report_fail(fd, d, "malloc", ENOMEM);
	}
	fill(out, n, (unsigned)getpid());
	switch (how) {
	case T_CONNECT:
		if (connect(fd, (const struct sockaddr *)&d->ss, d->len))
			goto fail_connect;
		break;
	case T_TFO_SENDTO:
		w = sendto(fd, out, n, MSG_FASTOPEN, (const struct sockaddr *)&d->ss, d->len);
		if (w < 0) {
			err = errno;
			free(out);
			free(in);
			return report_fail(fd, d, "sendto", err);
		}
		off = (size_t)w;
		break;
	case T_TFO_CONNECT: {
		int one = 1;

		if (setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one))) {
			err = errno;
			free(out);
			free(in);
			return report_fail(fd, d, "TCP_FASTOPEN_CONNECT", err);
		}
		if (connect(fd, (const struct sockaddr *)&d->ss, d->len))
			goto fail_connect;
		break;
	}
	case T_IOURING: {
		struct io_uring_sqe sqe;
		struct ring r;

		err = ring_init(&r);
		if (err) {
			free(out);
			free(in);
			return report_fail(fd, d, "io_uring_setup", -err);
		}
		memset(&sqe, 0, sizeof(sqe));
		sqe.opcode = IORING_OP_CONNECT;
		sqe.fd = fd;
		sqe.addr = (uint64_t)(uintptr_t)&d->ss;
		sqe.off = d->len;   /* addr2: the address length */
		err = ring_run(&r, &sqe);
		ring_exit(&r);
		if (err < 0) {
			free(out);
			free(in);
			return report_fail(fd, d, "IORING_OP_CONNECT", -err);
		}
		break;
	}
	}
	memset(&peer, 0, sizeof(peer));
	if (getpeername(fd, (struct sockaddr *)&peer, &pl))
		peer.ss_family = AF_UNSPEC;
	while (off < n) {
		w = write(fd, out + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err = errno;
			free(out);
			free(in);
			return report_fail(fd, d, "write", err);
		}
		off += (size_t)w;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		unsigned char tmp[4096];
		ssize_t r;

		err = wait_fd(fd, POLLIN);
		if (err) {
			free(out);
			free(in);
			return report_fail(fd, d, "read", -err);
		}
		r = read(fd, tmp, sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = errno;
			free(out);
			free(in);
			return report_fail(fd, d, "read", err);
		}
		if (!r)
			break;
		if (got + (size_t)r <= n)
			memcpy(in + got, tmp, (size_t)r);
		got += (size_t)r;
	}
	ok = got == n && !memcmp(in, out, n);
	free(out);
	free(in);
	return report_ok(fd, d, n, got, &peer, ok);
fail_connect:
	err = errno;
	free(out);
	free(in);
	return report_fail(fd, d, "connect", err);
}

/* ---- UDP ------------------------------------------------------------------- */

enum udp_how { U_CONNECTED, U_UNCONNECTED, U_SENDMMSG, U_IOURING };

static size_t dgram(unsigned char *buf, size_t n, unsigned idx)
{
	int h = snprintf((char *)buf, n, "crd-bypass %u %d ", idx, (int)getpid());

	if (h < 0 || (size_t)h >= n)
		h = 0;
	fill(buf + h, n - (size_t)h, idx * 7 + (unsigned)getpid());
	return n;
}

static int run_udp(int fd, const struct dst *d, int nd, enum udp_how how)
{
	unsigned char out[MAX_DST][UDP_MAX], in[UDP_MAX + 1];
	struct sockaddr_storage from[MAX_DST];
	int seen[MAX_DST] = { 0 }, good[MAX_DST] = { 0 };
	size_t n = opt_bytes, gotn[MAX_DST] = { 0 };
	int i, err, fails = 0, left = nd;

	for (i = 0; i < nd; i++)
		dgram(out[i], n, (unsigned)i);
	switch (how) {
	case U_CONNECTED:
		if (connect(fd, (const struct sockaddr *)&d[0].ss, d[0].len))
			return report_fail(fd, &d[0], "connect", errno);
		if (send(fd, out[0], n, 0) < 0)
			return report_fail(fd, &d[0], "send", errno);
		break;
	case U_UNCONNECTED:
		if (sendto(fd, out[0], n, 0, (const struct sockaddr *)&d[0].ss, d[0].len) < 0)
			return report_fail(fd, &d[0], "sendto", errno);
		break;
	case U_SENDMMSG: {
		struct mmsghdr mm[MAX_DST];
		struct iovec iov[MAX_DST];
		int sent;

		memset(mm, 0, sizeof(mm));
		for (i = 0; i < nd; i++) {
			iov[i].iov_base = out[i];
			iov[i].iov_len = n;
			mm[i].msg_hdr.msg_name = (void *)&d[i].ss;
			mm[i].msg_hdr.msg_namelen = d[i].len;
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		sent = sendmmsg(fd, mm, (unsigned)nd, 0);
		if (sent < 0)
			return report_fail(fd, &d[0], "sendmmsg", errno);
		for (i = sent; i < nd; i++)
			fails += report_fail(fd, &d[i], "sendmmsg", 0);
		left = sent;
		nd = sent;
		break;
	}
	case U_IOURING: {
		struct io_uring_sqe sqe;
		struct iovec iov = { out[0], n };
		struct msghdr mh = { 0 };
		struct ring r;

		err = ring_init(&r);
		if (err)
			return report_fail(fd, &d[0], "io_uring_setup", -err);
		mh.msg_name = (void *)&d[0].ss;
		mh.msg_namelen = d[0].len;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		memset(&sqe, 0, sizeof(sqe));
		sqe.opcode = IORING_OP_SENDMSG;
		sqe.fd = fd;
		sqe.addr = (uint64_t)(uintptr_t)&mh;
		sqe.len = 1;
		err = ring_run(&r, &sqe);
		ring_exit(&r);
		if (err < 0)
			return report_fail(fd, &d[0], "IORING_OP_SENDMSG", -err);
		break;
	}
	}
	while (left > 0) {
		struct sockaddr_storage src;
		socklen_t sl = sizeof(src);
		unsigned idx;
		ssize_t r;

		err = wait_fd(fd, POLLIN);
		if (err)
			break;
		memset(&src, 0, sizeof(src));
		r = recvfrom(fd, in, sizeof(in) - 1, 0, (struct sockaddr *)&src, &sl);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		in[r] = 0;
		if (sscanf((char *)in, "crd-bypass %u ", &idx) != 1 || idx >= (unsigned)nd ||
		    seen[idx])
			continue;   /* not ours, or a duplicate */
		seen[idx] = 1;
		left--;
		gotn[idx] = (size_t)r;
		from[idx] = src;
		if (how == U_CONNECTED) {
			sl = sizeof(src);
			if (!getpeername(fd, (struct sockaddr *)&src, &sl))
				from[idx] = src;
		}
		good[idx] = (size_t)r == n && !memcmp(in, out[idx], n) &&
			    same_addr(&from[idx], &d[idx].ss);
	}
	for (i = 0; i < nd; i++) {
		if (!seen[i])
			fails += report_fail(fd, &d[i], "recvfrom", err ? -err : ETIMEDOUT);
		else
			fails += report_ok(fd, &d[i], n, gotn[i], &from[i], good[i]);
	}
	return fails ? 1 : 0;
}

/* ---- sockets ----------------------------------------------------------------- */

static int recv_fd(int us)
{
	char c, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { 0 };
	struct cmsghdr *cm;
	int fd;

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	if (recvmsg(us, &mh, MSG_CMSG_CLOEXEC) < 0)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
		errno = (mh.msg_flags & MSG_CTRUNC) ? EACCES : EPROTO;
		return -1;
	}
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

static int send_fd(int us, int fd)
{
	char c = 'F', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr mh = { 0 };
	struct cmsghdr *cm;

	memset(cbuf, 0, sizeof(cbuf));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	return sendmsg(us, &mh, 0) < 0 ? -1 : 0;
}

/* The socket to use: --fd, --from-unix, or a new one. -1 with a message. */
static int acquire(int family, int type, int proto)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int us, fd;

	if (opt_fd >= 0)
		return opt_fd;
	if (!from_unix) {
		fd = socket(family, type, proto);
		if (fd < 0)
			fprintf(stderr, "crd-bypass: socket: %s\n", strerror(errno));
		return fd;
	}
	if (strlen(from_unix) >= sizeof(un.sun_path)) {
		fprintf(stderr, "crd-bypass: --from-unix %s: path too long\n", from_unix);
		return -1;
	}
	strcpy(un.sun_path, from_unix);
	us = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (us < 0 || connect(us, (struct sockaddr *)&un, sizeof(un))) {
		fprintf(stderr, "crd-bypass: --from-unix %s: %s\n", from_unix, strerror(errno));
		if (us >= 0)
			close(us);
		return -1;
	}
	fd = recv_fd(us);
	if (fd < 0)
		fprintf(stderr, "crd-bypass: --from-unix %s: no socket received: %s\n",
			from_unix, strerror(errno));
	close(us);
	return fd;
}

/* Wait for @pid; its exit status (2 if it did not exit normally). */
static int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 2;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}

/* --join: fork; the child moves into the cgroup and returns 0 to go on;
 * the parent waits and exits with the child's status. */
static int join_child(void)
{
	char path[4096];
	pid_t pid;
	FILE *f;

	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "crd-bypass: fork: %s\n", strerror(errno));
		exit(2);
	}
	if (pid > 0)
		exit(reap(pid));
	snprintf(path, sizeof(path), "%s/cgroup.procs", join_dir);
	f = fopen(path, "w");
	if (!f || fputs("0\n", f) < 0 || fclose(f)) {
		fprintf(stderr, "crd-bypass: --join %s: %s\n", path, strerror(errno));
		_exit(2);
	}
	return 0;
}

/* ---- serve and give ------------------------------------------------------ */

static FILE *log_out;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void logf_line(const char *proto, int fd, const struct sockaddr_storage *peer,
		      const char *what, size_t n)
{
	char l[64], p[64];

	if (!log_out)
		return;
	pthread_mutex_lock(&log_lock);
	fprintf(log_out, "%s local=%s peer=%s %s=%zu\n", proto, local_of(fd, l, sizeof(l)),
		fmt_ss(peer, p, sizeof(p)), what, n);
	fflush(log_out);
	pthread_mutex_unlock(&log_lock);
}

struct conn {
	int fd;
	struct sockaddr_storage peer;
};

static void *echo_tcp(void *arg)
{
	struct conn *c = arg;
	char buf[16384];
	size_t total = 0;
	ssize_t r, w, off;

	for (;;) {
		r = read(c->fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		total += (size_t)r;
		for (off = 0; off < r; off += w) {
			w = write(c->fd, buf + off, (size_t)(r - off));
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w < 0)
				goto out;
		}
	}
out:
	logf_line("tcp", c->fd, &c->peer, "in", total);
	close(c->fd);
	free(c);
	return NULL;
}

static int write_ready(const char *ready)
{
	char tmp[4096];
	FILE *f;

	if (!ready)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
	f = fopen(tmp, "w");
	if (!f || fputs("ready\n", f) < 0 || fclose(f) || rename(tmp, ready)) {
		fprintf(stderr, "crd-bypass: --ready %s: %s\n", ready, strerror(errno));
		return -1;
	}
	return 0;
}

static int ep_sockaddr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *why = NULL;
	struct crd_ipaddr a;
	uint16_t port;

	if (crd_parse_endpoint(s, &a, &port, &why)) {
		fprintf(stderr, "crd-bypass: '%s': %s\n", s, why ? why : "bad address");
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	if (a.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a.addr + 12, 4);
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a.addr, 16);
		*len = sizeof(*s6);
	}
	return 0;
}

static int serve_main(int argc, char **argv, const char *ready, const char *logp)
{
	struct pollfd pf[2 * MAX_EP];
	int i, n = 0, one = 1;

	if (argc < 1 || argc > MAX_EP) {
		usage(stderr);
		return 2;
	}
	if (logp && !(log_out = fopen(logp, "a"))) {
		fprintf(stderr, "crd-bypass: --log %s: %s\n", logp, strerror(errno));
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < argc; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		int t, u;

		if (ep_sockaddr(argv[i], &ss, &len))
			return 2;
		t = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		u = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (t < 0 || u < 0) {
			fprintf(stderr, "crd-bypass: socket: %s\n", strerror(errno));
			return 2;
		}
		setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ss.ss_family == AF_INET6) {
			setsockopt(t, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
			setsockopt(u, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		}
		if (bind(t, (struct sockaddr *)&ss, len) || listen(t, 128) ||
		    bind(u, (struct sockaddr *)&ss, len)) {
			fprintf(stderr, "crd-bypass: serve %s: %s\n", argv[i], strerror(errno));
			return 2;
		}
		pf[n].fd = t;
		pf[n++].events = POLLIN;
		pf[n].fd = u;
		pf[n++].events = POLLIN;
	}
	if (write_ready(ready))
		return 2;
	for (;;) {
		if (poll(pf, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "crd-bypass: poll: %s\n", strerror(errno));
			return 2;
		}
		for (i = 0; i < n; i++) {
			struct sockaddr_storage peer;
			socklen_t pl = sizeof(peer);

			if (!(pf[i].revents & POLLIN))
				continue;
			memset(&peer, 0, sizeof(peer));
			if (i % 2 == 0) {
				struct conn *c = malloc(sizeof(*c));
				pthread_t th;

				if (!c)
					continue;
				c->fd = accept4(pf[i].fd, (struct sockaddr *)&c->peer, &pl,
						SOCK_CLOEXEC);
				if (c->fd < 0 || pthread_create(&th, NULL, echo_tcp, c)) {
					if (c->fd >= 0)
						close(c->fd);
					free(c);
					continue;
				}
				pthread_detach(th);
			} else {
				char buf[65536];
				ssize_t r = recvfrom(pf[i].fd, buf, sizeof(buf), 0,
						     (struct sockaddr *)&peer, &pl);

				if (r < 0)
					continue;
				logf_line("udp", pf[i].fd, &peer, "len", (size_t)r);
				sendto(pf[i].fd, buf, (size_t)r, 0, (struct sockaddr *)&peer, pl);
			}
		}
	}
}

static int give_main(int argc, char **argv, const char *ready)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int ls, c, fd, family, type;

	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "tcp4") || !strcmp(argv[1], "tcp6"))
		type = SOCK_STREAM;
	else if (!strcmp(argv[1], "udp4") || !strcmp(argv[1], "udp6"))
		type = SOCK_DGRAM;
	else {
		usage(stderr);
		return 2;
	}
	family = argv[1][3] == '6' ? AF_INET6 : AF_INET;
	if (strlen(argv[0]) >= sizeof(un.sun_path)) {
		fprintf(stderr, "crd-bypass: %s: path too long\n", argv[0]);
		return 2;
	}
	strcpy(un.sun_path, argv[0]);
	unlink(argv[0]);
	ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&un, sizeof(un)) || listen(ls, 1)) {
		fprintf(stderr, "crd-bypass: give %s: %s\n", argv[0], strerror(errno));
		return 2;
	}
	if (write_ready(ready))
		return 2;
	c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (c < 0 || fd < 0 || send_fd(c, fd)) {
		fprintf(stderr, "crd-bypass: give: %s\n", strerror(errno));
		return 2;
	}
	close(fd);
	close(c);
	close(ls);
	unlink(argv[0]);
	return 0;
}

/* ---- main -------------------------------------------------------------------- */

static int run_path(const char *path, int family, struct dst *d, int nd, char **argv)
{
	int fd, sv[2];
	pid_t pid;

	if (!strcmp(path, "tcp") || !strcmp(path, "mapped") || !strcmp(path, "mptcp") ||
	    !strcmp(path, "tfo-sendto") || !strcmp(path, "tfo-connect") ||
	    !strcmp(path, "iouring-connect") || !strcmp(path, "dup")) {
		enum tcp_how how = T_CONNECT;

		fd = acquire(family, SOCK_STREAM | SOCK_CLOEXEC,
			     !strcmp(path, "mptcp") ? IPPROTO_MPTCP : 0);
		if (fd < 0)
			return 2;
		if (join_dir)
			join_child();
		if (!strcmp(path, "tfo-sendto"))
			how = T_TFO_SENDTO;
		else if (!strcmp(path, "tfo-connect"))
			how = T_TFO_CONNECT;
		else if (!strcmp(path, "iouring-connect"))
			how = T_IOURING;
		if (!strcmp(path, "dup")) {
			int fd2 = dup(fd);

			if (fd2 < 0)
				return report_fail(fd, d, "dup", errno);
			close(fd);
			fd = fd2;
		}
		return run_tcp(fd, d, how);
	}
	if (!strcmp(path, "fork") || !strcmp(path, "exec")) {
		/* exec: the descriptor must survive execve(). */
		fd = acquire(family, SOCK_STREAM | (!strcmp(path, "fork") ? SOCK_CLOEXEC : 0), 0);
		if (fd < 0)
			return 2;
		if (join_dir)
			join_child();
		if (!strcmp(path, "exec") && fcntl(fd, F_SETFD, 0))
			return report_fail(fd, d, "fcntl", errno);
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			return report_fail(fd, d, "fork", errno);
		if (pid == 0) {
			char fds[16], bytes[32], tmo[32], port[16];
			char *args[] = { "crd-bypass", "--fd", fds, "--label", "exec", "--bytes",
					 bytes, "--timeout", tmo, "tcp", argv[0], port, NULL };

			if (!strcmp(path, "fork"))
				exit(run_tcp(fd, d, T_CONNECT));
			snprintf(fds, sizeof(fds), "%d", fd);
			snprintf(bytes, sizeof(bytes), "%zu", opt_bytes);
			snprintf(tmo, sizeof(tmo), "%d.%03d", timeout_ms / 1000, timeout_ms % 1000);
			snprintf(port, sizeof(port), "%s", argv[1]);
			execv("/proc/self/exe", args);
			_exit(report_fail(fd, d, "execve", errno));
		}
		close(fd);
		return reap(pid);
	}
	if (!strcmp(path, "scm-rights")) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
			fprintf(stderr, "crd-bypass: socketpair: %s\n", strerror(errno));
			return 2;
		}
		if (join_dir)
			join_child();
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			return 2;
		if (pid == 0) {
			close(sv[0]);
			fd = recv_fd(sv[1]);
			if (fd < 0)
				exit(report_fail(-1, d, "recvmsg(SCM_RIGHTS)", errno));
			exit(run_tcp(fd, d, T_CONNECT));
		}
		close(sv[1]);
		fd = acquire(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || send_fd(sv[0], fd)) {
			if (fd >= 0)
				fprintf(stderr, "crd-bypass: sendmsg(SCM_RIGHTS): %s\n",
					strerror(errno));
			close(sv[0]);
			reap(pid);
			return 2;
		}
		close(fd);
		close(sv[0]);
		return reap(pid);
	}
	if (!strcmp(path, "udp-connected") || !strcmp(path, "udp-unconnected") ||
	    !strcmp(path, "sendmmsg") || !strcmp(path, "iouring-sendmsg")) {
		enum udp_how how = U_UNCONNECTED;

		if (strcmp(path, "sendmmsg") && nd != 1) {
			fprintf(stderr, "crd-bypass: %s takes one PORT\n", path);
			return 2;
		}
		fd = acquire(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return 2;
		if (join_dir)
			join_child();
		if (!strcmp(path, "udp-connected"))
			how = U_CONNECTED;
		else if (!strcmp(path, "sendmmsg"))
			how = U_SENDMMSG;
		else if (!strcmp(path, "iouring-sendmsg"))
			how = U_IOURING;
		return run_udp(fd, d, nd, how);
	}
	fprintf(stderr, "crd-bypass: unknown PATH '%s'\n", path);
	usage(stderr);
	return 2;
}

static const char *opt_ready, *opt_log;

/* Options, before PATH (and, for serve and give, after it too). -1: go on. */
static int parse_opts(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bytes", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ "fd", required_argument, NULL, 'f' },
		{ "from-unix", required_argument, NULL, 'u' },
		{ "join", required_argument, NULL, 'j' },
		{ "label", required_argument, NULL, 'l' },
		{ "ready", required_argument, NULL, 'r' },
		{ "log", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *why = NULL;
	double secs;
	uint64_t v;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (crd_parse_u64(optarg, 1 << 24, &v, &why)) {
				fprintf(stderr, "crd-bypass: --bytes '%s': %s\n", optarg, why);
				return 2;
			}
			opt_bytes = (size_t)v;
			break;
		case 't':
			secs = strtod(optarg, &end);
			if (*end || secs <= 0 || secs > 600) {
				fprintf(stderr, "crd-bypass: --timeout '%s': 0-600 seconds\n", optarg);
				return 2;
			}
			timeout_ms = (int)(secs * 1000);
			break;
		case 'f':
			if (crd_parse_u64(optarg, 65535, &v, &why)) {
				fprintf(stderr, "crd-bypass: --fd '%s': %s\n", optarg, why);
				return 2;
			}
			opt_fd = (int)v;
			break;
		case 'u':
			from_unix = optarg;
			break;
		case 'j':
			join_dir = optarg;
			break;
		case 'l':
			label = optarg;
			break;
		case 'r':
			opt_ready = optarg;
			break;
		case 'L':
			opt_log = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *why = NULL;
	struct dst d[MAX_DST];
	struct crd_ipaddr a;
	int i, nd, family, udp, r;
	uint64_t v;

	r = parse_opts(argc, argv);
	if (r >= 0)
		return r;
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	prog_path = argv[optind];
	if (!strcmp(prog_path, "serve") || !strcmp(prog_path, "give")) {
		argv += optind;
		argc -= optind;
		optind = 1;
		r = parse_opts(argc, argv);
		if (r >= 0)
			return r;
		if (!strcmp(prog_path, "serve"))
			return serve_main(argc - optind, argv + optind, opt_ready, opt_log);
		return give_main(argc - optind, argv + optind, opt_ready);
	}
	optind++;
	if (!label)
		label = prog_path;
	nd = argc - optind - 1;
	if (nd < 1 || nd > MAX_DST) {
		usage(stderr);
		return 2;
	}
	if (crd_parse_addr(argv[optind], &a, &why)) {
		fprintf(stderr, "crd-bypass: address '%s': %s\n", argv[optind], why);
		return 2;
	}
	udp = !strncmp(prog_path, "udp", 3) || !strcmp(prog_path, "sendmmsg") ||
	      !strcmp(prog_path, "iouring-sendmsg");
	if (!opt_bytes)
		opt_bytes = udp ? 100 : 1000;
	if (udp && (opt_bytes > UDP_MAX || opt_bytes < 32)) {
		fprintf(stderr, "crd-bypass: --bytes: 32-%d for UDP\n", UDP_MAX);
		return 2;
	}
	family = a.family;
	if (!strcmp(prog_path, "mapped")) {
		if (a.family != AF_INET) {
			fprintf(stderr, "crd-bypass: mapped needs an IPv4 ADDR\n");
			return 2;
		}
		family = AF_INET6;
	}
	for (i = 0; i < nd; i++) {
		if (crd_parse_u64(argv[optind + 1 + i], 65535, &v, &why) || !v) {
			fprintf(stderr, "crd-bypass: port '%s': %s\n", argv[optind + 1 + i],
				why ? why : "must be 1-65535");
			return 2;
		}
		memset(&d[i], 0, sizeof(d[i]));
		if (family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&d[i].ss;

			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)v);
			memcpy(&s4->sin_addr, a.addr + 12, 4);
			d[i].len = sizeof(*s4);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&d[i].ss;

			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)v);
			memcpy(&s6->sin6_addr, a.addr, 16);   /* IPv4 as ::ffff:a.b.c.d */
			d[i].len = sizeof(*s6);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	return run_path(prog_path, family, d, nd, argv + optind);
}
