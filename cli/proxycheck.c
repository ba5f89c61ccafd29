// SPDX-License-Identifier: MIT
/*
 * proxycheck.c - is a service's proxy up, as the kernel's connect hooks see
 * it? The socket that would receive the service's flows (the listener on
 * its proxy address, or a wildcard one) is found in /proc/net, its process
 * in /proc/PID/fd, and its crd_lsn_v3 entry read through a copy of the
 * socket (pidfd_getfd). The rule is crd_lsn_ok() in bpf/connredir.bpf.c.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>

#include "cli.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* The inode of the socket bound to @addr (16 bytes, v4-mapped for IPv4)
 * :@port in /proc/net/@file, state @st (0A LISTEN, 07 unconnected UDP); a
 * wildcard-bound one if no exact one. 0 if none. */
static unsigned long find_inode(const char *file, const uint8_t addr[16], uint16_t port,
				const char *st, bool v4)
{
	char path[64], line[512];
	unsigned long wild = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/net/%s", file);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char la[40], state[4];
		unsigned lport;
		unsigned long ino;
		uint8_t a[16] = { 0 };
		bool any = true;
		int i;

		if (sscanf(line, " %*u: %39[0-9A-Fa-f]:%x %*s %3s %*s %*s %*s %*u %*u %lu",
			   la, &lport, state, &ino) != 4 || lport != port || strcmp(state, st))
			continue;
		if (v4) {
			uint32_t w = (uint32_t)strtoul(la, NULL, 16);   /* host order */

			memcpy(a + 12, &w, 4);
			a[10] = a[11] = 0xff;
			any = !w;
		} else {
			for (i = 0; i < 4; i++) {
				char wbuf[9];
				uint32_t w;

				memcpy(wbuf, la + i * 8, 8);
				wbuf[8] = 0;
				w = (uint32_t)strtoul(wbuf, NULL, 16);
				memcpy(a + 4 * i, &w, 4);
				any = any && !w;
			}
		}
		if (!memcmp(a, addr, 16)) {
			fclose(f);
			return ino;
		}
		if (any && !wild)
			wild = ino;
	}
	fclose(f);
	return wild;
}

/* The process (and its descriptor) holding socket @ino; 0 if none. */
static pid_t find_owner(unsigned long ino, int *fdp)
{
	char want[40], path[600], link[64];
	struct dirent *p, *d;
	DIR *proc, *fds;
	pid_t found = 0;

	snprintf(want, sizeof(want), "socket:[%lu]", ino);
	proc = opendir("/proc");
	if (!proc)
		return 0;
	while (!found && (p = readdir(proc))) {
		if (!isdigit((unsigned char)p->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((d = readdir(fds))) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name, d->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = 0;
			if (!strcmp(link, want)) {
				found = atoi(p->d_name);
				*fdp = atoi(d->d_name);
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

/* The crd_lsn_v3 entry of descriptor @fd of process @pid: 0, or -errno. */
static int read_lsn(const struct crd_inst *in, pid_t pid, int fd, struct crd_lsn *l)
{
	int pfd, sfd, err = 0;

	pfd = syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0)
		return -errno;
	sfd = syscall(SYS_pidfd_getfd, pfd, fd, 0);
	if (sfd < 0)
		err = -errno;
	else if (bpf_map_lookup_elem(in->lsn_fd, &sfd, l))
		err = -errno;
	if (sfd >= 0)
		close(sfd);
	close(pfd);
	return err;
}

void crd_proxy_check(const struct crd_inst *in, const struct crd_service svcs[CRD_MAX_SERVICES],
		     const struct crd_service *s, struct crd_proxy_state *ps)
{
	bool v4 = s->flags & CRD_SVC_PROXY4, udp = !(s->proto_mask & CRD_PROTO_TCP);
	uint8_t addr[16] = { 0 };
	struct crd_lsn l;
	uint16_t port;
	unsigned long ino;
	int fd = -1, err, k;
	bool ok = true, known = false;

	memset(ps, 0, sizeof(*ps));
	if (v4) {
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &s->proxy4, 4);
		port = ntohs(s->proxy4_port_be);
	} else {
		memcpy(addr, s->proxy6, 16);
		port = ntohs(s->proxy6_port_be);
	}
	ino = find_inode(udp ? (v4 ? "udp" : "udp6") : (v4 ? "tcp" : "tcp6"), addr, port,
			 udp ? "07" : "0A", v4);
	if (!ino) {
		ps->why = udp ? "no socket is bound to its proxy address" :
			"nothing listens on its proxy address";
		return;
	}
	ps->pid = find_owner(ino, &fd);
	if (!ps->pid) {
		ps->why = "its proxy address is held by a socket of no process seen here";
		return;
	}
	err = read_lsn(in, ps->pid, fd, &l);
	if (err == -ENOENT) {
		ps->why = "the listener was bound before this instance was attached and never "
			  "claimed: restart the proxy (connredir-proxy claims again by itself)";
		return;
	}
	if (err) {
		ps->why = "its listener could not be inspected";
		return;
	}
	if (l.claim_id == s->id) {
		ps->up = true;
		return;
	}
	for (k = 0; l.claim_id && k < CRD_MAX_SERVICES; k++) {
		if (svcs[k].id == l.claim_id) {
			ps->why = "the listener is claimed for another service";
			return;
		}
	}
	if (s->flags & CRD_SVC_OWNER_UID) {
		ok = ok && l.uid == s->owner_uid;
		known = true;
	}
	if (s->flags & CRD_SVC_OWNER_CG) {
		ok = ok && s->owner_cg_level < CRD_CG_LEVELS &&
		     l.cg_anc[s->owner_cg_level] == s->owner_cgid;
		known = true;
	}
	ps->up = ok && known;
	if (!ps->up)
		ps->why = "the listener was bound by a process outside the service's proxy "
			  "identity (a squatter?)";
}
