// SPDX-License-Identifier: MIT
/*
 * error.c - Winsock's errors on Linux: errno <-> Winsock error both ways,
 * each thread's last error (WSAGetLastError, WSASetLastError), and what a
 * -errno of the native API (libconnredir) is for a WFP control code.
 */
#include <errno.h>

#define CONNREDIR_WINSOCK_NO_REDIRECT /* libc's select/setsockopt/getsockopt here */
#include "crd_export.h"
#include "winsock_int.h"

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

/* ---- Native errors ----------------------------------------------------------- */

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
