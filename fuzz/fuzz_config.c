// SPDX-License-Identifier: MIT
/*
 * fuzz_config.c - libFuzzer target for connredir.conf(5) as `connredir
 * apply` reads it: cli/config.c (conf_load, conf_report, conf_free) with
 * libinih, and the service options it shares with the CLI
 * (cli/service_spec.c).
 *
 *	make build/fuzz/fuzz_config
 *	build/fuzz/fuzz_config -max_total_time=60 build/fuzz-work/x fuzz/corpus/config
 *
 * The input is the file's bytes; conf_load reads them from a memfd through
 * /proc/self/fd/N, so nothing is written anywhere. Everything it allocates
 * is freed (conf_free, after conf_report on every other input), so
 * LeakSanitizer sees any leak.
 *
 * Checked: conf_load reads any bytes (returns 0); what it keeps has the
 * invariants of a spec (fuzz_svc.h) and of the [instance] section; a key
 * is taken from the line that names it, never from a line read as the
 * continuation of the previous one (whatever blanks start it); every
 * problem names a line of the file (or 0) and says something; a file
 * without problems has what apply needs, and written back as text (one
 * "key=value" per option) loads again without problems to the same
 * configuration; conf_report gives every problem once, in line order.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_svc.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- what main.c gives config.c ------------------------------------------ */

static const char *report_path;
static unsigned reported, last_line;

/* conf_report's output: "PATH:LINE: text" or "PATH: text", in line order. */
void crd_err(const char *fmt, ...)
{
	char buf[8192], *p, *end;
	size_t pl = strlen(report_path);
	unsigned long line = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	FUZZ_ASSERT(!strncmp(buf, report_path, pl) && buf[pl] == ':');
	p = buf + pl + 1;
	if (*p != ' ') {
		line = strtoul(p, &end, 10);
		FUZZ_ASSERT(end > p && *end == ':' && line > 0);
		p = end + 1;
	}
	FUZZ_ASSERT(p[0] == ' ' && p[1]);
	/* In line order; a line-less report ("... and N more problems")
	 * may close the list. */
	FUZZ_ASSERT(!line || line >= last_line);
	if (line)
		last_line = line;
	reported++;
}

/* ---- the file ------------------------------------------------------------- */

static int memfd = -1;
static char path[64];

static void put_file(const void *buf, size_t len)
{
	FUZZ_ASSERT(!ftruncate(memfd, 0));
	FUZZ_ASSERT(len == 0 || pwrite(memfd, buf, len, 0) == (ssize_t)len);
}

static unsigned count_lines(const uint8_t *data, size_t size)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + (size && data[size - 1] != '\n');
}

/* White space as inih's lskip/rstrip see it, the line's end aside. */
static int blank(uint8_t ch)
{
	return ch == ' ' || ch == '\t' || ch == '\v' || ch == '\f' || ch == '\r';
}

/*
 * Line @line of the input is "KEY = ..." (or "KEY: ..."): a key is only
 * ever taken from its own line, never from a line that inih would read as
 * the continuation of the previous value.
 */
static int line_names_key(const uint8_t *data, size_t size, unsigned line, const char *key)
{
	size_t off = 0, k = strlen(key);
	unsigned n;

	for (n = 1; n < line; n++) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);

		FUZZ_ASSERT(nl);
		off = nl - data + 1;
	}
	if (line == 1 && size - off >= 3 && !memcmp(data + off, "\xef\xbb\xbf", 3))
		off += 3;
	while (off < size && blank(data[off]))
		off++;
	if (size - off < k || memcmp(data + off, key, k))
		return 0;
	for (off += k; off < size && blank(data[off]); off++)
		;
	return off < size && (data[off] == '=' || data[off] == ':');
}

static void check_lines(const struct conf *c, const uint8_t *data, size_t size)
{
	unsigned i, k;

	FUZZ_ASSERT(!c->name_line || line_names_key(data, size, c->name_line, "name"));
	FUZZ_ASSERT(!c->cgroup_line || line_names_key(data, size, c->cgroup_line, "cgroup"));
	FUZZ_ASSERT(!c->sw_line || line_names_key(data, size, c->sw_line, "system-wide"));
	FUZZ_ASSERT(!c->hop_line || line_names_key(data, size, c->hop_line, "hop-limit"));
	for (i = 0; i < c->n_svc; i++)
		for (k = 0; k < SVC_OPT_MAX; k++)
			FUZZ_ASSERT(!c->svc[i].opt_line[k] ||
				    line_names_key(data, size, c->svc[i].opt_line[k],
						   service_opt_names[k]));
}

