// SPDX-License-Identifier: MIT
/*
 * main.c - connredir-proxy: options, start-up, the event loop, shutdown.
 *
 * Start-up order: parse every option (nothing is touched until all are
 * valid), raise the descriptor limit, open the log, make the listeners,
 * claim them for the service, take signals through a signalfd, say
 * "listening" on stderr, run. SIGTERM/SIGINT close the listeners and the
 * loop runs until the last flow ends or --drain-timeout passes (the rest
 * are reset); a second SIGTERM/SIGINT ends at once. SIGHUP reopens the log.
 * UDP listeners (--udp-listen) and flows (udp.c) share the loop; at
 * SIGTERM/SIGINT every UDP flow ends at once ("shutdown") and is logged.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "conf.h"
#include "dispatch.h"
#include "escape.h"
#include "events.h"
#include "flow.h"
#include "inspect.h"
#include "log.h"
#include "parse.h"
#include "svccheck.h"
#include "udp.h"

#ifdef CONNREDIR_VERSION            /* the Makefile's VERSION, if it passes it */
#define PROXY_VERSION CONNREDIR_VERSION
#else
#define PROXY_VERSION "0.1.0"
#endif
#define FDS_PER_FLOW 6          /* two sockets, two pipes */
#define FDS_SPARE 64
#define DEFAULT_MAX_FLOWS 10000
#define NS 1000000000ull

static const char usage_text[] =
"Usage: connredir-proxy [--instance NAME] --service NAME --listen ADDR:PORT\n"
"                       [--listen ADDR:PORT]... [--udp-listen ADDR:PORT]...\n"
"                       [--inspect LIST]... [--log FILE|-] [--udp-idle-timeout S]\n"
"                       [--max-flows N] [--peek-timeout S] [--connect-timeout S]\n"
"                       [--idle-timeout S] [--drain-timeout S] [--no-claim]\n"
"                       [--copy-only]\n"
"       connredir-proxy -h|--help|--version\n";

static const char help_text[] =
"\n"
"A transparent TCP and UDP inspection proxy for a connredir redirect service. It\n"
"claims its listeners for the service; for each redirected flow it asks the\n"
"kernel for the flow's records and its context (or SO_ORIGINAL_DST), connects\n"
"to the original destination with the records set, and relays, letting the\n"
"inspectors see the first bytes. Run it inside the attached cgroup subtree,\n"
"as the service's proxy identity (--owner-cgroup, --owner-uid).\n"
"\n"
"  --service NAME        the redirect service this proxy serves\n"
"  --instance NAME       a label for the log; where --service is looked up to\n"
"                        warn when --listen is not its proxy address\n"
"  --listen ADDR:PORT    listen there (TCP); IPv6 as [ADDR]:PORT; up to 16 times\n"
"  --udp-listen ADDR:PORT\n"
"                        receive redirected UDP there (a --proto udp service);\n"
"                        up to 16 times; --listen or --udp-listen is needed\n"
"  --inspect LIST        inspectors, comma-separated, in order (default: log):\n"
"                          log         one JSON line per flow, at its end\n"
"                          http        HTTP/1.x request line and Host header\n"
"                          tls         TLS ClientHello server name and ALPN\n"
"                          dns         UDP: DNS query name and type, answer code\n"
"                          block=RULE  refuse flows by dst:ADDR[/LEN][:PORT],\n"
"                                      host:NAME, sni:NAME or dns:NAME (NAME:\n"
"                                      *.DOMAIN too); a blocked DNS query is\n"
"                                      answered REFUSED by the proxy\n"
"  --log FILE|-          where the log inspector writes (default: - for stdout);\n"
"                        --log alone implies the log inspector; lines are\n"
"                        written in batches, at most 50 ms after a flow ends\n"
"  --max-flows N         concurrent flows at most (default 10000); at the\n"
"                        limit, accepting waits until a flow ends; as many\n"
"                        UDP flows again, beyond which new ones are dropped\n"
"  --peek-timeout S      while inspectors wait for the client's first bytes,\n"
"                        wait up to S seconds before connecting onward, so a\n"
"                        refused flow never reaches its destination (default 1;\n"
"                        0: connect at once)\n"
"  --connect-timeout S   onward connect time-out, seconds (default 10)\n"
"  --idle-timeout S      end flows idle this long, seconds (default 300; 0: never)\n"
"  --drain-timeout S     after SIGTERM, wait this long for open flows (default 10)\n"
"  --udp-idle-timeout S  end a UDP flow (and log it) after S seconds without a\n"
"                        datagram either way (default 30)\n"
"  --no-claim            do not claim the listeners (e.g. an SO_ORIGINAL_DST\n"
"                        proxy behind iptables REDIRECT); --service is optional\n"
"  --copy-only           never splice(2): copy every byte through user space\n"
"  -h, --help            show this help\n"
"  --version             show the version\n"
"\n"
"S may have up to 3 decimals (0.5). SIGTERM or SIGINT: stop accepting, let the\n"
"open TCP flows finish (UDP flows end at once), exit 0. SIGHUP: reopen the log.\n"
"Exit status: 0 after SIGTERM/SIGINT, 1 on a usage or start-up error.\n";

