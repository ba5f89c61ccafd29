// SPDX-License-Identifier: MIT
/*
 * crd-udplsn - a UDP proxy that answers from the socket it received on (the
 * way dnsmasq or a plain echo does), and the applications that test it.
 *
 *   crd-udplsn proxy [--ready FILE] [--log FILE] [--reply-socket|--no-reply] LISTEN...
 *       Receive on each LISTEN endpoint with the flow handle
 *       (connredir_udp_recvfrom). A datagram's payload is "dst=ENDPOINT ...":
 *       it is "ok" if ENDPOINT is the original destination of the flow its
 *       handle names (connredir_udp_query_context), "bad" otherwise,
 *       "unmarked" without a handle. Each datagram is answered with
 *       "ok|bad|unmarked dst=ENDPOINT ...": from the listening socket, or
 *       with --reply-socket from a per-flow socket carrying the flow's
 *       records (the documented way to answer one of several flows of one
 *       application socket); --no-reply: not at all. At SIGTERM it writes
 *       "summary ok=N bad=N unmarked=N nocontext=N" to the log (default
 *       stdout); nocontext: the flow was gone when asked (its socket closed).
 *   crd-udplsn stress [--threads T] [--count N] DST...
 *       One unconnected socket, T threads (default 8), thread i sends N
 *       datagrams (default 2000) "dst=DST[i mod #DST] seq=K" to its
 *       destination. Replies are not read; the socket stays open 2 seconds
 *       after the last send, so the proxy can still ask for the flows.
 *   crd-udplsn stale DST OTHER
 *       One socket with path MTU discovery on: a datagram to DST, then one
 *       too big for the path MTU (it fails after the sendmsg hook ran), then
 *       connect(OTHER) and send() (no sendmsg hook). Prints
 *       "first=ok big=ERRNO-NAME other=ok"; the OTHER listener tells
 *       whether that last datagram was tagged with DST's flow.
 *   crd-udplsn query [-6] [--mmsg] [--shared] [--count N] DST...
 *       Ask each DST N times (default 1), each DST from its own unconnected
 *       socket (--shared: all from one), with sendto/recvfrom (--mmsg:
 *       sendmmsg/recvmmsg); -6: AF_INET6 sockets (IPv4 DSTs as IPv4-mapped).
 *       Per reply: "reply dst=DST from=SRC ok|wrong-source|bad-payload".
 *       Ends with "summary ok=N wrong=N untranslated=N missing=N", where
 *       untranslated counts replies whose source is not a DST at all (the
 *       proxy's own address) and wrong counts replies from another DST.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <connredir/connredir.h>
#include "parse.h"

#define MAX_EP 16
#define MAX_FLOWS 4096

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "crd-udplsn: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	exit(2);
}

struct ep {
	const char *text;
	struct sockaddr_storage ss;
	socklen_t len;
};

static void ep_parse(struct ep *e, const char *s, bool v6)
{
	struct crd_ipaddr a;
	uint16_t port;
	const char *why = NULL;

	if (crd_parse_endpoint(s, &a, &port, &why))
		die(why ? why : "bad endpoint", s);
	e->text = s;
	e->len = crd_ipaddr_to_sockaddr(&a, port, crd_ipaddr_is_v4(&a) && !v6, &e->ss);
}

/* "ADDR:PORT" of @ss, IPv4-mapped shown as IPv4. */
static const char *ep_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	struct crd_ipaddr a;
	uint16_t port;

	crd_ipaddr_from_sockaddr(ss, &a, &port);
	return crd_format_endpoint(&a, port, buf, len);
}

/* ---- proxy ---- */

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

struct rflow {
	uint32_t handle;
	int fd;          /* per-flow reply socket with the flow's records */
};

static int reply_socket(int lfd, uint32_t h, struct rflow *rf, size_t *nrf)
{
	struct sockaddr_storage la;
	socklen_t ll = sizeof(la);
	unsigned char blob[256];
	size_t need = 0, i;
	int fd, err;

	for (i = 0; i < *nrf; i++)
		if (rf[i].handle == h)
			return rf[i].fd;
	if (*nrf == MAX_FLOWS || getsockname(lfd, (struct sockaddr *)&la, &ll))
		return -1;
	err = connredir_udp_query_records(lfd, h, blob, sizeof(blob), &need);
	if (err)
		return -1;
	fd = socket(la.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* The listener's address, any port: the application's recvmsg hook
	 * checks the address against the flow's proxy. */
	if (la.ss_family == AF_INET)
		((struct sockaddr_in *)&la)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&la)->sin6_port = 0;
	if (connredir_set_records(fd, blob, need) ||
	    bind(fd, (struct sockaddr *)&la, ll)) {
		close(fd);
		return -1;
	}
	rf[*nrf].handle = h;
	rf[*nrf].fd = fd;
	(*nrf)++;
	return fd;
}

