/* SPDX-License-Identifier: MIT */
/* fuzz.h - what every fuzz target shares. */
#ifndef CONNREDIR_FUZZ_H
#define CONNREDIR_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

/* A property that must hold: abort (libFuzzer keeps the input) if not. */
#define FUZZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: assertion failed: %s\n",	\
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

#endif
