// SPDX-License-Identifier: MIT
/*
 * config.c - reading connredir.conf(5) with libinih.
 *
 * inih does the INI syntax (comments, "key = value", inline " ;" comments);
 * this file feeds it the lines through its reader callback, which counts
 * them (Debian's inih is built without line numbers for handlers) and
 * follows the section headers itself, so an empty [service NAME] section, a
 * duplicate one or an unknown one is seen too. Leading blanks are removed
 * before inih sees a line: an indented line is an ordinary line, never the
 * continuation of the previous value.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "config.h"
#include "parse.h"

enum conf_sec {
	SEC_NONE,       /* before the first section */
	SEC_INSTANCE,   /* [instance] */
	SEC_SERVICE,    /* [service NAME]: cur */
	SEC_BAD,        /* a section already reported as wrong: its keys are
			 * not looked at */
};

struct conf_parse {
	struct conf *c;
	FILE *f;
	char *buf;              /* getline()'s */
	size_t cap;
	unsigned line;          /* of the line inih is working on */
	enum conf_sec sec;
	struct conf_service *cur;
};

void conf_err(struct conf *c, unsigned line, const char *fmt, ...)
{
	struct conf_msg *m;
	char *text = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	m = n < 0 ? NULL : realloc(c->msgs, (c->n_msgs + 1) * sizeof(*m));
	if (!m) {
		/* A problem must never go unseen, and a command that cannot
		 * even say what is wrong has nothing better to do. */
		crd_err("%s:%u: out of memory", c->path, line);
		exit(1);
	}
	c->msgs = m;
	c->msgs[c->n_msgs].line = line;
	c->msgs[c->n_msgs].text = text;
	c->n_msgs++;
}

static bool has_msg(const struct conf *c, unsigned line)
{
	unsigned i;

	for (i = 0; i < c->n_msgs; i++)
		if (c->msgs[i].line == line)
			return true;
	return false;
}

unsigned conf_report(struct conf *c)
{
	unsigned i, n = c->n_msgs;

	/* In line order; on one line, in the order they were found. */
	for (i = 1; i < n; i++) {
		struct conf_msg m = c->msgs[i];
		unsigned j = i;

		while (j > 0 && c->msgs[j - 1].line > m.line) {
			c->msgs[j] = c->msgs[j - 1];
			j--;
		}
		c->msgs[j] = m;
	}
	/* Bounded, whatever the file holds: the first CONF_MAX_REPORT
	 * problems, each escaped and cut to CONF_MAX_TEXT characters. */
	for (i = 0; i < n; i++) {
		char text[CONF_MAX_TEXT + 1];
		bool cut;

		if (i == CONF_MAX_REPORT)
			crd_err("%s: ... and %u more problem%s (fix these first)", c->path,
				n - i, n - i > 1 ? "s" : "");
		if (i < CONF_MAX_REPORT) {
			crd_esc_mem(text, sizeof(text), c->msgs[i].text, strlen(c->msgs[i].text),
				    false, &cut);
			if (c->msgs[i].line)
				crd_err("%s:%u: %s%s", c->path, c->msgs[i].line, text,
					cut ? "..." : "");
			else
				crd_err("%s: %s%s", c->path, text, cut ? "..." : "");
		}
		free(c->msgs[i].text);
	}
	free(c->msgs);
	c->msgs = NULL;
	c->n_msgs = 0;
	return n;
}

void conf_free(struct conf *c)
{
	unsigned i;

	for (i = 0; i < c->n_msgs; i++)
		free(c->msgs[i].text);
	free(c->msgs);
	c->msgs = NULL;
	c->n_msgs = 0;
	for (i = 0; i < c->n_svc; i++) {
		free(c->svc[i].cg[0]);
		free(c->svc[i].cg[1]);
	}
	c->n_svc = 0;
	free(c->cgroup);
	c->cgroup = NULL;
}

/* ---- sections ------------------------------------------------------------ */

/* Split @s into at most 3 blank-separated words (modifies @s). */
static int words(char *s, char *w[3])
{
	int n = 0;

	while (*s) {
		while (*s == ' ' || *s == '\t')
			*s++ = '\0';
		if (!*s)
			break;
		if (n == 3)
			return 4;
		w[n++] = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
	}
	return n;
}

