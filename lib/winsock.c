// SPDX-License-Identifier: MIT
/*
 * winsock.c - the Windows way to connredir (winsock.h): WSAIoctl with the
 * WFP redirect control codes mapped onto the native API, and the Winsock
 * pieces a proxy written for Windows needs around them: the last error,
 * events, overlapped completion, WSASendMsg and WSARecvMsg.
 *
 * Every call completes before it returns; nothing here keeps a thread. The
 * only state is the event table, each thread's last error and the flows
 * WSARecvMsg has reported per UDP socket (bounded, see below).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CONNREDIR_WINSOCK_INTERNAL   /* the helpers the tests call */
#define CONNREDIR_WINSOCK_NO_REDIRECT /* libc's select/setsockopt/getsockopt here */
#include <connredir/connredir.h>
#include <connredir/winsock.h>

#include "winsock_int.h"

#ifndef SO_RCVMARK
#define SO_RCVMARK 75
#endif

/*
 * WSACMSGHDR and the kernel's struct cmsghdr have the same layout and
 * alignment on Linux (size_t, int, int; padded to size_t), so a Winsock
 * control buffer is a Linux one: it is handed to the kernel as it is.
 */
_Static_assert(sizeof(WSACMSGHDR) == sizeof(struct cmsghdr), "cmsg header size");
_Static_assert(offsetof(WSACMSGHDR, cmsg_level) == offsetof(struct cmsghdr, cmsg_level), "level");
_Static_assert(offsetof(WSACMSGHDR, cmsg_type) == offsetof(struct cmsghdr, cmsg_type), "type");
_Static_assert(WSA_CMSG_LEN(1) == CMSG_LEN(1), "cmsg data offset");
_Static_assert(WSA_CMSG_SPACE(1) == CMSG_SPACE(1) && WSA_CMSG_SPACE(13) == CMSG_SPACE(13),
	       "cmsg padding");
_Static_assert(sizeof(DWORD) == 4 && sizeof(ULONG) == 4 && sizeof(GUID) == 16, "Windows sizes");

#define WS_IOV_MAX 1024          /* the kernel's UIO_MAXIOV */
#define WS_IOV_STACK 8
#define WS_CONTROL_MAX 65536     /* more control data than any sendmsg takes */
#define WS_EVENTS_MAX 0xffff     /* handle = generation << 16 | (slot + 1) */

/* ---- errno <-> Winsock error ------------------------------------------------- */


/* The Winsock error for errno @e (0 for 0). */
int crd_ws_from_errno(int e)
{
	switch (e) {
	case 0: return 0;
	case EINTR: return WSAEINTR;
	case EBADF: return WSAEBADF;
	case EPERM:
	case EACCES: return WSAEACCES;
	case EFAULT: return WSAEFAULT;
	case EINVAL: return WSAEINVAL;
	case EMFILE:
	case ENFILE: return WSAEMFILE;
	case EAGAIN: return WSAEWOULDBLOCK;
	/* A non-blocking connect: Windows says WSAEWOULDBLOCK, and its code checks for that. */
	case EINPROGRESS: return WSAEWOULDBLOCK;
	case EALREADY: return WSAEALREADY;
	case ENOTSOCK: return WSAENOTSOCK;
	case EDESTADDRREQ: return WSAEDESTADDRREQ;
	case EMSGSIZE: return WSAEMSGSIZE;
	case EPROTOTYPE: return WSAEPROTOTYPE;
	case ENOPROTOOPT: return WSAENOPROTOOPT;
	case EPROTONOSUPPORT: return WSAEPROTONOSUPPORT;
	case ESOCKTNOSUPPORT: return WSAESOCKTNOSUPPORT;
	case EOPNOTSUPP: return WSAEOPNOTSUPP;
	case EPFNOSUPPORT: return WSAEPFNOSUPPORT;
	case EAFNOSUPPORT: return WSAEAFNOSUPPORT;
	case EADDRINUSE: return WSAEADDRINUSE;
	case EADDRNOTAVAIL: return WSAEADDRNOTAVAIL;
	case ENETDOWN: return WSAENETDOWN;
	case ENETUNREACH: return WSAENETUNREACH;
	case ENETRESET: return WSAENETRESET;
	case ECONNABORTED: return WSAECONNABORTED;
	case ECONNRESET: return WSAECONNRESET;
	case ENOMEM:
	case ENOBUFS: return WSAENOBUFS;
	case EISCONN: return WSAEISCONN;
	case ENOTCONN: return WSAENOTCONN;
	case EPIPE:
	case ESHUTDOWN: return WSAESHUTDOWN;
	case ETOOMANYREFS: return WSAETOOMANYREFS;
	case ETIMEDOUT: return WSAETIMEDOUT;
	case ECONNREFUSED: return WSAECONNREFUSED;
	case ELOOP: return WSAELOOP;
	case ENAMETOOLONG: return WSAENAMETOOLONG;
	case EHOSTDOWN: return WSAEHOSTDOWN;
	case EHOSTUNREACH: return WSAEHOSTUNREACH;
	case ENOTEMPTY: return WSAENOTEMPTY;
	case EUSERS: return WSAEUSERS;
	case EDQUOT: return WSAEDQUOT;
	case ESTALE: return WSAESTALE;
	case EREMOTE: return WSAEREMOTE;
	case ECANCELED: return WSA_OPERATION_ABORTED;
	default: return WSASYSCALLFAILURE;
	}
}

/* The errno that goes with Winsock error @w (EIO if none is near). */
static int ws_to_errno(int w)
{
	switch (w) {
	case 0: return 0;
	case WSAEINTR: return EINTR;
	case WSAEBADF: return EBADF;
	case WSAEACCES: return EACCES;
	case WSAEFAULT: return EFAULT;
	case WSAEINVAL: return EINVAL;
	case WSAEMFILE: return EMFILE;
	case WSAEWOULDBLOCK: return EAGAIN;
	case WSAEINPROGRESS: return EINPROGRESS;
	case WSAEALREADY: return EALREADY;
	case WSAENOTSOCK: return ENOTSOCK;
	case WSAEDESTADDRREQ: return EDESTADDRREQ;
	case WSAEMSGSIZE: return EMSGSIZE;
	case WSAEPROTOTYPE: return EPROTOTYPE;
	case WSAENOPROTOOPT: return ENOPROTOOPT;
	case WSAEPROTONOSUPPORT: return EPROTONOSUPPORT;
	case WSAESOCKTNOSUPPORT: return ESOCKTNOSUPPORT;
	case WSAEOPNOTSUPP: return EOPNOTSUPP;
	case WSAEPFNOSUPPORT: return EPFNOSUPPORT;
	case WSAEAFNOSUPPORT: return EAFNOSUPPORT;
	case WSAEADDRINUSE: return EADDRINUSE;
	case WSAEADDRNOTAVAIL: return EADDRNOTAVAIL;
	case WSAENETDOWN: return ENETDOWN;
	case WSAENETUNREACH: return ENETUNREACH;
	case WSAENETRESET: return ENETRESET;
	case WSAECONNABORTED: return ECONNABORTED;
	case WSAECONNRESET: return ECONNRESET;
	case WSAENOBUFS: return ENOBUFS;
	case WSAEISCONN: return EISCONN;
	case WSAENOTCONN: return ENOTCONN;
	case WSAESHUTDOWN: return EPIPE;
	case WSAETOOMANYREFS: return ETOOMANYREFS;
	case WSAETIMEDOUT: return ETIMEDOUT;
	case WSAECONNREFUSED: return ECONNREFUSED;
	case WSAELOOP: return ELOOP;
	case WSAENAMETOOLONG: return ENAMETOOLONG;
	case WSAEHOSTDOWN: return EHOSTDOWN;
	case WSAEHOSTUNREACH: return EHOSTUNREACH;
	case WSAENOTEMPTY: return ENOTEMPTY;
	case WSAEUSERS: return EUSERS;
	case WSAEDQUOT: return EDQUOT;
	case WSAESTALE: return ESTALE;
	case WSAEREMOTE: return EREMOTE;
	case WSA_INVALID_HANDLE: return EBADF;
	case WSA_NOT_ENOUGH_MEMORY: return ENOMEM;
	case WSA_INVALID_PARAMETER: return EINVAL;
	case WSA_OPERATION_ABORTED: return ECANCELED;
	case WSA_IO_PENDING:
	case WSA_IO_INCOMPLETE: return EINPROGRESS;
	case ERROR_INSUFFICIENT_BUFFER: return ENOSPC;
	case FWP_E_NOT_FOUND: return ENOENT;   /* only if the caller sets it */
	default: return EIO;
	}
}

