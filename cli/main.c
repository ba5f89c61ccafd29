// SPDX-License-Identifier: MIT
/*
 * main.c - connredir: attach, configure and watch connection redirection.
 *
 * One table of commands drives both dispatch and --help.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "parse.h"

#ifdef CONNREDIR_VERSION
#define CRD_VERSION CONNREDIR_VERSION
#else
#define CRD_VERSION "0.1.0"
#endif

const char *crd_instance = CRD_DEFAULT_INSTANCE;
bool crd_json;
FILE *crd_stdout_raw;

void crd_err(const char *fmt, ...)
{
	va_list ap;

	fputs("connredir: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void crd_try_help(const char *cmd)
{
	crd_err("try 'connredir %s%s--help'", cmd ? cmd : "", cmd ? " " : "");
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *desc;
} commands[] = {
	{ "attach", attach_main, "[--system-wide] [--hop-limit N] CGROUP_PATH",
	  "load the programs and attach them to a cgroup v2 subtree" },
	{ "detach", detach_main, "",
	  "detach this instance's programs and remove its pinned state" },
	{ "service", service_main, "add|del|list ...",
	  "register, remove and list redirect services" },
	{ "apply", apply_main, "[--check | --detach] FILE",
	  "make the instance match a configuration file (connredir.conf(5))" },
	{ "status", status_main, "[--json]",
	  "show the attach point, services, counters and map sizes" },
	{ "flows", flows_main, "[--json]",
	  "list the live redirected flows: application, destination, chain" },
	{ "events", events_main, "[--json] [--follow] [--count N]",
	  "stream redirection decisions as they happen" },
	{ "stats", stats_main, "[--json]",
	  "per-service and total counters" },
	{ "set", set_main, "[--hop-limit N] [--quota-tcp N] [--quota-udp N]",
	  "change settings of an attached instance" },
	{ "exec", exec_main, "[--cgroup NAME] -- COMMAND [ARG]...",
	  "run COMMAND in a child cgroup of the attached cgroup" },
	{ "upgrade", upgrade_main, "[--object FILE] [--json]",
	  "replace the attached programs with this build's, keeping the maps" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: connredir [--instance NAME] [--verbose] COMMAND [ARGS]...\n\n"
		"Redirect local TCP connections and UDP flows through chains of inspection\n"
		"proxies (redirect services), with per-flow redirect records so services\n"
		"chain without loops.\n\nCommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n           %s\n", commands[i].name,
			commands[i].args, commands[i].desc);
	fprintf(f, "\nOptions:\n"
		"  --instance NAME  which instance (default \"%s\"); state is pinned\n"
		"                   under %s/NAME\n"
		"  -v, --verbose    also say why optional kernel features are off and\n"
		"                   show libbpf's warnings\n"
		"  -h, --help       this help; COMMAND --help for a command's\n"
		"  --version        the version\n\n"
		"See connredir(8).\n", CRD_DEFAULT_INSTANCE, CRD_PIN_ROOT);
}

/* Everything the CLI prints, and what libbpf prints through stderr, goes
 * through the terminal escape (common/escape.h): a process name, a path or
 * an input echoed in an error cannot drive the terminal. JSON output is
 * printable ASCII already and passes unchanged. */
static void escape_output(void)
{
	crd_stdout_raw = stdout;
	crd_esc_stdio(true);
}

int main(int argc, char **argv)
{
	const char *why;
	int i = 1;
	size_t c;

	escape_output();
	libbpf_set_print(crd_libbpf_print);   /* every command that loads BPF */
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			crd_verbose = true;
			i++;
		} else if (!strcmp(argv[i], "--version")) {
			printf("connredir %s (map layout %d)\n", CRD_VERSION, CRD_LAYOUT_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "--instance") ||
			   !strncmp(argv[i], "--instance=", 11)) {
			const char *v = argv[i][10] == '=' ? argv[i] + 11 : argv[++i];

			if (!v) {
				crd_err("--instance needs a NAME");
				crd_try_help(NULL);
				return 1;
			}
			if (crd_parse_name(v, &why)) {
				crd_err("instance '%s': %s", v, why);
				return 1;
			}
			crd_instance = v;
			i++;
		} else {
			crd_err("unknown option '%s'", argv[i]);
			crd_try_help(NULL);
			return 1;
		}
	}
	if (i >= argc) {
		crd_err("a COMMAND is needed");
		crd_try_help(NULL);
		return 1;
	}
	for (c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
		if (!strcmp(argv[i], commands[c].name))
			return commands[c].fn(argc - i, argv + i);
	crd_err("unknown command '%s'", argv[i]);
	crd_try_help(NULL);
	return 1;
}