static void usage(FILE *f, bool full)
{
	fputs(usage_text, f);
	if (full)
		fputs(help_text, f);
}

__attribute__((format(printf, 1, 2)))
static void err_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("connredir-proxy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "10", "0.5", "2.125": seconds with up to 3 decimals, into ns. */
static int parse_seconds(const char *s, uint64_t max_s, uint64_t *ns, const char **why)
{
	const char *dot = strchr(s, '.');
	char whole[24];
	uint64_t sec, frac = 0;
	size_t n = dot ? (size_t)(dot - s) : strlen(s), i;

	if (n == 0 || n >= sizeof(whole)) {
		*why = "not a number of seconds";
		return -EINVAL;
	}
	memcpy(whole, s, n);
	whole[n] = 0;
	if (crd_parse_u64(whole, max_s, &sec, why))
		return -EINVAL;
	if (dot) {
		for (i = 1; dot[i]; i++) {
			if (dot[i] < '0' || dot[i] > '9' || i > 3) {
				*why = i > 3 ? "at most 3 decimals" : "not a number of seconds";
				return -EINVAL;
			}
			frac = frac * 10 + (uint64_t)(dot[i] - '0');
		}
		if (i == 1) {
			*why = "not a number of seconds";
			return -EINVAL;
		}
		for (; i <= 3; i++)
			frac *= 10;
		if (sec == max_s && frac) {
			*why = "number out of range";
			return -ERANGE;
		}
	}
	*ns = sec * NS + frac * 1000000ull;
	return 0;
}

/* Raise the soft descriptor limit to the hard one; returns the limit. */
static rlim_t raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

/* A claim refused: say why in terms of the service and what to do. */
static void claim_error(const char *service, const char *which, int err)
{
	switch (err) {
	case -ENOENT:
		err_msg("service '%s': no such redirect service (add it with "
			"'connredir service add %s ...' before starting the proxy)",
			service, service);
		break;
	case -EACCES:
		err_msg("service '%s': --listen '%s': this process is not the service's "
			"proxy identity (see --owner-cgroup/--owner-uid of "
			"'connredir service add')", service, which);
		break;
	case -EOPNOTSUPP:
		err_msg("service '%s': --listen '%s': connredir is not attached to this "
			"process's cgroup (start the proxy inside the attached subtree, "
			"e.g. with 'connredir exec', or use --no-claim)", service, which);
		break;
	default:
		err_msg("service '%s': --listen '%s': claiming the listener: %s",
			service, which, strerror(-err));
	}
}

struct signals {
	struct events_handler h;
	int fd;
	unsigned terms;       /* SIGTERM/SIGINT seen */
};

static void on_signal(struct events_handler *h, uint32_t ev)
{
	struct signals *s = (struct signals *)h;
	struct signalfd_siginfo si;
	int err;

	while (read(s->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			err = log_reopen();
			if (err)
				log_warn("SIGHUP: --log '%s': %s (still writing to the old file)",
					 log_path(), strerror(-err));
		} else {
			s->terms++;
		}
	}
}

static int setup_signals(struct signals *s)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	s->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->fd < 0)
		return -errno;
	s->h.fn = on_signal;
	return events_add(s->fd, EPOLLIN, &s->h);
}

/* The loop: until SIGTERM and the last flow, or --drain-timeout. */
/*
 * The instance may have been detached and attached again (its maps, and so
 * the claims, are new): claim the listeners again every RECLAIM_MS, so the
 * proxy is the service's proxy again without a restart. Said once when a
 * claim fails and once when it holds again.
 */