/* ---- The last error ---------------------------------------------------------- */

/*
 * This thread's last Winsock error, and the errno this library left with it.
 * While errno still holds that value, nothing has failed since (as far as we
 * can tell) and the error stands; once errno differs, a libc call failed
 * after it, and that errno is the last error.
 */
static __thread int ws_last;
static __thread int ws_last_errno;


void crd_ws_set_last(int w)
{
	ws_last = w;
	ws_last_errno = ws_to_errno(w);
	errno = ws_last_errno;
}

CRD_EXPORT int WSAGetLastError(void)
{
	int e = errno;

	return e == ws_last_errno ? ws_last : crd_ws_from_errno(e);
}

CRD_EXPORT void WSASetLastError(int iError)
{
	crd_ws_set_last(iError);
}

/* ---- Checked copies of caller memory ---------------------------------------- */

static int ws_no_vm_copy;   /* the kernel refused process_vm_*: plain copies */

/*
 * Copy @n bytes between our own buffer and memory the caller gave us
 * (@to_caller: from @src to the caller's @dst; else from the caller's @src),
 * through the kernel: an address the process cannot read (or write) gives
 * WSAEFAULT, not a crash. Where process_vm_readv/writev are refused (a
 * seccomp filter, a kernel without CONFIG_CROSS_MEMORY_ATTACH) this falls
 * back to memcpy and detects nothing.
 */
static int ws_copy(void *dst, const void *src, size_t n, int to_caller)
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

static int ws_put_dword(LPDWORD p, DWORD v)
{
	return ws_copy(p, &v, sizeof(v), 1);
}

/* ---- Events ------------------------------------------------------------------ */

/*
 * An event is an eventfd (non-blocking): signalled while its counter is not
 * 0. A handle is (generation << 16 | slot + 1): a small number, never a
 * pointer, checked against the table, so a stale or foreign handle is
 * refused rather than followed.
 */
struct ws_event_slot {
	int fd;          /* -1: free */
	unsigned gen;    /* 1..0xffff, changes when the slot is freed */
};

static pthread_mutex_t ws_ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ws_event_slot *ws_ev;
static unsigned ws_nev;

static WSAEVENT ws_ev_handle(unsigned slot)
{
	return (WSAEVENT)(uintptr_t)(((uintptr_t)ws_ev[slot].gen << 16) | (slot + 1));
}

/* The eventfd of live handle @h, or -1. Call with ws_ev_lock held. */
static int ws_ev_fd(WSAEVENT h)
{
	uintptr_t v = (uintptr_t)h;
	unsigned slot = (unsigned)(v & 0xffff), gen = (unsigned)(v >> 16);

	if (slot == 0 || slot > ws_nev || gen == 0 || v >> 16 > 0xffff)
		return -1;
	slot--;
	if (ws_ev[slot].fd < 0 || ws_ev[slot].gen != gen)
		return -1;
	return ws_ev[slot].fd;
}

CRD_EXPORT WSAEVENT WSACreateEvent(void)
{
	WSAEVENT h = WSA_INVALID_EVENT;
	unsigned i;
	int fd, err = 0;

	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		crd_ws_set_last(errno == ENOMEM ? WSA_NOT_ENOUGH_MEMORY : crd_ws_from_errno(errno));
		return WSA_INVALID_EVENT;
	}
	pthread_mutex_lock(&ws_ev_lock);
	for (i = 0; i < ws_nev; i++)
		if (ws_ev[i].fd < 0)
			break;
	if (i == ws_nev) {
		unsigned n = ws_nev ? ws_nev * 2 : 16, k;
		struct ws_event_slot *t;

		if (n > WS_EVENTS_MAX)
			n = WS_EVENTS_MAX;
		t = n > ws_nev ? realloc(ws_ev, n * sizeof(*t)) : NULL;
		if (!t) {
			err = WSA_NOT_ENOUGH_MEMORY;
			goto out;
		}
		for (k = ws_nev; k < n; k++)
			t[k] = (struct ws_event_slot){ .fd = -1, .gen = 1 };
		ws_ev = t;
		ws_nev = n;
	}
	ws_ev[i].fd = fd;
	h = ws_ev_handle(i);
out:
	pthread_mutex_unlock(&ws_ev_lock);
	if (err) {
		close(fd);
		crd_ws_set_last(err);
	}
	return h;
}

enum ws_ev_op { WS_EV_CLOSE, WS_EV_SET, WS_EV_RESET };

/* Apply @op to event @h: TRUE, or FALSE with WSA_INVALID_HANDLE. */
static BOOL ws_ev_op(WSAEVENT h, enum ws_ev_op op)
{
	uint64_t v = 1;
	int fd, saved = errno;

	pthread_mutex_lock(&ws_ev_lock);
	fd = ws_ev_fd(h);
	if (fd >= 0) {
		if (op == WS_EV_SET) {
			/* EAGAIN: the counter is full, so it is signalled anyway. */
			(void)!write(fd, &v, sizeof(v));
		} else if (op == WS_EV_RESET) {
			(void)!read(fd, &v, sizeof(v));   /* EAGAIN: not signalled */
		} else {
			unsigned slot = (unsigned)((uintptr_t)h & 0xffff) - 1;

			close(fd);
			ws_ev[slot].fd = -1;
			ws_ev[slot].gen = ws_ev[slot].gen >= 0xffff ? 1 : ws_ev[slot].gen + 1;
		}
	}
	pthread_mutex_unlock(&ws_ev_lock);
	if (fd < 0) {
		crd_ws_set_last(WSA_INVALID_HANDLE);
		return FALSE;
	}
	errno = saved;
	return TRUE;
}