static int cmd_proxy(int argc, char **argv)
{
	const char *ready = NULL, *logpath = NULL;
	struct pollfd pfd[MAX_EP];
	unsigned long ok = 0, bad = 0, unmarked = 0, nocontext = 0;
	static struct rflow rf[MAX_FLOWS];
	size_t nrf = 0;
	bool per_flow = false, reply = true;
	int n = 0, i;
	FILE *log = stdout;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ready") && i + 1 < argc)
			ready = argv[++i];
		else if (!strcmp(argv[i], "--log") && i + 1 < argc)
			logpath = argv[++i];
		else if (!strcmp(argv[i], "--reply-socket"))
			per_flow = true;
		else if (!strcmp(argv[i], "--no-reply"))
			reply = false;
		else if (n < MAX_EP) {
			struct ep e;
			int one = 1 << 24;

			ep_parse(&e, argv[i], false);
			pfd[n].fd = socket(e.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			pfd[n].events = POLLIN;
			if (pfd[n].fd < 0 || bind(pfd[n].fd, (struct sockaddr *)&e.ss, e.len))
				die("cannot bind", argv[i]);
			setsockopt(pfd[n].fd, SOL_SOCKET, SO_RCVBUFFORCE, &one, sizeof(one));
			if (connredir_udp_listen(pfd[n].fd))
				die("connredir_udp_listen failed on", argv[i]);
			n++;
		} else {
			die("too many endpoints", argv[i]);
		}
	}
	if (!n)
		die("usage: crd-udplsn proxy [--ready FILE] [--log FILE] [--reply-socket|--no-reply] LISTEN...", NULL);
	if (logpath && !(log = fopen(logpath, "a")))
		die("cannot open", logpath);
	signal(SIGTERM, on_term);
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (!f)
			die("cannot write", ready);
		fclose(f);
	}
	while (!stop) {
		if (poll(pfd, n, 100) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			struct sockaddr_storage from, ctxdst;
			struct connredir_context ctx;
			socklen_t fl = sizeof(from);
			char buf[512], out[600], want[80], got[80];
			const char *verdict;
			uint32_t h = 0;
			ssize_t len;
			int rfd;

			if (!(pfd[i].revents & POLLIN))
				continue;
			len = connredir_udp_recvfrom(pfd[i].fd, buf, sizeof(buf) - 1, MSG_DONTWAIT,
						     (struct sockaddr *)&from, &fl, &h);
			if (len < 0)
				continue;
			buf[len] = 0;
			if (sscanf(buf, "dst=%79s", got) != 1)
				got[0] = 0;
			if (!h) {
				verdict = "unmarked";
				unmarked++;
			} else if (connredir_udp_query_context(pfd[i].fd, h, &ctx)) {
				verdict = "nocontext";   /* the flow is gone already */
				nocontext++;
			} else {
				struct crd_ipaddr a = { .family = AF_INET6 };

				memcpy(a.addr, ctx.orig_dst, 16);
				crd_ipaddr_to_sockaddr(&a, ntohs(ctx.orig_dst_port),
						       crd_ipaddr_is_v4(&a), &ctxdst);
				ep_format(&ctxdst, want, sizeof(want));
				verdict = strcmp(want, got) ? "bad" : "ok";
				if (*verdict == 'b') {
					bad++;
					fprintf(log, "bad handle=%x payload=%s context=%s\n", h, got, want);
					fflush(log);
				} else {
					ok++;
				}
			}
			if (!reply)
				continue;
			snprintf(out, sizeof(out), "%s %s", verdict, buf);
			rfd = per_flow && h ? reply_socket(pfd[i].fd, h, rf, &nrf) : pfd[i].fd;
			if (rfd < 0)
				rfd = pfd[i].fd;
			sendto(rfd, out, strlen(out), MSG_DONTWAIT, (struct sockaddr *)&from, fl);
		}
	}
	fprintf(log, "summary ok=%lu bad=%lu unmarked=%lu nocontext=%lu\n", ok, bad, unmarked,
		nocontext);
	fclose(log);
	return 0;
}

