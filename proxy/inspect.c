// SPDX-License-Identifier: MIT
/*
 * inspect.c - the configured inspectors, and each flow's verdicts and
 * inspector states.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"

#define INSPECT_MAX 16
#define STATE_ALIGN 16

static const struct inspector *const builtins[] = {
	&inspect_log, &inspect_http, &inspect_tls, &inspect_block, &inspect_dns,
};

struct instance {
	const struct inspector *ins;
	void *conf;
	size_t off;                /* of its state in struct flow_priv */
};

static struct instance insts[INSPECT_MAX];
static unsigned n_insts;
static size_t states_size;

struct flow_priv {
	enum inspect_verdict v[INSPECT_MAX];
	unsigned char states[] __attribute__((aligned(STATE_ALIGN)));
};

static char bad_entry[256];

static const struct inspector *find_builtin(const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (builtins[i] && strlen(builtins[i]->name) == n && !memcmp(builtins[i]->name, name, n))
			return builtins[i];
	return NULL;
}

static struct instance *find_instance(const struct inspector *ins)
{
	unsigned i;

	for (i = 0; i < n_insts; i++)
		if (insts[i].ins == ins)
			return &insts[i];
	return NULL;
}

/* One entry, NAME or NAME=ARG, in @e (NUL-terminated, modifiable). */
static int add_entry(char *e, const char **why)
{
	const struct inspector *ins;
	struct instance *in;
	char *arg = strchr(e, '=');
	size_t n = arg ? (size_t)(arg - e) : strlen(e);
	int err;

	if (arg)
		*arg++ = 0;
	if (n == 0) {
		*why = "empty inspector name";
		return -EINVAL;
	}
	ins = find_builtin(e, n);
	if (!ins) {
		*why = "unknown inspector (log, http, tls, block=RULE)";
		return -EINVAL;
	}
	if (arg && !ins->takes_arg) {
		*why = "this inspector takes no argument";
		return -EINVAL;
	}
	in = find_instance(ins);
	if (in && !ins->repeatable) {
		*why = "inspector given twice";
		return -EINVAL;
	}
	if (!in) {
		if (n_insts == INSPECT_MAX) {
			*why = "too many inspectors";
			return -EINVAL;
		}
		in = &insts[n_insts];
	}
	err = ins->init ? ins->init(arg, &in->conf, why) : 0;
	if (err)
		return err;
	if (in == &insts[n_insts]) {
		in->ins = ins;
		in->off = states_size;
		states_size += (ins->state_size + STATE_ALIGN - 1) & ~(size_t)(STATE_ALIGN - 1);
		n_insts++;
	}
	return 0;
}

int inspect_add_list(const char *list, const char **bad, const char **why)
{
	const char *p = list, *comma;

	do {
		size_t n;

		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (n >= sizeof(bad_entry)) {
			snprintf(bad_entry, sizeof(bad_entry), "%.*s", (int)n, p);
			*bad = bad_entry;
			*why = "entry too long";
			return -EINVAL;
		}
		memcpy(bad_entry, p, n);
		bad_entry[n] = 0;
		{
			char e[sizeof(bad_entry)];

			memcpy(e, bad_entry, n + 1);
			if (add_entry(e, why)) {
				*bad = bad_entry;
				return -EINVAL;
			}
		}
		p = comma + 1;
	} while (comma);
	return 0;
}

bool inspect_has(const char *name)
{
	unsigned i;

	for (i = 0; i < n_insts; i++)
		if (!strcmp(insts[i].ins->name, name))
			return true;
	return false;
}

void inspect_fini(void)
{
	unsigned i;

	for (i = 0; i < n_insts; i++)
		if (insts[i].ins->fini)
			insts[i].ins->fini(insts[i].conf);
	memset(insts, 0, sizeof(insts));
	n_insts = 0;
	states_size = 0;
}

static void *state_of(const struct inspect_flow *f, unsigned i)
{
	struct flow_priv *p = f->priv;

	return p && insts[i].ins->state_size ? p->states + insts[i].off : NULL;
}

/* The flow's verdict from its inspectors': the first BLOCK, else all ALLOW. */
static enum inspect_verdict tally(struct inspect_flow *f, const char *reasons[])
{
	struct flow_priv *p = f->priv;
	enum inspect_verdict v = INSPECT_ALLOW;
	unsigned i;

	for (i = 0; i < n_insts; i++) {
		if (p->v[i] == INSPECT_BLOCK) {
			f->verdict = INSPECT_BLOCK;
			f->verdict_by = insts[i].ins->name;
			f->reason = reasons[i] ? reasons[i] : "blocked";
			return INSPECT_BLOCK;
		}
		if (p->v[i] == INSPECT_NEED_MORE)
			v = INSPECT_NEED_MORE;
	}
	f->verdict = v;
	return v;
}

int inspect_flow_start(struct inspect_flow *f)
{
	const char *reasons[INSPECT_MAX] = { 0 };
	struct flow_priv *p;
	unsigned i;

	p = calloc(1, sizeof(*p) + states_size);
	if (!p)
		return -ENOMEM;
	f->priv = p;
	for (i = 0; i < n_insts; i++) {
		const struct inspector *ins = insts[i].ins;

		if (ins->on_start)
			p->v[i] = ins->on_start(insts[i].conf, state_of(f, i), f, &reasons[i]);
		else
			p->v[i] = ins->on_data ? INSPECT_NEED_MORE : INSPECT_ALLOW;
	}
	return tally(f, reasons);
}

enum inspect_verdict inspect_flow_data(struct inspect_flow *f, int dir,
				       const uint8_t *data, size_t len, bool last)
{
	const char *reasons[INSPECT_MAX] = { 0 };
	struct flow_priv *p = f->priv;
	unsigned i;

	if (!p || f->verdict != INSPECT_NEED_MORE)
		return f->verdict;
	for (i = 0; i < n_insts; i++) {
		const struct inspector *ins = insts[i].ins;

		if (p->v[i] != INSPECT_NEED_MORE)
			continue;
		if (ins->on_data)
			p->v[i] = ins->on_data(insts[i].conf, state_of(f, i), f, dir,
					       data, len, last, &reasons[i]);
		if (p->v[i] == INSPECT_NEED_MORE && (last || !ins->on_data) &&
		    dir == INSPECT_UP)
			p->v[i] = INSPECT_ALLOW;
	}
	return tally(f, reasons);
}

void inspect_flow_log_fields(const struct inspect_flow *f, struct json *j)
{
	unsigned i;

	if (!f->priv)
		return;
	for (i = 0; i < n_insts; i++)
		if (insts[i].ins->log_fields)
			insts[i].ins->log_fields(insts[i].conf, state_of(f, i), j);
}

void inspect_flow_end(struct inspect_flow *f)
{
	unsigned i;

	for (i = 0; i < n_insts; i++) {
		const struct inspector *ins = insts[i].ins;

		if (!ins->on_end || (ins->state_size && !f->priv))
			continue;
		ins->on_end(insts[i].conf, state_of(f, i), f);
	}
	free(f->priv);
	f->priv = NULL;
}