/* A "[...]" line (@s starts with '['): which section begins. */
static void section(struct conf_parse *p, const char *s)
{
	struct conf *c = p->c;
	char head[256], full[256], *w[3], *end;
	const char *why, *rest;
	unsigned i;
	int n;

	p->sec = SEC_BAD;
	p->cur = NULL;
	end = strchr(s, ']');
	if (!end) {
		conf_err(c, p->line, "section header without ']'");
		return;
	}
	for (rest = end + 1; *rest == ' ' || *rest == '\t'; rest++)
		;
	if (*rest && *rest != '\n' && *rest != '\r' && *rest != ';' && *rest != '#') {
		conf_err(c, p->line, "unexpected text after ']'");
		return;
	}
	snprintf(head, sizeof(head), "%.*s", (int)(end - s - 1), s + 1);
	snprintf(full, sizeof(full), "%s", head);
	n = words(head, w);
	if (n >= 1 && !strcmp(w[0], "instance")) {
		if (n != 1) {
			conf_err(c, p->line, "[instance] takes no name (set 'name = %s' in it)",
				 w[1]);
		} else if (c->inst_line) {
			conf_err(c, p->line, "duplicate section [instance] (first on line %u)",
				 c->inst_line);
		} else {
			c->inst_line = p->line;
			p->sec = SEC_INSTANCE;
		}
		return;
	}
	if (n >= 1 && !strcmp(w[0], "service")) {
		if (n == 1) {
			conf_err(c, p->line, "[service] needs a name: [service NAME]");
			return;
		}
		if (n > 2) {
			conf_err(c, p->line, "[service %s %s%s]: a service name has no "
				 "blanks", w[1], w[2], n > 3 ? " ..." : "");
			return;
		}
		for (i = 0; i < c->n_svc; i++) {
			if (!strcmp(c->svc[i].spec.svc.name, w[1])) {
				conf_err(c, p->line, "duplicate section [service %s] "
					 "(first on line %u)", w[1], c->svc[i].line);
				return;
			}
		}
		if (c->n_svc == CRD_MAX_SERVICES) {
			conf_err(c, p->line, "service '%s': too many services (at most %d)",
				 w[1], CRD_MAX_SERVICES);
			return;
		}
		p->cur = &c->svc[c->n_svc];
		if (service_spec_init(&p->cur->spec, w[1], &why)) {
			conf_err(c, p->line, "service '%s': %s", w[1], why);
			p->cur = NULL;
			return;
		}
		p->cur->line = p->line;
		c->n_svc++;
		p->sec = SEC_SERVICE;
		return;
	}
	conf_err(c, p->line, "unknown section '[%s]' (expected [instance] or "
		 "[service NAME])", full);
}

/* ---- inih's reader: one line at a time ------------------------------------ */

static char *conf_reader(char *str, int num, void *stream)
{
	struct conf_parse *p = stream;
	ssize_t n = getline(&p->buf, &p->cap, p->f);
	char *s;

	if (n < 0)
		return NULL;
	p->line++;
	s = p->buf;
	if (p->line == 1 && !strncmp(s, "\xef\xbb\xbf", 3))
		s += 3;   /* a UTF-8 byte order mark */
	/* Every blank inih skips (a '\r', '\v' or '\f' too), or it reads
	 * the line as the continuation of the previous value. */
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')
		s++;
	if (memchr(s, '\0', n - (s - p->buf))) {
		/* Text files hold no NUL; the rest of such a line would be
		 * silently cut off. */
		conf_err(p->c, p->line, "line holds a NUL byte (not a text file?)");
		p->c->empty = false;
		snprintf(str, num, ";\n");
		return str;
	}
	if (*s && *s != '\n' && *s != ';' && *s != '#')
		p->c->empty = false;
	if (strlen(s) >= (size_t)num) {
		conf_err(p->c, p->line, "line longer than %d characters", num - 2);
		if (*s == '[') {
			/* Its keys belong to no section we know. */
			p->sec = SEC_BAD;
			p->cur = NULL;
		}
		snprintf(str, num, ";\n");
		return str;
	}
	if (*s == '[')
		section(p, s);
	memcpy(str, s, strlen(s) + 1);
	return str;
}

/* ---- keys ---------------------------------------------------------------- */

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return true;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return true;
		}
	}
	return false;
}