/* ---- stress ---- */

struct sender {
	pthread_t th;
	int fd;
	const struct ep *dst;
	unsigned count;
	unsigned failed;
};

static void *send_loop(void *arg)
{
	struct sender *s = arg;
	char buf[128];
	unsigned k;

	for (k = 0; k < s->count; k++) {
		int len = snprintf(buf, sizeof(buf), "dst=%s seq=%u", s->dst->text, k);

		if (sendto(s->fd, buf, len, 0, (const struct sockaddr *)&s->dst->ss, s->dst->len) < 0)
			s->failed++;
		if (k % 256 == 255)
			usleep(200);   /* let the proxy keep up: drops prove nothing */
	}
	return NULL;
}

static int cmd_stress(int argc, char **argv)
{
	struct ep dst[MAX_EP];
	struct sender s[64];
	unsigned threads = 8, count = 2000, nd = 0, i, failed = 0;
	int fd;

	for (i = 1; i < (unsigned)argc; i++) {
		if (!strcmp(argv[i], "--threads") && i + 1 < (unsigned)argc)
			threads = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--count") && i + 1 < (unsigned)argc)
			count = (unsigned)atoi(argv[++i]);
		else if (nd < MAX_EP)
			ep_parse(&dst[nd++], argv[i], false);
		else
			die("too many destinations", argv[i]);
	}
	if (!nd || !threads || threads > 64)
		die("usage: crd-udplsn stress [--threads 1-64] [--count N] DST...", NULL);
	fd = socket(dst[0].ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket", strerror(errno));
	for (i = 0; i < threads; i++) {
		s[i] = (struct sender){ .fd = fd, .dst = &dst[i % nd], .count = count };
		if (pthread_create(&s[i].th, NULL, send_loop, &s[i]))
			die("pthread_create", NULL);
	}
	for (i = 0; i < threads; i++) {
		pthread_join(s[i].th, NULL);
		failed += s[i].failed;
	}
	printf("sent=%u failed=%u\n", threads * count - failed, failed);
	fflush(stdout);
	sleep(2);
	close(fd);
	return 0;
}

/* ---- stale ---- */

static int cmd_stale(int argc, char **argv)
{
	struct ep dst, other;
	char big[3000], msg[128];
	int fd, pmtu = IP_PMTUDISC_DO, e1, e2, e3;
	ssize_t r;

	if (argc != 3)
		die("usage: crd-udplsn stale DST OTHER", NULL);
	ep_parse(&dst, argv[1], false);
	ep_parse(&other, argv[2], false);
	fd = socket(dst.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu)))
		die("socket", strerror(errno));
	snprintf(msg, sizeof(msg), "dst=%s seq=0", dst.text);
	r = sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&dst.ss, dst.len);
	e1 = r < 0 ? errno : 0;
	memset(big, 'x', sizeof(big));
	r = sendto(fd, big, sizeof(big), 0, (struct sockaddr *)&dst.ss, dst.len);
	e2 = r < 0 ? errno : 0;
	snprintf(msg, sizeof(msg), "dst=%s seq=0", other.text);
	r = connect(fd, (struct sockaddr *)&other.ss, other.len) ? -1 : send(fd, msg, strlen(msg), 0);
	e3 = r < 0 ? errno : 0;
	printf("first=%s big=%s other=%s\n", e1 ? strerrorname_np(e1) : "ok",
	       e2 ? strerrorname_np(e2) : "ok", e3 ? strerrorname_np(e3) : "ok");
	sleep(1);   /* the flow stays while the listeners look */
	close(fd);
	return 0;
}

/* ---- query ---- */

