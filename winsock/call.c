// SPDX-License-Identifier: MIT
/*
 * call.c - what every Winsock call does around its work: caller memory is
 * read and written through the kernel (a bad pointer is WSAEFAULT, not a
 * crash), the socket is checked, the byte count and the overlapped
 * structure are checked first
 * and completed last (its event signalled or its routine called), and the
 * last error is set. Overlapped I/O itself is not emulated.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define CONNREDIR_WINSOCK_NO_REDIRECT /* libc's select/setsockopt/getsockopt here */
#include "winsock_int.h"

/* ---- Checked copies of caller memory ---------------------------------------- */

static int ws_no_vm_copy;   /* the kernel refused process_vm_*: plain copies */

void crd_ws_copy_reset(void)
{
	__atomic_store_n(&ws_no_vm_copy, 0, __ATOMIC_RELAXED);
}

/*
 * Copy @n bytes between our own buffer and memory the caller gave us
 * (@to_caller: from @src to the caller's @dst; else from the caller's @src),
 * through the kernel: an address the process cannot read (or write) gives
 * WSAEFAULT, not a crash. Where process_vm_readv/writev are refused (a
 * seccomp filter, a kernel without CONFIG_CROSS_MEMORY_ATTACH) this falls
 * back to memcpy and detects nothing.
 */
int crd_ws_copy(void *dst, const void *src, size_t n, int to_caller)
{
	struct iovec ours, theirs;
	ssize_t r;

	if (n == 0)
		return 0;
	if (!__atomic_load_n(&ws_no_vm_copy, __ATOMIC_RELAXED)) {
		if (to_caller) {
			ours = (struct iovec){ .iov_base = (void *)src, .iov_len = n };
			theirs = (struct iovec){ .iov_base = dst, .iov_len = n };
			r = process_vm_writev(getpid(), &ours, 1, &theirs, 1, 0);
		} else {
			ours = (struct iovec){ .iov_base = dst, .iov_len = n };
			theirs = (struct iovec){ .iov_base = (void *)src, .iov_len = n };
			r = process_vm_readv(getpid(), &ours, 1, &theirs, 1, 0);
		}
		if (r == (ssize_t)n)
			return 0;
		if (r >= 0 || errno == EFAULT)
			return WSAEFAULT;
		if (errno != ENOSYS && errno != EPERM && errno != EACCES)
			return crd_ws_from_errno(errno);
		__atomic_store_n(&ws_no_vm_copy, 1, __ATOMIC_RELAXED);
	}
	if (!dst || !src)
		return WSAEFAULT;
	memcpy(dst, src, n);
	return 0;
}

int crd_ws_put_dword(LPDWORD p, DWORD v)
{
	return crd_ws_copy(p, &v, sizeof(v), 1);
}

/* ---- Checking the socket ------------------------------------------------------ */

/* 0 if @s is a socket (its inode number in *@ino if not NULL), else WSAENOTSOCK. */
int crd_ws_socket_ino(SOCKET s, uint64_t *ino)
{
	struct stat st;

	if (s < 0 || fstat(s, &st) || !S_ISSOCK(st.st_mode))
		return WSAENOTSOCK;
	if (ino)
		*ino = (uint64_t)st.st_ino;
	return 0;
}

int crd_ws_socket(SOCKET s)
{
	return crd_ws_socket_ino(s, NULL);
}

int crd_ws_sockopt_int(SOCKET s, int opt, int *v)
{
	socklen_t len = sizeof(*v);

	*v = 0;
	return getsockopt(s, SOL_SOCKET, opt, v, &len) ? crd_ws_from_errno(errno) : 0;
}

/* ---- Completing a call ------------------------------------------------------- */

/*
 * Start a call: check the count and the overlapped structure before doing
 * anything (so a bad one fails the call before it has effects), and mark
 * the overlapped structure pending as Windows does.
 */
void crd_ws_call_begin(struct crd_ws_call *c, LPDWORD bytes, LPWSAOVERLAPPED ov,
		     LPWSAOVERLAPPED_COMPLETION_ROUTINE fn)
{
	*c = (struct crd_ws_call){ .saved_errno = errno, .fn = fn };
	if (ov) {
		WSAOVERLAPPED o;
		ULONG_PTR st[2] = { WSA_IO_PENDING, 0 };

		_Static_assert(offsetof(WSAOVERLAPPED, InternalHigh) == sizeof(ULONG_PTR),
			       "Internal, InternalHigh adjacent");
		if (crd_ws_copy(&o, ov, sizeof(o), 0) || crd_ws_copy(ov, st, sizeof(st), 1)) {
			c->fault = WSAEFAULT;
		} else {
			c->ov = ov;
			c->event = o.hEvent;
		}
	}
	if (bytes) {
		if (crd_ws_put_dword(bytes, 0))
			c->fault = WSAEFAULT;
		else
			c->bytes = bytes;
	} else if (!ov) {
		c->fault = WSAEFAULT;
	}
}

/*
 * Finish a call that completed with @err (0 or a Winsock error) and @n
 * bytes: report the count, complete the overlapped structure (event or
 * routine), set the last error. Returns 0 or SOCKET_ERROR.
 */
int crd_ws_call_end(struct crd_ws_call *c, int err, DWORD n)
{
	if (c->bytes)
		crd_ws_put_dword(c->bytes, n);
	if (c->ov) {
		ULONG_PTR st[2] = { (ULONG_PTR)(DWORD)err, n };

		crd_ws_copy(c->ov, st, sizeof(st), 1);
		if (!c->fn) {
			if (c->event)
				crd_ws_event_signal(c->event);
		} else if (!err) {
			c->fn(0, n, c->ov, 0);
		}
	}
	if (err) {
		crd_ws_set_last(err);
		return SOCKET_ERROR;
	}
	errno = c->saved_errno;
	return 0;
}

/*
 * Overlapped I/O is not emulated: a data call given a WSAOVERLAPPED or a
 * completion routine fails at once, touching neither (no I/O, no event, no
 * routine), so it can never block a thread that expects to go on.
 */
int crd_ws_no_overlapped(void)
{
	crd_ws_set_last(WSAEOPNOTSUPP);
	return SOCKET_ERROR;
}