static void check_conf(const struct conf *c, unsigned nlines)
{
	const char *why;
	unsigned i, j, k;

	FUZZ_ASSERT(c->path == path);
	FUZZ_ASSERT(c->inst_line <= nlines);
	FUZZ_ASSERT(memchr(c->name, 0, sizeof(c->name)));
	if (c->name[0])
		FUZZ_ASSERT(!crd_parse_name(c->name, NULL) && c->name_line);
	FUZZ_ASSERT(c->hop_limit >= 1 && c->hop_limit <= CRD_MAX_HOPS);
	if (c->cgroup)
		FUZZ_ASSERT(c->cgroup[0] && c->cgroup_line);
	FUZZ_ASSERT(c->name_line <= nlines && c->cgroup_line <= nlines &&
		    c->sw_line <= nlines && c->hop_line <= nlines);
	if (!c->inst_line)
		FUZZ_ASSERT(!c->name_line && !c->cgroup_line && !c->sw_line && !c->hop_line);
	FUZZ_ASSERT(c->n_svc <= CRD_MAX_SERVICES);
	for (i = 0; i < c->n_svc; i++) {
		const struct conf_service *cs = &c->svc[i];

		FUZZ_ASSERT(cs->line >= 1 && cs->line <= nlines);
		fuzz_check_spec(&cs->spec);
		fuzz_check_required(&cs->spec);
		for (k = 0; k < SVC_OPT_MAX; k++)
			FUZZ_ASSERT(cs->opt_line[k] <= nlines &&
				    (!cs->opt_line[k] || cs->opt_line[k] > cs->line));
		/* The cgroup paths are the file's own copies, never empty. */
		FUZZ_ASSERT(cs->spec.app_cg == cs->cg[0] && cs->spec.owner_cg == cs->cg[1]);
		FUZZ_ASSERT((!cs->cg[0] || cs->cg[0][0]) && (!cs->cg[1] || cs->cg[1][0]));
		for (j = 0; j < i; j++)
			FUZZ_ASSERT(strcmp(cs->spec.svc.name, c->svc[j].spec.svc.name));
		if (i)
			FUZZ_ASSERT(cs->line > c->svc[i - 1].line);
	}
	for (i = 0; i < c->n_msgs; i++)
		FUZZ_ASSERT(c->msgs[i].line <= nlines && c->msgs[i].text &&
			    c->msgs[i].text[0]);
	if (!c->n_msgs && c->empty) {
		/* Blank lines and comments only: no problem, nothing in it (the
		 * caller decides, apply --allow-empty). */
		FUZZ_ASSERT(!c->inst_line && !c->n_svc);
	} else if (!c->n_msgs) {
		/* What apply needs is there. */
		FUZZ_ASSERT(c->inst_line && (c->cgroup || c->system_wide));
		for (i = 0; i < c->n_svc; i++)
			FUZZ_ASSERT(!service_spec_check(&c->svc[i].spec, false, &why));
	}
}

/* ---- written back ---------------------------------------------------------- */

struct text {
	char *buf;
	size_t len;
	FILE *f;
};

static void emit_line(void *ctx, int opt, const char *val)
{
	struct text *t = ctx;

	fprintf(t->f, "%s=%s\n", service_opt_names[opt], val);
}

static void same_conf(const struct conf *a, const struct conf *b)
{
	unsigned i;

	FUZZ_ASSERT(b->n_msgs == 0);
	FUZZ_ASSERT(!strcmp(a->name, b->name));
	FUZZ_ASSERT((!a->cgroup && !b->cgroup) || (a->cgroup && b->cgroup &&
						     !strcmp(a->cgroup, b->cgroup)));
	FUZZ_ASSERT(a->system_wide == b->system_wide && a->hop_limit == b->hop_limit);
	FUZZ_ASSERT(a->n_svc == b->n_svc);
	for (i = 0; i < a->n_svc; i++)
		FUZZ_ASSERT(fuzz_same_spec(&a->svc[i].spec, &b->svc[i].spec));
}

static void round_trip(const struct conf *c)
{
	struct text t = { 0 };
	struct conf *c2;
	unsigned i;

	t.f = open_memstream(&t.buf, &t.len);
	FUZZ_ASSERT(t.f);
	fprintf(t.f, "[instance]\n");
	if (c->name[0])
		fprintf(t.f, "name=%s\n", c->name);
	if (c->cgroup)
		fprintf(t.f, "cgroup=%s\n", c->cgroup);
	fprintf(t.f, "system-wide=%s\nhop-limit=%u\n", c->system_wide ? "yes" : "no",
		c->hop_limit);
	for (i = 0; i < c->n_svc; i++) {
		fprintf(t.f, "[service %s]\n", c->svc[i].spec.svc.name);
		fuzz_emit_spec(&c->svc[i].spec, emit_line, &t);
	}
	FUZZ_ASSERT(!fclose(t.f));
	put_file(t.buf, t.len);

	c2 = malloc(sizeof(*c2));
	FUZZ_ASSERT(c2);
	FUZZ_ASSERT(conf_load(path, c2) == 0);
	if (c2->n_msgs) {
		fprintf(stderr, "written back:\n%s\nrefused:\n", t.buf);
		for (i = 0; i < c2->n_msgs; i++)
			fprintf(stderr, "  %u: %s\n", c2->msgs[i].line, c2->msgs[i].text);
	}
	same_conf(c, c2);
	conf_free(c2);
	free(c2);
	free(t.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c;
	unsigned n;

	if (memfd < 0) {
		memfd = memfd_create("fuzz_config", MFD_CLOEXEC);
		FUZZ_ASSERT(memfd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
		report_path = path;
	}
	put_file(data, size);
	c = malloc(sizeof(*c));
	FUZZ_ASSERT(c);
	FUZZ_ASSERT(conf_load(path, c) == 0);
	check_conf(c, count_lines(data, size));
	check_lines(c, data, size);

	if (!c->n_msgs && !c->empty)
		round_trip(c);
	if (size & 1) {
		reported = last_line = 0;
		n = c->n_msgs;
		/* Every problem is counted; at most CONF_MAX_REPORT are
		 * written, then one line says how many more. */
		FUZZ_ASSERT(conf_report(c) == n &&
			    reported == (n <= CONF_MAX_REPORT ? n : CONF_MAX_REPORT + 1));
		FUZZ_ASSERT(c->n_msgs == 0 && !c->msgs);
	}
	conf_free(c);
	free(c);
	return 0;
}