static int cmd_query(int argc, char **argv)
{
	struct ep dst[MAX_EP];
	int fds[MAX_EP];
	bool v6 = false, mmsg = false, shared = false;
	unsigned nd = 0, count = 1, i, k;
	unsigned long ok = 0, wrong = 0, untrans = 0, got = 0;
	const char *targ[MAX_EP];
	int nt = 0;

	for (i = 1; i < (unsigned)argc; i++) {
		if (!strcmp(argv[i], "-6"))
			v6 = true;
		else if (!strcmp(argv[i], "--mmsg"))
			mmsg = true;
		else if (!strcmp(argv[i], "--shared"))
			shared = true;
		else if (!strcmp(argv[i], "--count") && i + 1 < (unsigned)argc)
			count = (unsigned)atoi(argv[++i]);
		else if (nt < MAX_EP)
			targ[nt++] = argv[i];
		else
			die("too many destinations", argv[i]);
	}
	for (i = 0; i < (unsigned)nt; i++)
		ep_parse(&dst[nd++], targ[i], v6);
	if (!nd || !count || count > 64)
		die("usage: crd-udplsn query [-6] [--mmsg] [--shared] [--count 1-64] DST...", NULL);
	for (i = 0; i < nd; i++) {
		struct timeval tv = { .tv_sec = 2 };

		if (shared && i) {
			fds[i] = fds[0];
			continue;
		}
		fds[i] = socket(dst[i].ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0)
			die("socket", strerror(errno));
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	/* Send everything first, then collect: with --shared the replies of
	 * several flows are all waiting on one socket. */
	for (i = 0; i < nd; i++) {
		struct mmsghdr mh[64];
		struct iovec iov[64];
		char buf[64][128];

		for (k = 0; k < count; k++) {
			iov[k].iov_base = buf[k];
			iov[k].iov_len = (size_t)snprintf(buf[k], sizeof(buf[k]), "dst=%s seq=%u",
							  dst[i].text, k);
			memset(&mh[k], 0, sizeof(mh[k]));
			mh[k].msg_hdr.msg_name = &dst[i].ss;
			mh[k].msg_hdr.msg_namelen = dst[i].len;
			mh[k].msg_hdr.msg_iov = &iov[k];
			mh[k].msg_hdr.msg_iovlen = 1;
			if (!mmsg && sendmsg(fds[i], &mh[k].msg_hdr, 0) < 0)
				die("sendmsg", strerror(errno));
		}
		if (mmsg && sendmmsg(fds[i], mh, count, 0) != (int)count)
			die("sendmmsg", strerror(errno));
	}
	for (i = 0; i < nd; i++) {
		unsigned want = shared ? (i ? 0 : nd * count) : count;

		while (want) {
			struct sockaddr_storage from[64];
			struct mmsghdr mh[64];
			struct iovec iov[64];
			char buf[64][256];
			int r, j;

			for (k = 0; k < 64; k++) {
				memset(&mh[k], 0, sizeof(mh[k]));
				iov[k].iov_base = buf[k];
				iov[k].iov_len = sizeof(buf[k]) - 1;
				mh[k].msg_hdr.msg_name = &from[k];
				mh[k].msg_hdr.msg_namelen = sizeof(from[k]);
				mh[k].msg_hdr.msg_iov = &iov[k];
				mh[k].msg_hdr.msg_iovlen = 1;
			}
			if (mmsg) {
				r = recvmmsg(fds[i], mh, want < 64 ? want : 64, MSG_WAITFORONE, NULL);
			} else {
				ssize_t l = recvmsg(fds[i], &mh[0].msg_hdr, 0);

				r = l < 0 ? -1 : 1;
				mh[0].msg_len = l < 0 ? 0 : (unsigned)l;
			}
			if (r <= 0)
				break;
			for (j = 0; j < r; j++) {
				char src[80], pd[80] = "", verdict[16] = "";
				const char *what;
				unsigned d;

				buf[j][mh[j].msg_len] = 0;
				ep_format(&from[j], src, sizeof(src));
				sscanf(buf[j], "%15s dst=%79s", verdict, pd);
				for (d = 0; d < nd; d++) {
					char t[80];

					if (!strcmp(ep_format(&dst[d].ss, t, sizeof(t)), src))
						break;
				}
				if (d == nd) {
					what = "untranslated";
					untrans++;
				} else if (strcmp(dst[d].text, pd) || strcmp(verdict, "ok")) {
					what = "wrong-source";
					wrong++;
				} else {
					what = "ok";
					ok++;
				}
				printf("reply dst=%s from=%s %s\n", pd, src, what);
				got++;
			}
			want -= (unsigned)r < want ? (unsigned)r : want;
		}
	}
	printf("summary ok=%lu wrong=%lu untranslated=%lu missing=%lu\n", ok, wrong, untrans,
	       nd * count - got);
	return ok == nd * count ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "proxy"))
		return cmd_proxy(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "stress"))
		return cmd_stress(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "stale"))
		return cmd_stale(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "query"))
		return cmd_query(argc - 1, argv + 1);
	fprintf(stderr, "usage: crd-udplsn proxy|stress|stale|query ... (see the source's header)\n");
	return 2;
}