CRD_EXPORT BOOL WSACloseEvent(WSAEVENT hEvent)
{
	return ws_ev_op(hEvent, WS_EV_CLOSE);
}

CRD_EXPORT BOOL WSASetEvent(WSAEVENT hEvent)
{
	return ws_ev_op(hEvent, WS_EV_SET);
}

CRD_EXPORT BOOL WSAResetEvent(WSAEVENT hEvent)
{
	return ws_ev_op(hEvent, WS_EV_RESET);
}

static int64_t ws_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * poll(2) @p until @deadline, a ws_now_ms() time (-1: none; one already
 * past: just look). Returns poll's answer, never EINTR.
 */
static int ws_poll_until(struct pollfd *p, nfds_t n, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline < 0 ? -1 : deadline - ws_now_ms();
		int r;

		if (deadline >= 0 && left < 0)
			left = 0;
		r = poll(p, n, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0 || (r == 0 && (deadline < 0 || left <= INT_MAX)))
			return r;
		if (r < 0 && errno != EINTR)
			return r;
	}
}

CRD_EXPORT DWORD WSAWaitForMultipleEvents(DWORD cEvents, const WSAEVENT *lphEvents,
					  BOOL fWaitAll, DWORD dwTimeout, BOOL fAlertable)
{
	struct pollfd p[WSA_MAXIMUM_WAIT_EVENTS];
	int fds[WSA_MAXIMUM_WAIT_EVENTS];
	int64_t deadline = dwTimeout == WSA_INFINITE ? -1 : ws_now_ms() + dwTimeout;
	DWORD i, ret = WSA_WAIT_FAILED;
	int err = 0, saved = errno, r;

	if (cEvents == 0 || cEvents > WSA_MAXIMUM_WAIT_EVENTS || !lphEvents) {
		crd_ws_set_last(WSA_INVALID_PARAMETER);
		return WSA_WAIT_FAILED;
	}
	/* Wait on copies: an event closed meanwhile cannot take our fd away. */
	pthread_mutex_lock(&ws_ev_lock);
	for (i = 0; i < cEvents; i++) {
		int fd = ws_ev_fd(lphEvents[i]);

		fds[i] = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (fds[i] < 0) {
			err = fd < 0 ? WSA_INVALID_HANDLE : crd_ws_from_errno(errno);
			break;
		}
	}
	pthread_mutex_unlock(&ws_ev_lock);
	if (err) {
		cEvents = i;
		goto out;
	}
	for (;;) {
		nfds_t n = 0;

		/* Which are signalled now? (Waiting for all: only look.) */
		for (i = 0; i < cEvents; i++)
			p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		r = ws_poll_until(p, cEvents, fWaitAll ? 0 : deadline);
		if (r < 0) {
			err = crd_ws_from_errno(errno);
			goto out;
		}
		if (!fWaitAll) {
			for (i = 0; i < cEvents; i++)
				if (p[i].revents & POLLIN)
					break;
			ret = i < cEvents ? WSA_WAIT_EVENT_0 + i : WSA_WAIT_TIMEOUT;
			goto out;
		}
		/* All of them: wait for the ones not signalled yet, then look again. */
		for (i = 0; i < cEvents; i++)
			if (!(p[i].revents & POLLIN))
				p[n++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (n == 0) {
			ret = WSA_WAIT_EVENT_0;
			goto out;
		}
		r = ws_poll_until(p, n, deadline);
		if (r < 0) {
			err = crd_ws_from_errno(errno);
			goto out;
		}
		if (r == 0) {
			ret = WSA_WAIT_TIMEOUT;
			goto out;
		}
	}
out:
	for (i = 0; i < cEvents; i++)
		close(fds[i]);
	if (err) {
		crd_ws_set_last(err);
		return WSA_WAIT_FAILED;
	}
	errno = saved;
	return ret;
}

/* ---- Completing a call ------------------------------------------------------- */

/* One Winsock call's bookkeeping: where its results go. */
struct ws_call {
	LPDWORD bytes;                        /* the caller's count, or NULL */
	LPWSAOVERLAPPED ov;                   /* NULL: not overlapped (or not usable) */
	LPWSAOVERLAPPED_COMPLETION_ROUTINE fn;
	WSAEVENT event;                       /* ov->hEvent, read at the start */
	int fault;                            /* WSAEFAULT: a bookkeeping pointer is bad */
	int saved_errno;                      /* restored on success */
};

/*
 * Start a call: check the count and the overlapped structure before doing
 * anything (so a bad one fails the call before it has effects), and mark
 * the overlapped structure pending as Windows does.
 */
static void ws_begin(struct ws_call *c, LPDWORD bytes, LPWSAOVERLAPPED ov,
		     LPWSAOVERLAPPED_COMPLETION_ROUTINE fn)
{
	*c = (struct ws_call){ .saved_errno = errno, .fn = fn };
	if (ov) {
		WSAOVERLAPPED o;
		ULONG_PTR st[2] = { WSA_IO_PENDING, 0 };

		_Static_assert(offsetof(WSAOVERLAPPED, InternalHigh) == sizeof(ULONG_PTR),
			       "Internal, InternalHigh adjacent");
		if (ws_copy(&o, ov, sizeof(o), 0) || ws_copy(ov, st, sizeof(st), 1)) {
			c->fault = WSAEFAULT;
		} else {
			c->ov = ov;
			c->event = o.hEvent;
		}
	}
	if (bytes) {
		if (ws_put_dword(bytes, 0))
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
static int ws_end(struct ws_call *c, int err, DWORD n)
{
	if (c->bytes)
		ws_put_dword(c->bytes, n);
	if (c->ov) {
		ULONG_PTR st[2] = { (ULONG_PTR)(DWORD)err, n };

		ws_copy(c->ov, st, sizeof(st), 1);
		if (!c->fn) {
			int saved = errno;
			uint64_t one = 1;

			pthread_mutex_lock(&ws_ev_lock);
			if (c->event) {
				int fd = ws_ev_fd(c->event);

				if (fd >= 0)
					(void)!write(fd, &one, sizeof(one));
			}
			pthread_mutex_unlock(&ws_ev_lock);
			errno = saved;
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

/* ---- Sockets ----------------------------------------------------------------- */

/* 0 if @s is a socket (its inode number in *@ino if not NULL), else WSAENOTSOCK. */
static int ws_socket_ino(SOCKET s, uint64_t *ino)
{
	struct stat st;

	if (s < 0 || fstat(s, &st) || !S_ISSOCK(st.st_mode))
		return WSAENOTSOCK;
	if (ino)
		*ino = (uint64_t)st.st_ino;
	return 0;
}

static int ws_socket(SOCKET s)
{
	return ws_socket_ino(s, NULL);
}

static int ws_sockopt_int(SOCKET s, int opt, int *v)
{
	socklen_t len = sizeof(*v);

	*v = 0;
	return getsockopt(s, SOL_SOCKET, opt, v, &len) ? crd_ws_from_errno(errno) : 0;
}

/*
 * 0 if socket @s can carry redirect records (IPv4/IPv6 stream: TCP, MPTCP),
 * WSAEOPNOTSUPP if its family has no redirection (Unix, netlink, packet),
 * WSAEINVAL if it is an IP socket of another type (UDP, raw: these use
 * control messages).
 */
static int ws_redirect_socket(SOCKET s)
{
	int dom, type, err;

	err = ws_sockopt_int(s, SO_DOMAIN, &dom);
	if (!err)
		err = ws_sockopt_int(s, SO_TYPE, &type);
	if (err)
		return err;
	if (dom != AF_INET && dom != AF_INET6)
		return WSAEOPNOTSUPP;
	return type == SOCK_STREAM ? 0 : WSAEINVAL;
}

/* 0 if @s is connected, WSAENOTCONN if not, or another error. */
static int ws_connected(SOCKET s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return getpeername(s, (struct sockaddr *)&ss, &len) ? crd_ws_from_errno(errno) : 0;
}

CRD_EXPORT int closesocket(SOCKET s)
{
	int saved = errno, err = ws_socket(s);

	if (!err)
		crd_ws_flow_forget(s);
	if (!err && close(s) && errno != EINTR)
		err = crd_ws_from_errno(errno);
	if (err) {
		crd_ws_set_last(err);
		return SOCKET_ERROR;
	}
	errno = saved;
	return 0;
}

CRD_EXPORT int WSAStartup(WORD wVersionRequested, LPWSADATA lpWSAData)
{
	WORD v = wVersionRequested;

	if (!lpWSAData)
		return WSAEFAULT;
	if ((v & 0xff) < 1)
		return WSAVERNOTSUPPORTED;
	if ((v & 0xff) > 2 || ((v & 0xff) == 2 && (v >> 8) > 2))
		v = MAKEWORD(2, 2);
	memset(lpWSAData, 0, sizeof(*lpWSAData));
	lpWSAData->wVersion = v;
	lpWSAData->wHighVersion = MAKEWORD(2, 2);
	strcpy(lpWSAData->szDescription, "connredir Winsock compatibility");
	strcpy(lpWSAData->szSystemStatus, "Running");
	return 0;
}

CRD_EXPORT int WSACleanup(void)
{
	return 0;
}

/* ---- WSAIoctl ---------------------------------------------------------------- */

/*
 * The Winsock error for native result @r (a -errno) of control code @code.
 * Always one of Winsock's documented errors, never an FWP_E_* HRESULT (a
 * negative number): what WFP reports as FWP_E_NOT_FOUND (no records, no
 * context) is WSAENOPROTOOPT, as for a socket option that is not there.
 */
int crd_ws_native_error(int r, DWORD code)
{
	switch (-r) {
	case ENOENT:
		return WSAENOPROTOOPT;       /* never redirected */
	case EACCES:
		/*
		 * The context of a service other than the caller's: for the
		 * caller there is none, just as for a flow never redirected.
		 */
		return code == SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT ?
			WSAENOPROTOOPT : WSAEACCES;
	case ENOSPC:
		return ERROR_INSUFFICIENT_BUFFER;
	case ENOPROTOOPT:
	case EOPNOTSUPP:
		return WSAEOPNOTSUPP;        /* no connredir on this socket's cgroup */
	case EPROTO:
		return WSAENETDOWN;          /* the kernel side answered nonsense */
	default:
		return crd_ws_from_errno(-r);
	}
}

/* The two queries, under the buffer rules of winsock.h. */
static int ws_query(SOCKET s, DWORD code, void *out, DWORD cb_out, DWORD *n)
{
	struct connredir_context ctx;
	size_t need = 0;
	int err, r;

	err = ws_redirect_socket(s);
	if (err)
		return err;
	if (out && cb_out > 0 && cb_out < sizeof(ULONG))
		return WSAEINVAL;                           /* rule 2 */
	err = ws_connected(s);
	if (err)
		return err;
	if (!out)
		cb_out = 0;
	if (code == SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS) {
		/* The kernel copies the blob straight to @out: it checks it. */
		r = connredir_query_records(s, cb_out ? out : NULL, cb_out, &need);
		if (r && r != -ENOSPC)
			return crd_ws_native_error(r, code);
		*n = (DWORD)need;
		return r ? ERROR_INSUFFICIENT_BUFFER : 0;   /* rules 1, 3; 4 */
	}
	r = connredir_query_context(s, &ctx);
	if (r)
		return crd_ws_native_error(r, code);
	*n = sizeof(ctx);
	if (cb_out < sizeof(ctx))
		return ERROR_INSUFFICIENT_BUFFER;           /* rules 1, 3 */
	err = ws_copy(out, &ctx, sizeof(ctx), 1);
	if (err)
		*n = 0;
	return err;                                         /* rule 4 */
}

static int ws_set_records(SOCKET s, const void *in, DWORD cb_in, DWORD cb_out)
{
	int err, listening, r;

	err = ws_redirect_socket(s);
	if (err)
		return err;
	if (cb_out != 0 || cb_in == 0 || cb_in > CONNREDIR_RECORDS_MAX)
		return WSAEINVAL;
	err = ws_sockopt_int(s, SO_ACCEPTCONN, &listening);
	if (err)
		return err;
	if (listening)
		return WSAEINVAL;
	if (!in)
		return WSAEFAULT;
	err = ws_connected(s);
	if (!err)
		return WSAEISCONN;
	if (err != WSAENOTCONN)
		return err;
	/* The kernel reads the blob from @in: it checks the address (where
	 * connredir is attached; elsewhere it never reads it). */
	r = connredir_set_records(s, in, cb_in);
	return r ? crd_ws_native_error(r, SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS) : 0;
}

static INT ws_recvmsg(SOCKET s, LPWSAMSG lpMsg, LPDWORD lpdwNumberOfBytesRecvd,
		      LPWSAOVERLAPPED lpOverlapped,
		      LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

static int ws_extension(const void *in, DWORD cb_in, void *out, DWORD cb_out, DWORD *n)
{
	static const GUID recvmsg_id = WSAID_WSARECVMSG, sendmsg_id = WSAID_WSASENDMSG;
	static const GUID overlapped_only[] = { WSAID_ACCEPTEX, WSAID_CONNECTEX,
		WSAID_GETACCEPTEXSOCKADDRS, WSAID_DISCONNECTEX, WSAID_TRANSMITFILE };
	LPFN_WSARECVMSG recv_fn = ws_recvmsg;
	size_t i;
	LPFN_WSASENDMSG send_fn = WSASendMsg;
	GUID id;
	int err;

	_Static_assert(sizeof(recv_fn) == sizeof(send_fn), "one pointer size");
	if (!in || cb_in < sizeof(id) || ws_copy(&id, in, sizeof(id), 0))
		return WSAEFAULT;
	/* AcceptEx, ConnectEx ...: overlapped I/O, not emulated. */
	for (i = 0; i < sizeof(overlapped_only) / sizeof(overlapped_only[0]); i++)
		if (!memcmp(&id, &overlapped_only[i], sizeof(id)))
			return WSAEOPNOTSUPP;
	if (memcmp(&id, &recvmsg_id, sizeof(id)) && memcmp(&id, &sendmsg_id, sizeof(id)))
		return WSAEINVAL;
	if (!out || cb_out < sizeof(recv_fn))
		return WSAEFAULT;
	if (!memcmp(&id, &recvmsg_id, sizeof(id)))
		err = ws_copy(out, &recv_fn, sizeof(recv_fn), 1);
	else
		err = ws_copy(out, &send_fn, sizeof(send_fn), 1);
	if (!err)
		*n = sizeof(recv_fn);
	return err;
}

CRD_EXPORT int WSAIoctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer, DWORD cbInBuffer,
			LPVOID lpvOutBuffer, DWORD cbOutBuffer, LPDWORD lpcbBytesReturned,
			LPWSAOVERLAPPED lpOverlapped,
			LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	struct ws_call c;
	DWORD n = 0;
	int err;

	ws_begin(&c, lpcbBytesReturned, lpOverlapped, lpCompletionRoutine);
	err = ws_socket(s);
	if (!err)
		err = c.fault;
	if (err)
		return ws_end(&c, err, 0);
	switch (dwIoControlCode) {
	case SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS:
	case SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT:
		err = ws_query(s, dwIoControlCode, lpvOutBuffer, cbOutBuffer, &n);
		break;
	case SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS:
		err = ws_set_records(s, lpvInBuffer, cbInBuffer, cbOutBuffer);
		break;
	case SIO_GET_EXTENSION_FUNCTION_POINTER:
		err = ws_extension(lpvInBuffer, cbInBuffer, lpvOutBuffer, cbOutBuffer, &n);
		break;
	default:
		err = WSAEINVAL;
		break;
	}
	/* Only ERROR_INSUFFICIENT_BUFFER reports a size with a failure. */
	if (err && err != ERROR_INSUFFICIENT_BUFFER)
		n = 0;
	return ws_end(&c, err, n);
}

CRD_EXPORT BOOL WSAGetOverlappedResult(SOCKET s, LPWSAOVERLAPPED lpOverlapped,
				       LPDWORD lpcbTransfer, BOOL fWait, LPDWORD lpdwFlags)
{
	WSAOVERLAPPED o;
	int err = ws_socket(s), saved = errno;

	if (!err && (!lpOverlapped || !lpcbTransfer || !lpdwFlags ||
		     ws_copy(&o, lpOverlapped, sizeof(o), 0)))
		err = WSAEFAULT;
	if (!err && o.Internal == WSA_IO_PENDING)
		err = WSA_IO_INCOMPLETE;
	if (!err && (ws_put_dword(lpcbTransfer, (DWORD)o.InternalHigh) ||
		     ws_put_dword(lpdwFlags, 0)))
		err = WSAEFAULT;
	if (!err)
		err = (int)(DWORD)o.Internal;
	if (err) {
		crd_ws_set_last(err);
		return FALSE;
	}
	errno = saved;
	return TRUE;
}

/* ---- WSASendMsg / WSARecvMsg ------------------------------------------------- */

/*
 * The data part of WSAMSG @m as a msghdr (no control): name, and the WSABUF
 * array as iovecs in @small or, beyond WS_IOV_STACK, in *@heap (the caller
 * frees it).
 */
int crd_ws_msghdr(const WSAMSG *m, struct msghdr *mh, struct iovec *small,
		  struct iovec **heap)
{
	struct iovec *iov = small;
	size_t total = 0;
	ULONG i;

	*heap = NULL;
	memset(mh, 0, sizeof(*mh));
	if (m->namelen < 0 || (m->dwBufferCount && !m->lpBuffers))
		return WSAEFAULT;
	if (m->dwBufferCount > WS_IOV_MAX)
		return WSAEINVAL;
	if (m->Control.len && !m->Control.buf)
		return WSAEFAULT;
	if (m->dwBufferCount > WS_IOV_STACK) {
		iov = *heap = calloc(m->dwBufferCount, sizeof(*iov));
		if (!iov)
			return WSAENOBUFS;
	}
	for (i = 0; i < m->dwBufferCount; i++) {
		iov[i].iov_base = m->lpBuffers[i].buf;
		iov[i].iov_len = m->lpBuffers[i].len;
		total += iov[i].iov_len;
	}
	if (total > INT_MAX)   /* the count must fit a DWORD; the kernel caps at 2 GiB anyway */
		return WSAEINVAL;
	mh->msg_name = m->name;
	mh->msg_namelen = m->name ? (socklen_t)m->namelen : 0;
	mh->msg_iov = iov;
	mh->msg_iovlen = m->dwBufferCount;
	return 0;
}

static int ws_is_wfp(const WSACMSGHDR *h, int type)
{
	return (h->cmsg_level == IPPROTO_IP && h->cmsg_type == type) ||
	       (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == type);
}

/*
 * UDP, outward: a proxy hands on the records it received on a flow's first
 * datagram as an IP(V6)_WFP_REDIRECT_RECORDS control message on the first
 * datagram it sends onward (destination in @m->name, or the connected peer).
 * They are set on the socket with connredir_set_records() before the
 * datagram goes; a blob the kernel refuses fails the send (never a send
 * without the records: that would let the flow loop).
 */
static int ws_send_redirect_records(SOCKET s, const WSAMSG *m, const void *blob, size_t len)
{
	int dom, type, err, r;

	err = ws_sockopt_int(s, SO_DOMAIN, &dom);
	if (!err)
		err = ws_sockopt_int(s, SO_TYPE, &type);
	if (err)
		return err;
	if (dom != AF_INET && dom != AF_INET6)
		return WSAEOPNOTSUPP;
	if (type != SOCK_DGRAM)
		return WSAEINVAL;   /* TCP: SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS */
	if (len == 0 || len > CONNREDIR_RECORDS_MAX)
		return WSAEINVAL;
	/* The kernel reads the blob (part of Control.buf) and checks it. */
	r = connredir_set_records(s, blob, len);
	return r ? crd_ws_native_error(r, SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS) : 0;
}

/*
 * The control messages of @m for sendmsg(2), in @mh. They pass through
 * unchanged (same layout), except the WFP types, which are taken out: the
 * records go to ws_send_redirect_records(), a context is never sent. In
 * that case the others are copied to *@copy (the caller frees it). A list
 * with a cmsg_len below the header size or past the buffer is WSAEINVAL;
 * trailing bytes too few for a header are ignored, as the kernel does.
 * Headers are read with memcpy: Control.buf need not be aligned.
 */
static int ws_control_out(SOCKET s, const WSAMSG *m, struct msghdr *mh, unsigned char **copy)
{
	const unsigned char *buf = (const unsigned char *)m->Control.buf;
	size_t len = m->Control.len, off, step, kept = 0;
	int pass, wfp = 0, err;
	WSACMSGHDR h;

	*copy = NULL;
	mh->msg_control = NULL;
	mh->msg_controllen = 0;
	if (len == 0)
		return 0;
	if (len > WS_CONTROL_MAX)
		return WSAENOBUFS;
	for (pass = 0; pass < 2; pass++) {
		for (off = 0; len - off >= sizeof(h); off += step) {
			memcpy(&h, buf + off, sizeof(h));
			if (h.cmsg_len < sizeof(h) || h.cmsg_len > len - off)
				return WSAEINVAL;
			step = WSA_CMSGHDR_ALIGN(h.cmsg_len);
			if (step > len - off)
				step = len - off;
			if (ws_is_wfp(&h, IP_WFP_REDIRECT_CONTEXT))
				return WSAEINVAL;
			if (ws_is_wfp(&h, IP_WFP_REDIRECT_RECORDS)) {
				wfp = 1;
				if (pass == 1) {
					err = ws_send_redirect_records(s, m,
								       buf + off + WSA_CMSG_LEN(0),
								       h.cmsg_len - WSA_CMSG_LEN(0));
					if (err)
						return err;
				}
			} else if (pass == 1) {
				memcpy(*copy + kept, buf + off, step);
				kept += step;
			}
		}
		if (!wfp) {
			mh->msg_control = (void *)buf;
			mh->msg_controllen = len;
			return 0;
		}
		if (pass == 0) {
			*copy = malloc(len);
			if (!*copy)
				return WSAENOBUFS;
		}
	}
	mh->msg_control = kept ? *copy : NULL;
	mh->msg_controllen = kept;
	return 0;
}

CRD_EXPORT INT WSASendMsg(SOCKET s, LPWSAMSG lpMsg, DWORD dwFlags, LPDWORD lpNumberOfBytesSent,
			  LPWSAOVERLAPPED lpOverlapped,
			  LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	struct iovec small[WS_IOV_STACK], *heap = NULL;
	unsigned char *control = NULL;
	struct ws_call c;
	struct msghdr mh;
	ssize_t r;
	DWORD n = 0;
	int err;

	if (lpOverlapped || lpCompletionRoutine)
		return crd_ws_no_overlapped();
	ws_begin(&c, lpNumberOfBytesSent, NULL, NULL);
	err = ws_socket(s);
	if (!err)
		err = c.fault;
	if (!err && !lpMsg)
		err = WSAEFAULT;
	if (!err)
		err = crd_ws_msghdr(lpMsg, &mh, small, &heap);
	if (!err)
		err = ws_control_out(s, lpMsg, &mh, &control);
	if (!err) {
		r = sendmsg(s, &mh, (int)dwFlags | MSG_NOSIGNAL);
		if (r < 0)
			err = crd_ws_from_errno(errno);
		else
			n = (DWORD)r;
	}
	free(control);
	free(heap);
	return ws_end(&c, err, n);
}

/* ---- UDP: control-message helpers and the per-socket flow table ------------ */

/*
 * Remove every control message of @level/@type from the list of @len bytes
 * at @buf (a list the kernel wrote: aligned, well formed), moving the rest
 * down. A malformed tail (a cmsg_len below the header size or past the end)
 * is cut off. Returns the new length.
 */
size_t crd_ws_cmsg_strip(void *buf, size_t len, int level, int type)
{
	unsigned char *b = buf;
	size_t off = 0, out = 0, step;
	WSACMSGHDR h;

	while (len - off >= sizeof(h)) {
		memcpy(&h, b + off, sizeof(h));
		if (h.cmsg_len < sizeof(h) || h.cmsg_len > len - off)
			break;
		step = WSA_CMSGHDR_ALIGN(h.cmsg_len);
		if (step > len - off)
			step = len - off;
		if (h.cmsg_level != level || h.cmsg_type != type) {
			if (out != off)
				memmove(b + out, b + off, step);
			out += step;
		}
		off += step;
	}
	return out;
}

/*
 * Cut the list of *@len bytes at @buf to its whole messages that fit in @cap
 * bytes (the last one's padding may be cut, as the kernel does). Returns 1
 * if a message was cut off (MSG_CTRUNC), else 0.
 */
int crd_ws_cmsg_fit(const void *buf, size_t *len, size_t cap)
{
	const unsigned char *b = buf;
	size_t off = 0, step;
	int cut = 0;
	WSACMSGHDR h;

	if (*len <= cap)
		return 0;
	while (*len - off >= sizeof(h)) {
		memcpy(&h, b + off, sizeof(h));
		if (h.cmsg_len < sizeof(h) || h.cmsg_len > *len - off)
			break;
		if (off >= cap || h.cmsg_len > cap - off) {
			cut = 1;
			break;
		}
		step = WSA_CMSGHDR_ALIGN(h.cmsg_len);
		if (step > cap - off)
			step = cap - off;
		off += step;
	}
	*len = off;
	return cut;
}

/*
 * Append a control message @level/@type with @n data bytes from @data at
 * offset *@len of @buf (@cap bytes of room), in Windows' layout: header,
 * data at WSA_CMSG_DATA, cmsg_len = WSA_CMSG_LEN(n), *@len grown by
 * WSA_CMSG_SPACE(n) (or to @cap, when only the last padding does not fit).
 * *@len is first rounded up to the header alignment. Returns 0, or -1 with
 * nothing written if the message does not fit.
 */
int crd_ws_cmsg_append(void *buf, size_t *len, size_t cap, int level, int type,
		       const void *data, size_t n)
{
	unsigned char *b = buf;
	size_t at = WSA_CMSGHDR_ALIGN(*len), need = WSA_CMSG_LEN(n);
	WSACMSGHDR h;

	if (at < *len || at > cap || n > cap || need > cap - at)
		return -1;
	memset(&h, 0, sizeof(h));
	h.cmsg_len = need;
	h.cmsg_level = level;
	h.cmsg_type = type;
	memset(b + *len, 0, at - *len);
	memcpy(b + at, &h, sizeof(h));
	memset(b + at + sizeof(h), 0, WSA_CMSG_LEN(0) - sizeof(h));
	if (n)
		memcpy(b + at + WSA_CMSG_LEN(0), data, n);
	need = WSA_CMSG_SPACE(n) < cap - at ? WSA_CMSG_SPACE(n) : cap - at;
	memset(b + at + WSA_CMSG_LEN(n), 0, need - WSA_CMSG_LEN(n));
	*len = at + need;
	return 0;
}

/*
 * What WSARecvMsg remembers per socket: CRD_WS_SOCKETS sockets, each with
 * the last CRD_WS_FLOWS flow handles it has reported, both least recently
 * used out. A socket is (descriptor, inode number): a descriptor closed and
 * reused for another socket is another socket, with nothing remembered
 * (closesocket() also forgets it at once). A forgotten flow (evicted, or its
 * socket evicted) gets the records and context again on its next datagram;
 * a proxy sees that as a new flow. The handle table of a socket is
 * allocated the first time it has a handle to remember.
 */
struct ws_flow {
	uint32_t handle;
	uint32_t stamp;
};

struct ws_sock {
	int fd;                 /* -1: free */
	uint64_t ino;
	uint64_t stamp;
	int family;             /* AF_INET/AF_INET6 for a UDP socket, else 0 */
	int user_mark;          /* SO_RCVMARK was on before we looked */
	unsigned wfp_off;       /* WS_WFP_*_OFF: turned off with setsockopt */
	uint32_t clock;
	struct ws_flow *flows;  /* CRD_WS_FLOWS, or NULL */
};

#define WS_WFP_RECORDS_OFF 1u
#define WS_WFP_CONTEXT_OFF 2u

static struct ws_sock ws_socks[CRD_WS_SOCKETS];
static uint64_t ws_socks_clock;
static int ws_socks_ready;
static pthread_mutex_t ws_socks_lock = PTHREAD_MUTEX_INITIALIZER;

/* Under ws_socks_lock: the entry of (@fd, @ino), made if @make (LRU victim). */
static struct ws_sock *ws_sock_find(int fd, uint64_t ino, int make, int *made)
{
	struct ws_sock *e, *victim = NULL;
	int i;

	if (!ws_socks_ready) {
		for (i = 0; i < CRD_WS_SOCKETS; i++)
			ws_socks[i].fd = -1;
		ws_socks_ready = 1;
	}
	*made = 0;
	for (i = 0; i < CRD_WS_SOCKETS; i++) {
		e = &ws_socks[i];
		if (e->fd == fd && e->ino == ino) {
			e->stamp = ++ws_socks_clock;
			return e;
		}
		if (!victim || (victim->fd >= 0 && (e->fd < 0 || e->stamp < victim->stamp)))
			victim = e;
	}
	if (!make)
		return NULL;
	free(victim->flows);
	memset(victim, 0, sizeof(*victim));
	victim->fd = fd;
	victim->ino = ino;
	victim->stamp = ++ws_socks_clock;
	*made = 1;
	return victim;
}

/*
 * Under ws_socks_lock: whether @handle is new on @e (1) or already reported
 * (0). With @remember a new handle is remembered (evicting the least
 * recently used) and a known one refreshed. Without memory for the table,
 * every datagram counts as new (records again rather than never).
 */
static int ws_flow_first(struct ws_sock *e, uint32_t handle, int remember)
{
	struct ws_flow *f, *victim = NULL;
	int i;

	if (!e->flows) {
		if (!remember)
			return 1;
		e->flows = calloc(CRD_WS_FLOWS, sizeof(*e->flows));
		if (!e->flows)
			return 1;
	}
	for (i = 0; i < CRD_WS_FLOWS; i++) {
		f = &e->flows[i];
		if (f->handle == handle) {
			if (remember)
				f->stamp = ++e->clock;
			return 0;
		}
		if (!victim || (victim->handle && (!f->handle || f->stamp < victim->stamp)))
			victim = f;
	}
	if (remember) {
		victim->handle = handle;
		victim->stamp = ++e->clock;
	}
	return 1;
}

/* Under ws_socks_lock: forget @handle on @e (its messages did not fit). */
static void ws_flow_unsee(struct ws_sock *e, uint32_t handle)
{
	int i;

	for (i = 0; e->flows && i < CRD_WS_FLOWS; i++)
		if (e->flows[i].handle == handle)
			e->flows[i].handle = 0;
}

/*
 * crd_ws_flow_first - the flow table on its own (for the tests): 1 if
 * @handle (not 0) is new on socket (@fd, @ino), remembering it if
 * @remember, else 0.
 */
int crd_ws_flow_first(int fd, uint64_t ino, uint32_t handle, int remember)
{
	struct ws_sock *e;
	int made, r = 1;

	if (!handle)
		return 0;
	pthread_mutex_lock(&ws_socks_lock);
	e = ws_sock_find(fd, ino, remember, &made);
	if (e)
		r = ws_flow_first(e, handle, remember);
	pthread_mutex_unlock(&ws_socks_lock);
	return r;
}

/* crd_ws_flow_forget - forget everything about descriptor @fd. */
void crd_ws_flow_forget(int fd)
{
	int i;

	pthread_mutex_lock(&ws_socks_lock);
	for (i = 0; ws_socks_ready && i < CRD_WS_SOCKETS; i++) {
		if (ws_socks[i].fd != fd)
			continue;
		free(ws_socks[i].flows);
		memset(&ws_socks[i], 0, sizeof(ws_socks[i]));
		ws_socks[i].fd = -1;
	}
	pthread_mutex_unlock(&ws_socks_lock);
}

/*
 * The receive set-up of socket @s (inode @ino): for an IPv4/IPv6 datagram
 * socket, SO_RCVMARK is turned on (once, the first time this socket is
 * seen; whether the caller had it on is remembered) and its family is
 * returned; 0 for every other socket. *@user_mark: the caller wants SO_MARK
 * messages.
 */
static int ws_udp_setup(SOCKET s, uint64_t ino, int *user_mark)
{
	struct ws_sock *e;
	int made, dom = 0, type = 0, on = 0, one = 1, family = 0;

	*user_mark = 1;
	pthread_mutex_lock(&ws_socks_lock);
	e = ws_sock_find(s, ino, 1, &made);
	if (made) {
		if (!ws_sockopt_int(s, SO_DOMAIN, &dom) && !ws_sockopt_int(s, SO_TYPE, &type) &&
		    (dom == AF_INET || dom == AF_INET6) && type == SOCK_DGRAM &&
		    !ws_sockopt_int(s, SO_RCVMARK, &on)) {
			e->user_mark = on;
			if (on || !setsockopt(s, SOL_SOCKET, SO_RCVMARK, &one, sizeof(one)))
				e->family = dom;
		}
	}
	family = e->family;
	*user_mark = e->user_mark;
	pthread_mutex_unlock(&ws_socks_lock);
	return family;
}

/*
 * crd_ws_wfp_option - setsockopt/getsockopt of IP_WFP_REDIRECT_RECORDS or
 * IP_WFP_REDIRECT_CONTEXT (@optname) on socket @s: with @set, turn that
 * message of WSARecvMsg on (*@on != 0) or off; else read the state into
 * *@on. The socket must be an IPv4/IPv6 datagram socket (WSAENOPROTOOPT);
 * it is set up for receiving (SO_RCVMARK) at once. Returns 0 or a Winsock
 * error. The state lives in the bounded socket table: a socket evicted
 * from it (more than CRD_WS_SOCKETS in use) has both messages on again.
 */
int crd_ws_wfp_option(SOCKET s, int optname, int set, int *on)
{
	unsigned bit = optname == IP_WFP_REDIRECT_RECORDS ? WS_WFP_RECORDS_OFF : WS_WFP_CONTEXT_OFF;
	uint64_t ino = 0;
	struct ws_sock *e;
	int made, user_mark, err = ws_socket_ino(s, &ino);

	if (err)
		return err;
	if (!ws_udp_setup(s, ino, &user_mark))
		return WSAENOPROTOOPT;
	pthread_mutex_lock(&ws_socks_lock);
	e = ws_sock_find(s, ino, 1, &made);
	if (set && *on)
		e->wfp_off &= ~bit;
	else if (set)
		e->wfp_off |= bit;
	else
		*on = !(e->wfp_off & bit);
	pthread_mutex_unlock(&ws_socks_lock);
	return 0;
}

/*
 * UDP, inward: on the first datagram of a redirected flow, a proxy gets the
 * records and its context as IP_WFP_REDIRECT_RECORDS and
 * IP_WFP_REDIRECT_CONTEXT control messages (IPV6_* on an IPv6 socket),
 * appended after the kernel's messages in @buf (*@len bytes used so far,
 * @cap bytes of room in all). Returns MSG_CTRUNC if they do not fit (the
 * flow is then not remembered: the next datagram brings them again), else 0.
 * Without @remember (MSG_PEEK) the flow stays new.
 */
static int ws_recv_redirect_cmsgs(SOCKET s, uint64_t ino, int family, uint32_t handle,
				  int remember, unsigned char *buf, size_t *len, size_t cap)
{
	int level = family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
	struct connredir_context ctx;
	unsigned char blob[CONNREDIR_RECORDS_MAX];
	size_t blen = 0, at = *len;
	struct ws_sock *e;
	unsigned off;
	int made, first, rr = -1, rc = -1, trunc = 0;

	pthread_mutex_lock(&ws_socks_lock);
	e = ws_sock_find(s, ino, 1, &made);
	off = e->wfp_off;
	first = off == (WS_WFP_RECORDS_OFF | WS_WFP_CONTEXT_OFF) ? 0 :
		ws_flow_first(e, handle, remember);
	pthread_mutex_unlock(&ws_socks_lock);
	if (!first)
		return 0;
	/* Either may be missing: the flow ended, or the context is another service's. */
	if (!(off & WS_WFP_RECORDS_OFF))
		rr = connredir_udp_query_records(s, handle, blob, sizeof(blob), &blen);
	if (!(off & WS_WFP_CONTEXT_OFF))
		rc = connredir_udp_query_context(s, handle, &ctx);
	if (!rr && crd_ws_cmsg_append(buf, len, cap, level, IP_WFP_REDIRECT_RECORDS, blob, blen))
		trunc = 1;
	if (!trunc && !rc &&
	    crd_ws_cmsg_append(buf, len, cap, level, IP_WFP_REDIRECT_CONTEXT, &ctx, sizeof(ctx)))
		trunc = 1;
	if (trunc) {
		*len = at;   /* both or neither */
		if (remember) {
			pthread_mutex_lock(&ws_socks_lock);
			e = ws_sock_find(s, ino, 0, &made);
			if (e)
				ws_flow_unsee(e, handle);
			pthread_mutex_unlock(&ws_socks_lock);
		}
		return MSG_CTRUNC;
	}
	return 0;
}

/* Control room added for the kernel's SO_MARK message, which we strip. */
#define WS_MARK_ROOM CMSG_SPACE(sizeof(uint32_t))
#define WS_RECV_STACK 2048

/*
 * recvmsg(2) on an IPv4/IPv6 datagram socket: into our own control buffer
 * with room for the SO_MARK message, which is read for the flow handle and
 * taken out unless the caller turned SO_RCVMARK on; then the WFP messages on
 * a flow's first datagram; then the list is copied to the caller's buffer
 * (through the kernel: a bad Control.buf is WSAEFAULT, the datagram is
 * consumed). Returns 0 or a Winsock error; *@n the bytes.
 */
static int ws_recv_udp(SOCKET s, uint64_t ino, int family, int user_mark, LPWSAMSG m,
		       struct msghdr *mh, DWORD *n)
{
	size_t cap = m->Control.len, room, used;
	unsigned char small[WS_RECV_STACK], *cbuf = small;
	struct cmsghdr *c;
	uint32_t mark = 0;
	int in_flags = (int)m->dwFlags, flags, err = 0;
	ssize_t r;

	if (cap > WS_CONTROL_MAX)
		cap = WS_CONTROL_MAX;
	room = cap + WS_MARK_ROOM;
	if (room > sizeof(small)) {
		cbuf = malloc(room);
		if (!cbuf)
			return WSAENOBUFS;
	}
	mh->msg_control = cbuf;
	mh->msg_controllen = room;
	r = recvmsg(s, mh, in_flags);
	if (r < 0) {
		err = crd_ws_from_errno(errno);
		goto out;
	}
	*n = (DWORD)r;
	flags = mh->msg_flags;
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_MARK &&
		    c->cmsg_len >= CMSG_LEN(sizeof(mark)))
			memcpy(&mark, CMSG_DATA(c), sizeof(mark));
	used = mh->msg_controllen;
	if (!user_mark)
		used = crd_ws_cmsg_strip(cbuf, used, SOL_SOCKET, SO_MARK);
	if (crd_ws_cmsg_fit(cbuf, &used, cap))
		flags |= MSG_CTRUNC;
	if (CONNREDIR_MARK_HANDLE(mark))
		flags |= ws_recv_redirect_cmsgs(s, ino, family, CONNREDIR_MARK_HANDLE(mark),
						!(in_flags & MSG_PEEK), cbuf, &used, cap);
	if (used)
		err = ws_copy(m->Control.buf, cbuf, used, 1);
	if (!err) {
		if (m->name)
			m->namelen = (INT)mh->msg_namelen;
		m->Control.len = (ULONG)used;
		m->dwFlags = (ULONG)flags;
	}
out:
	if (cbuf != small)
		free(cbuf);
	return err;
}

static INT ws_recvmsg(SOCKET s, LPWSAMSG lpMsg, LPDWORD lpdwNumberOfBytesRecvd,
		      LPWSAOVERLAPPED lpOverlapped,
		      LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	struct iovec small[WS_IOV_STACK], *heap = NULL;
	struct ws_call c;
	struct msghdr mh;
	uint64_t ino = 0;
	size_t cap;
	ssize_t r;
	DWORD n = 0;
	int err, udp, user_mark;

	if (lpOverlapped || lpCompletionRoutine)
		return crd_ws_no_overlapped();
	ws_begin(&c, lpdwNumberOfBytesRecvd, NULL, NULL);
	err = ws_socket_ino(s, &ino);
	if (!err)
		err = c.fault;
	if (!err && !lpMsg)
		err = WSAEFAULT;
	if (!err)
		err = crd_ws_msghdr(lpMsg, &mh, small, &heap);
	if (!err && (udp = ws_udp_setup(s, ino, &user_mark)))
		err = ws_recv_udp(s, ino, udp, user_mark, lpMsg, &mh, &n);
	else if (!err) {
		cap = lpMsg->Control.len;
		mh.msg_control = cap ? lpMsg->Control.buf : NULL;
		mh.msg_controllen = cap;
		r = recvmsg(s, &mh, (int)lpMsg->dwFlags);
		if (r < 0) {
			err = crd_ws_from_errno(errno);
		} else {
			n = (DWORD)r;
			if (lpMsg->name)
				lpMsg->namelen = (INT)mh.msg_namelen;
			lpMsg->Control.len = (ULONG)mh.msg_controllen;
			lpMsg->dwFlags = (ULONG)mh.msg_flags;
		}
	}
	free(heap);
	return ws_end(&c, err, n);
}