#define RECLAIM_MS 2000
static void reclaim(const char *service)
{
	static uint64_t last;
	static bool failing;
	const char *which = NULL;
	int err;

	if (events_now() - last < (uint64_t)RECLAIM_MS * 1000000)
		return;
	last = events_now();
	err = dispatch_claim(service, &which);
	if (err && !failing)
		log_warn("service '%s': --listen '%s': claiming the listener again: %s "
			 "(is the instance attached, the service there?)", service, which,
			 strerror(-err));
	else if (!err && failing)
		log_warn("service '%s': the listeners are claimed again", service);
	failing = !!err;
}

static void run(const struct proxy_conf *conf, struct signals *sig)
{
	uint64_t drain_end = 0;
	bool draining = false;

	for (;;) {
		int t = flow_timeout_ms(), u = dispatch_timeout_ms();

		if (!conf->no_claim && (t < 0 || t > RECLAIM_MS))
			t = RECLAIM_MS;

		if (u >= 0 && (t < 0 || u < t))
			t = u;
		u = udp_timeout_ms();
		if (u >= 0 && (t < 0 || u < t))
			t = u;
		if (draining) {
			u = drain_end > events_now() ?
			    (int)((drain_end - events_now() + 999999) / 1000000) : 0;
			if (t < 0 || u < t)
				t = u;
		}
		u = log_flush_ms();
		if (u >= 0 && (t < 0 || u < t))
			t = u;
		if (flow_busy())
			t = 0;
		events_run_once(t);
		if (!log_flush_ms())
			log_flush();
		flow_run_again();
		flow_expire();
		udp_expire();
		flow_reap();
		dispatch_update();
		if (!conf->no_claim && !draining)
			reclaim(conf->service);
		if (sig->terms && !draining) {
			draining = true;
			drain_end = events_now() + conf->drain_timeout_ns;
			dispatch_stop();
			udp_stop();
			if (flow_count())
				log_warn("stopping: no longer accepting; waiting for %u open "
					 "flow%s (at most %gs)", flow_count(),
					 flow_count() == 1 ? "" : "s",
					 (double)conf->drain_timeout_ns / NS);
		}
		if (draining && (!flow_count() || sig->terms > 1 || events_now() >= drain_end)) {
			if (flow_count())
				log_warn("stopping: resetting %u open flow%s", flow_count(),
					 flow_count() == 1 ? "" : "s");
			flow_abort_all();
			flow_reap();
			flow_release_all();
			return;
		}
	}
}

enum {
	OPT_INSTANCE = 256, OPT_SERVICE, OPT_LISTEN, OPT_INSPECT, OPT_LOG,
	OPT_MAX_FLOWS, OPT_PEEK_TIMEOUT, OPT_CONNECT_TIMEOUT, OPT_IDLE_TIMEOUT,
	OPT_DRAIN_TIMEOUT, OPT_UDP_LISTEN, OPT_UDP_IDLE_TIMEOUT,
	OPT_NO_CLAIM, OPT_COPY_ONLY, OPT_VERSION,
};

static const struct option options[] = {
	{ "instance", required_argument, NULL, OPT_INSTANCE },
	{ "service", required_argument, NULL, OPT_SERVICE },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "inspect", required_argument, NULL, OPT_INSPECT },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
	{ "peek-timeout", required_argument, NULL, OPT_PEEK_TIMEOUT },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT },
	{ "udp-listen", required_argument, NULL, OPT_UDP_LISTEN },
	{ "udp-idle-timeout", required_argument, NULL, OPT_UDP_IDLE_TIMEOUT },
	{ "no-claim", no_argument, NULL, OPT_NO_CLAIM },
	{ "copy-only", no_argument, NULL, OPT_COPY_ONLY },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ 0 }
};

struct listen_arg {
	const char *text;
	struct crd_ipaddr addr;
	uint16_t port;
};

/* What the command line says, beyond struct proxy_conf. */
struct options {
	struct listen_arg la[DISPATCH_MAX_LISTEN];
	unsigned n_la;
	struct listen_arg ula[UDP_MAX_LISTEN];
	unsigned n_ula;
	const char *log;            /* --log, or NULL */
	bool max_given;             /* --max-flows was given */
	bool inspect_given;         /* --inspect was given */
};

/*
 * parse_options - fill @conf and @o from the command line. Returns 0, 1
 * after printing --help or --version, or -EINVAL after printing what is
 * wrong (the caller adds the usage).
 */
