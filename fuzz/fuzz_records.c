// SPDX-License-Identifier: MIT
/*
 * fuzz_records.c - connredir_records_decode() on arbitrary bytes: it must
 * never read out of bounds, and whatever it accepts must be self-consistent.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <connredir/connredir.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct connredir_records_info ri;
	uint8_t *copy = malloc(size ? size : 1);   /* exact size: overreads are caught */
	unsigned i;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (connredir_records_decode(copy, size, &ri) == 0) {
		assert(ri.nhops >= 1 && ri.nhops <= CONNREDIR_MAX_HOPS);
		for (i = 0; i < ri.nhops; i++)
			assert(ri.services[i] != 0);
		assert(size <= CONNREDIR_RECORDS_MAX);
	}
	free(copy);
	return 0;
}