static void instance_key(struct conf_parse *p, const char *key, const char *val)
{
	struct conf *c = p->c;
	unsigned *line;
	const char *why = NULL;
	uint64_t v;

	if (!strcmp(key, "name"))
		line = &c->name_line;
	else if (!strcmp(key, "cgroup"))
		line = &c->cgroup_line;
	else if (!strcmp(key, "system-wide"))
		line = &c->sw_line;
	else if (!strcmp(key, "hop-limit"))
		line = &c->hop_line;
	else {
		conf_err(c, p->line, "[instance]: unknown key '%s' (expected name, "
			 "cgroup, system-wide or hop-limit)", key);
		return;
	}
	if (*line) {
		conf_err(c, p->line, "[instance]: '%s' is given twice (first on line %u)",
			 key, *line);
		return;
	}
	*line = p->line;
	if (line == &c->name_line) {
		if (crd_parse_name(val, &why))
			conf_err(c, p->line, "[instance]: name '%s': %s", val, why);
		else
			snprintf(c->name, sizeof(c->name), "%s", val);
	} else if (line == &c->cgroup_line) {
		if (!*val)
			conf_err(c, p->line, "[instance]: cgroup '': empty cgroup path");
		else if (!(c->cgroup = strdup(val)))
			conf_err(c, p->line, "[instance]: cgroup: out of memory");
	} else if (line == &c->sw_line) {
		if (!parse_bool(val, &c->system_wide))
			conf_err(c, p->line, "[instance]: system-wide '%s': expected yes or no",
				 val);
	} else {
		if (crd_parse_u64(val, CRD_MAX_HOPS, &v, &why) || !v)
			conf_err(c, p->line, "[instance]: hop-limit '%s': %s", val,
				 why ? why : "must be at least 1");
		else
			c->hop_limit = v;
	}
}

static void service_key(struct conf_parse *p, const char *key, const char *val)
{
	struct conf_service *cs = p->cur;
	struct conf *c = p->c;
	const char *name = cs->spec.svc.name, *why;
	char item[256], *copy;
	int opt = service_opt_index(key);

	if (opt < 0) {
		conf_err(c, p->line, "service '%s': unknown key '%s'", name, key);
		return;
	}
	if (cs->opt_line[opt] && !service_opt_repeatable(opt)) {
		conf_err(c, p->line, "service '%s': '%s' is given twice (first on line %u)",
			 name, key, cs->opt_line[opt]);
		return;
	}
	cs->opt_line[opt] = p->line;
	if (opt == SVC_OPT_APP_CG || opt == SVC_OPT_OWNER_CG) {
		if (!*val) {
			conf_err(c, p->line, "service '%s': %s '': empty cgroup path", name, key);
			return;
		}
		copy = strdup(val);
		if (!copy) {
			conf_err(c, p->line, "service '%s': %s: out of memory", name, key);
			return;
		}
		cs->cg[opt == SVC_OPT_OWNER_CG] = copy;
		service_spec_opt(&cs->spec, opt, copy, &why);
		return;
	}
	if (service_spec_opt_list(&cs->spec, opt, val, item, sizeof(item), &why))
		conf_err(c, p->line, "service '%s': %s '%s': %s", name, key, item, why);
}

static int conf_handler(void *user, const char *sec, const char *key, const char *val)
{
	struct conf_parse *p = user;

	switch (p->sec) {
	case SEC_NONE:
		conf_err(p->c, p->line, "'%s' is outside any section ([instance] or "
			 "[service NAME] first)", key);
		break;
	case SEC_INSTANCE:
		instance_key(p, key, val);
		break;
	case SEC_SERVICE:
		service_key(p, key, val);
		break;
	case SEC_BAD:
		break;
	}
	return 1;   /* our problems are recorded; inih's return is syntax only */
}

/* ---- the file ------------------------------------------------------------- */

int conf_load(const char *path, struct conf *c)
{
	struct conf_parse p = { .c = c };
	const char *why;
	unsigned i;
	int r, err;

	memset(c, 0, sizeof(*c));
	c->path = path;
	c->hop_limit = CRD_DEFAULT_HOP_LIMIT;
	c->empty = true;
	p.f = fopen(path, "re");
	if (!p.f)
		return -errno;
	r = ini_parse_stream(conf_reader, &p, conf_handler, &p);
	err = ferror(p.f) ? -EIO : 0;
	fclose(p.f);
	free(p.buf);
	if (err)
		return err;
	if (r < 0)
		return -ENOMEM;
	/* inih reports its first syntax error; ours may already be there. */
	if (r > 0 && !has_msg(c, r))
		conf_err(c, r, "syntax error (expected 'KEY = VALUE', [instance] or "
			 "[service NAME])");

	if (c->empty && !c->n_msgs)
		return 0;
	if (!c->inst_line)
		conf_err(c, 0, "no [instance] section (it names the cgroup to attach to)");
	else if (!c->cgroup_line && !c->system_wide)
		conf_err(c, c->inst_line, "[instance]: 'cgroup = PATH' is required "
			 "(or 'system-wide = yes' for the whole machine)");
	for (i = 0; i < c->n_svc; i++)
		if (service_spec_check(&c->svc[i].spec, false, &why))
			conf_err(c, c->svc[i].line, "service '%s': %s",
				 c->svc[i].spec.svc.name, why);
	return 0;
}