static int parse_options(int argc, char **argv, struct proxy_conf *conf, struct options *o)
{
	const char *why = NULL, *bad;
	uint64_t v;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (c) {
		case OPT_INSTANCE:
		case OPT_SERVICE:
			if (crd_parse_name(optarg, &why)) {
				err_msg("--%s '%s': %s", c == OPT_SERVICE ? "service" : "instance",
					optarg, why);
				return -EINVAL;
			}
			*(c == OPT_SERVICE ? &conf->service : &conf->instance) = optarg;
			break;
		case OPT_LISTEN:
			if (o->n_la == DISPATCH_MAX_LISTEN) {
				err_msg("--listen '%s': at most %d listeners", optarg,
					DISPATCH_MAX_LISTEN);
				return -EINVAL;
			}
			if (crd_parse_endpoint(optarg, &o->la[o->n_la].addr,
					       &o->la[o->n_la].port, &why)) {
				err_msg("--listen '%s': %s", optarg, why);
				return -EINVAL;
			}
			o->la[o->n_la++].text = optarg;
			break;
		case OPT_UDP_LISTEN:
			if (o->n_ula == UDP_MAX_LISTEN) {
				err_msg("--udp-listen '%s': at most %d UDP listeners", optarg,
					UDP_MAX_LISTEN);
				return -EINVAL;
			}
			if (crd_parse_endpoint(optarg, &o->ula[o->n_ula].addr,
					       &o->ula[o->n_ula].port, &why)) {
				err_msg("--udp-listen '%s': %s", optarg, why);
				return -EINVAL;
			}
			o->ula[o->n_ula++].text = optarg;
			break;
		case OPT_UDP_IDLE_TIMEOUT:
			if (parse_seconds(optarg, 86400, &conf->udp_idle_timeout_ns, &why) ||
			    (!conf->udp_idle_timeout_ns && (why = "must be above 0"))) {
				err_msg("--udp-idle-timeout '%s': %s", optarg, why);
				return -EINVAL;
			}
			break;
		case OPT_INSPECT:
			if (inspect_add_list(optarg, &bad, &why)) {
				err_msg("--inspect '%s': %s", bad, why);
				return -EINVAL;
			}
			o->inspect_given = true;
			break;
		case OPT_LOG:
			if (!*optarg) {
				err_msg("--log '': empty file name (use - for standard output)");
				return -EINVAL;
			}
			o->log = optarg;
			break;
		case OPT_MAX_FLOWS:
			if (crd_parse_u64(optarg, 1000000, &v, &why) ||
			    (v == 0 && (why = "must be at least 1"))) {
				err_msg("--max-flows '%s': %s", optarg, why);
				return -EINVAL;
			}
			conf->max_flows = (unsigned)v;
			o->max_given = true;
			break;
		case OPT_PEEK_TIMEOUT:
			if (parse_seconds(optarg, 60, &conf->peek_timeout_ns, &why)) {
				err_msg("--peek-timeout '%s': %s", optarg, why);
				return -EINVAL;
			}
			break;
		case OPT_CONNECT_TIMEOUT:
			if (parse_seconds(optarg, 3600, &conf->connect_timeout_ns, &why) ||
			    (!conf->connect_timeout_ns && (why = "must be above 0"))) {
				err_msg("--connect-timeout '%s': %s", optarg, why);
				return -EINVAL;
			}
			break;
		case OPT_IDLE_TIMEOUT:
			if (parse_seconds(optarg, 31 * 86400, &conf->idle_timeout_ns, &why)) {
				err_msg("--idle-timeout '%s': %s", optarg, why);
				return -EINVAL;
			}
			break;
		case OPT_DRAIN_TIMEOUT:
			if (parse_seconds(optarg, 3600, &conf->drain_timeout_ns, &why)) {
				err_msg("--drain-timeout '%s': %s", optarg, why);
				return -EINVAL;
			}
			break;
		case OPT_NO_CLAIM:
			conf->no_claim = true;
			break;
		case OPT_COPY_ONLY:
			conf->copy_only = true;
			break;
		case 'h':
			usage(stdout, true);
			return 1;
		case OPT_VERSION:
			printf("connredir-proxy %s\n", PROXY_VERSION);
			return 1;
		case ':':
			err_msg("option '%s' needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			if (optopt)
				err_msg("unknown option '-%c'", optopt);
			else
				err_msg("unknown option '%s'", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		err_msg("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (!o->n_la && !o->n_ula) {
		err_msg("--listen ADDR:PORT is required");
		return -EINVAL;
	}
	if (!conf->service && !conf->no_claim) {
		err_msg("--service NAME is required (or --no-claim)");
		return -EINVAL;
	}
	/* No --inspect: log. --log without the log inspector: add it. */
	if ((!o->inspect_given || (o->log && !inspect_has("log"))) &&
	    inspect_add_list("log", &bad, &why))
		return -EINVAL;
	if (inspect_has("log") && !o->log)
		o->log = "-";
	return 0;
}

/*
 * fit_max_flows - raise the descriptor limit; a --max-flows that does not
 * fit is an error, the default is lowered to fit. Returns 0 or -EMFILE.
 */
static int fit_max_flows(struct proxy_conf *conf, bool given)
{
	rlim_t limit = raise_nofile();
	unsigned fit;

	if ((rlim_t)conf->max_flows * FDS_PER_FLOW + FDS_SPARE <= limit)
		return 0;
	fit = limit > FDS_SPARE + FDS_PER_FLOW ?
	      (unsigned)((limit - FDS_SPARE) / FDS_PER_FLOW) : 1;
	if (given) {
		err_msg("--max-flows '%u': needs up to %u file descriptors, the limit "
			"(RLIMIT_NOFILE) is %llu: at most %u flows fit", conf->max_flows,
			conf->max_flows * FDS_PER_FLOW + FDS_SPARE,
			(unsigned long long)limit, fit);
		return -EMFILE;
	}
	conf->max_flows = fit;
	return 0;
}

int main(int argc, char **argv)
{
	struct proxy_conf conf = {
		.max_flows = DEFAULT_MAX_FLOWS,
		.peek_timeout_ns = 1 * NS,
		.connect_timeout_ns = 10 * NS,
		.idle_timeout_ns = 300 * NS,
		.drain_timeout_ns = 10 * NS,
		.udp_idle_timeout_ns = 30 * NS,
	};
	struct signals sig = { .fd = -1 };
	struct options o = { 0 };
	const char *what;
	unsigned i;
	int err, ret = 1;

	/* Messages echo options, peers and names: through the terminal
	 * escape (the flow log is JSON, escaped by common/json.c). */
	crd_esc_stdio(false);
	err = parse_options(argc, argv, &conf, &o);
	if (err) {
		if (err < 0)
			usage(stderr, false);
		ret = err < 0;
		goto cleanup;
	}
	if (fit_max_flows(&conf, o.max_given))
		goto cleanup;
	err = log_open(o.log);
	if (err) {
		err_msg("--log '%s': %s", o.log, strerror(-err));
		goto cleanup;
	}
	for (i = 0; i < o.n_la; i++) {
		err = dispatch_listen(o.la[i].text, &o.la[i].addr, o.la[i].port, &what);
		if (err) {
			err_msg("--listen '%s': %s: %s", o.la[i].text, what, strerror(-err));
			goto cleanup;
		}
	}
	for (i = 0; i < o.n_ula; i++) {
		err = udp_listen(o.ula[i].text, &o.ula[i].addr, o.ula[i].port, &what);
		if (err) {
			err_msg("--udp-listen '%s': %s: %s", o.ula[i].text, what, strerror(-err));
			goto cleanup;
		}
	}
	if (!conf.no_claim) {
		err = dispatch_claim(conf.service, &what);
		if (err) {
			claim_error(conf.service, what, err);
			goto cleanup;
		}
	}
	err = events_init();
	if (!err)
		err = setup_signals(&sig);
	if (!err)
		err = dispatch_start(conf.max_flows);
	if (!err)
		err = udp_start(&conf);
	if (err) {
		err_msg("event loop: %s", strerror(-err));
		goto cleanup;
	}
	flow_init(&conf);
	for (i = 0; i < o.n_la; i++)
		svccheck_listen(conf.instance, conf.service, o.la[i].text, &o.la[i].addr,
				o.la[i].port);
	for (i = 0; i < o.n_la; i++)
		err_msg("service '%s': listening on %s%s", conf.service ? conf.service : "-",
			o.la[i].text, conf.no_claim ? "" : " (claimed)");
	for (i = 0; i < o.n_ula; i++)
		err_msg("service '%s': listening on %s (UDP)", conf.service ? conf.service : "-",
			o.ula[i].text);
	run(&conf, &sig);
	ret = 0;
cleanup:
	dispatch_stop();
	udp_stop();
	if (sig.fd >= 0)
		close(sig.fd);
	events_fini();
	if (log_dropped())
		err_msg("--log '%s': %lu log line%s could not be written (dropped)",
			log_path(), log_dropped(), log_dropped() == 1 ? "" : "s");
	log_close();
	inspect_fini();
	return ret;
}
