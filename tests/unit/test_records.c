// SPDX-License-Identifier: MIT
/*
 * test_records.c - connredir_records_decode() on good and malformed blobs,
 * and connredir_state_name().
 */
#include <errno.h>
#include <string.h>

#include <connredir/connredir.h>
#include "crd_maps.h"
#include "unit.h"

static struct crd_blob good(void)
{
	struct crd_blob b;

	memset(&b, 0, sizeof(b));
	b.magic = CRD_BLOB_MAGIC;
	b.version = CRD_BLOB_VERSION;
	b.size = sizeof(b);
	b.token = 0x1234;
	b.flow_id = 0xfeedfacecafebeefULL;
	b.nhops = 3;
	b.hops[0] = 7;
	b.hops[1] = 2;
	b.hops[2] = 9;
	return b;
}

int main(void)
{
	struct connredir_records_info ri;
	struct crd_blob b = good();
	unsigned char big[CONNREDIR_RECORDS_MAX + 8];

	UNIT_TEST("records");
	CHECK_EQ_INT(connredir_records_decode(&b, sizeof(b), &ri), 0, "a well-formed blob decodes");
	CHECK_EQ_INT(ri.nhops, 3, "hop count");
	CHECK(ri.services[0] == 7 && ri.services[1] == 2 && ri.services[2] == 9,
	      "services in order, oldest first");
	CHECK(ri.flow_id == 0xfeedfacecafebeefULL, "flow id");
	CHECK_EQ_INT(ri.version, CRD_BLOB_VERSION, "version");
	CHECK(sizeof(b) <= 1024, "a blob fits the 1 KiB buffers proxies use");

	CHECK_EQ_INT(connredir_records_decode(&b, sizeof(b) - 1, &ri), -EINVAL, "truncated by one byte");
	CHECK_EQ_INT(connredir_records_decode(&b, 0, &ri), -EINVAL, "empty");
	memset(big, 0, sizeof(big));
	memcpy(big, &b, sizeof(b));
	CHECK_EQ_INT(connredir_records_decode(big, sizeof(b) + 1, &ri), -EINVAL, "trailing byte");
	CHECK_EQ_INT(connredir_records_decode(NULL, sizeof(b), &ri), -EINVAL, "NULL blob");
	CHECK_EQ_INT(connredir_records_decode(&b, sizeof(b), NULL), -EINVAL, "NULL info");

	b = good(); b.magic ^= 1;
	CHECK_EQ_INT(connredir_records_decode(&b, sizeof(b), &ri), -EINVAL, "wrong magic");
	b = good(); b.version = 2;
	CHECK_EQ_INT(connredir_records_decode(&b, sizeof(b), &ri), -EINVAL, "unknown version");
	b = good(); b.size = sizeof(b) + 4;
	CHECK_EQ_INT(connredir_records_decode(&b, sizeof(b), &ri), -EINVAL, "size field disagrees");
	b = good(); b.nhops = 0;
	CHECK_EQ_INT(connredir_records_decode(&b, sizeof(b), &ri), -EINVAL, "no hops");
	b = good(); b.nhops = CONNREDIR_MAX_HOPS + 1;
	CHECK_EQ_INT(connredir_records_decode(&b, sizeof(b), &ri), -EINVAL, "too many hops");
	b = good(); b.hops[1] = 0;
	CHECK_EQ_INT(connredir_records_decode(&b, sizeof(b), &ri), -EINVAL, "service id 0 in the chain");
	b = good(); b.nhops = CONNREDIR_MAX_HOPS;
	for (int i = 0; i < CONNREDIR_MAX_HOPS; i++)
		b.hops[i] = i + 1;
	CHECK_EQ_INT(connredir_records_decode(&b, sizeof(b), &ri), 0, "the longest chain decodes");
	CHECK_EQ_INT(ri.services[CONNREDIR_MAX_HOPS - 1], CONNREDIR_MAX_HOPS, "its last service");

	UNIT_TEST("state names");
	CHECK_EQ_STR(connredir_state_name(CONNREDIR_NOT_REDIRECTED), "NOT_REDIRECTED", "0");
	CHECK_EQ_STR(connredir_state_name(CONNREDIR_REDIRECTED_BY_SELF), "REDIRECTED_BY_SELF", "1");
	CHECK_EQ_STR(connredir_state_name(CONNREDIR_REDIRECTED_BY_OTHER), "REDIRECTED_BY_OTHER", "2");
	CHECK_EQ_STR(connredir_state_name(CONNREDIR_PREVIOUSLY_REDIRECTED_BY_SELF),
		     "PREVIOUSLY_REDIRECTED_BY_SELF", "3");
	CHECK_EQ_STR(connredir_state_name(4), "UNKNOWN", "out of range");
	CHECK_EQ_INT(CONNREDIR_NOT_REDIRECTED, 0, "WFP enum order: NOT_REDIRECTED = 0");
	CHECK_EQ_INT(CONNREDIR_PREVIOUSLY_REDIRECTED_BY_SELF, 3, "PREVIOUSLY_REDIRECTED_BY_SELF = 3");
	return unit_done();
}
