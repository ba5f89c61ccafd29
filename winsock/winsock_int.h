/* SPDX-License-Identifier: MIT */
/*
 * winsock_int.h - the contract between the files of libconnredir-winsock,
 * and the hooks its unit tests and fuzz target call (static link). Not
 * installed: nothing here is API, and no symbol here is exported from
 * libconnredir-winsock.so.
 *
 * The files, one concern each:
 *   error.c    errno <-> Winsock errors, the last error, native errors
 *   call.c     one call's bookkeeping: checked copies of caller memory,
 *              the socket checks, the count and the overlapped structure
 *   event.c    WSAEVENTs (the event table)
 *   socket.c   sockets, data calls, select, socket options, closesocket
 *   ioctl.c    WSAIoctl, WSAGetOverlappedResult
 *   redirect.c the records and the context, between Winsock's buffers and
 *              the native API (libconnredir)
 *   cmsg.c     the control-message codec (WSAMSG, WSACMSGHDR lists)
 *   msg.c      WSASendMsg, WSARecvMsg
 *   flows.c    what WSARecvMsg remembers per UDP socket (the socket table)
 *
 * Global state: the event table (event.c), the socket table (flows.c) and
 * whether the kernel copies caller memory (call.c); each has a reset below,
 * crd_ws_reset() resets all of them. Each thread's last error (error.c) is
 * the thread's own: WSASetLastError(0) clears it.
 */
#ifndef CONNREDIR_WINSOCK_INT_H
#define CONNREDIR_WINSOCK_INT_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <connredir/winsock.h>

#define CRD_WS_IOV_STACK 8         /* WSABUFs converted without allocating */
#define CRD_WS_CONTROL_MAX 65536   /* more control data than any sendmsg takes */
#define CRD_WS_SOCKETS 64          /* sockets WSARecvMsg remembers flows of */
#define CRD_WS_FLOWS 256           /* flows remembered per socket */

/* ---- error.c ---------------------------------------------------------------- */

/* The Winsock error for errno @e (0 for 0; WSASYSCALLFAILURE if none). */
int crd_ws_from_errno(int e);

/* Set this thread's last error to @w (and errno to the nearest value). */
void crd_ws_set_last(int w);

/*
 * The Winsock error for native result @r (a -errno from libconnredir) of
 * control code @code: always one of Winsock's documented errors.
 */
int crd_ws_native_error(int r, DWORD code);

/* ---- call.c ----------------------------------------------------------------- */

/*
 * Copy @n bytes between our buffer and caller memory (@to_caller: from
 * @src to the caller's @dst; else from the caller's @src) through the
 * kernel: an address the process cannot use gives WSAEFAULT, not a crash.
 * Returns 0 or a Winsock error.
 */
int crd_ws_copy(void *dst, const void *src, size_t n, int to_caller);

/* Write DWORD @v to caller memory @p: 0 or WSAEFAULT. */
int crd_ws_put_dword(LPDWORD p, DWORD v);

/* Forget that the kernel refused to copy (tests). */
void crd_ws_copy_reset(void);

/* One Winsock call's bookkeeping: where its results go. */
struct crd_ws_call {
	LPDWORD bytes;                        /* the caller's count, or NULL */
	LPWSAOVERLAPPED ov;                   /* NULL: not overlapped (or not usable) */
	LPWSAOVERLAPPED_COMPLETION_ROUTINE fn;
	WSAEVENT event;                       /* ov->hEvent, read at the start */
	int fault;                            /* WSAEFAULT: a bookkeeping pointer is bad */
	int saved_errno;                      /* restored on success */
};

/*
 * Start a call: check the count @bytes and the overlapped structure @ov
 * before anything has effects (a bad one sets @c->fault), and mark @ov
 * pending as Windows does.
 */
void crd_ws_call_begin(struct crd_ws_call *c, LPDWORD bytes, LPWSAOVERLAPPED ov,
		       LPWSAOVERLAPPED_COMPLETION_ROUTINE fn);

/*
 * Finish call @c that completed with @err (0 or a Winsock error) and @n
 * bytes: the count, the overlapped structure (event or routine), the last
 * error. Returns 0 or SOCKET_ERROR.
 */
int crd_ws_call_end(struct crd_ws_call *c, int err, DWORD n);

/* Fail a data call given a WSAOVERLAPPED or routine: WSAEOPNOTSUPP. */
int crd_ws_no_overlapped(void);

/* 0 if @s is a socket (its inode number in *@ino if not NULL), else WSAENOTSOCK. */
int crd_ws_socket_ino(SOCKET s, uint64_t *ino);

/* 0 if @s is a socket, else WSAENOTSOCK. */
int crd_ws_socket(SOCKET s);

/* The SOL_SOCKET option @opt of @s in *@v: 0 or a Winsock error. */
int crd_ws_sockopt_int(SOCKET s, int opt, int *v);

/* ---- event.c ---------------------------------------------------------------- */

/* Signal event @h if it is live (an overlapped call completed); errno kept. */
void crd_ws_event_signal(WSAEVENT h);

/* Close every event and free the table: every handle is stale after (tests). */
void crd_ws_events_reset(void);

/* ---- redirect.c ------------------------------------------------------------- */

/*
 * SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS or _CONTEXT (@code) on @s into
 * the caller's @out (@cb_out bytes), under the buffer rules of winsock.h;
 * *@n the size reported. Returns 0 or a Winsock error.
 */
int crd_ws_query(SOCKET s, DWORD code, void *out, DWORD cb_out, DWORD *n);

/* SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS on @s: 0 or a Winsock error. */
int crd_ws_set_records(SOCKET s, const void *in, DWORD cb_in, DWORD cb_out);

/*
 * UDP, outward: the records of an IP(V6)_WFP_REDIRECT_RECORDS message
 * (@len bytes at @blob) set on datagram socket @s before the datagram
 * goes. Returns 0 or a Winsock error (the send then fails).
 */
int crd_ws_send_records(SOCKET s, const void *blob, size_t len);

/*
 * UDP, inward: on the first datagram of flow @handle on @s (inode @ino, of
 * @family), the records and context messages appended to the list of *@len
 * bytes at @buf (@cap bytes of room). Without @remember (MSG_PEEK) the flow
 * stays new. Returns MSG_CTRUNC if they do not fit, else 0.
 */
int crd_ws_recv_records(SOCKET s, uint64_t ino, int family, uint32_t handle,
			int remember, unsigned char *buf, size_t *len, size_t cap);

/* ---- cmsg.c ----------------------------------------------------------------- */

/*
 * The data part of WSAMSG @m as a msghdr (no control): name and the WSABUF
 * array as iovecs in @small (CRD_WS_IOV_STACK) or, beyond, in *@heap (the
 * caller frees it). Returns 0 or a Winsock error.
 */
int crd_ws_msghdr(const WSAMSG *m, struct msghdr *mh, struct iovec *small,
		  struct iovec **heap);

/* Whether control message header @h is the WFP message @type (IPv4 or IPv6). */
int crd_ws_cmsg_is_wfp(const WSACMSGHDR *h, int type);

/*
 * Remove every message of @level/@type from the list of @len bytes at @buf
 * (a list the kernel wrote), moving the rest down; a malformed tail is cut
 * off. Returns the new length.
 */
size_t crd_ws_cmsg_strip(void *buf, size_t len, int level, int type);

/*
 * Cut the list of *@len bytes at @buf to its whole messages that fit in
 * @cap bytes. Returns 1 if a message was cut off (MSG_CTRUNC), else 0.
 */
int crd_ws_cmsg_fit(const void *buf, size_t *len, size_t cap);

/*
 * Append message @level/@type with @n bytes of @data at offset *@len of
 * @buf (@cap bytes of room), in Windows' layout. Returns 0, or -1 with
 * nothing written if it does not fit.
 */
int crd_ws_cmsg_append(void *buf, size_t *len, size_t cap, int level, int type,
		       const void *data, size_t n);

/* ---- msg.c ------------------------------------------------------------------ */

/* WSARecvMsg (what SIO_GET_EXTENSION_FUNCTION_POINTER hands out). */
INT crd_ws_recvmsg(SOCKET s, LPWSAMSG lpMsg, LPDWORD lpdwNumberOfBytesRecvd,
		   LPWSAOVERLAPPED lpOverlapped,
		   LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

/* ---- flows.c ---------------------------------------------------------------- */

#define CRD_WS_RECORDS_OFF 1u   /* IP_WFP_REDIRECT_RECORDS turned off */
#define CRD_WS_CONTEXT_OFF 2u   /* IP_WFP_REDIRECT_CONTEXT turned off */

/*
 * The receive set-up of socket @s (inode @ino): for an IPv4/IPv6 datagram
 * socket SO_RCVMARK is turned on the first time it is seen and its family
 * returned; 0 for every other socket. *@user_mark: the caller had
 * SO_RCVMARK on (it wants SO_MARK messages).
 */
int crd_ws_udp_setup(SOCKET s, uint64_t ino, int *user_mark);

/*
 * Whether flow @handle on socket (@fd, @ino) is to get its records and
 * context now: 1 if it is new (remembered with @remember) and not both
 * messages are off, else 0. *@off: the CRD_WS_*_OFF bits of the socket.
 */
int crd_ws_flow_claim(int fd, uint64_t ino, uint32_t handle, int remember, unsigned *off);

/* Forget flow @handle on (@fd, @ino): its messages did not fit. */
void crd_ws_flow_unsee(int fd, uint64_t ino, uint32_t handle);

/*
 * The flow table on its own (tests): 1 if @handle (not 0) is new on socket
 * (@fd, @ino), remembering it if @remember, else 0.
 */
int crd_ws_flow_first(int fd, uint64_t ino, uint32_t handle, int remember);

/* Forget everything about descriptor @fd (closesocket). */
void crd_ws_flow_forget(int fd);

/* Set (@set) or read IP_WFP_REDIRECT_RECORDS / _CONTEXT (@optname) on @s. */
int crd_ws_wfp_option(SOCKET s, int optname, int set, int *on);

/* Forget every socket and flow (tests). */
void crd_ws_flows_reset(void);

/* ---- socket.c --------------------------------------------------------------- */

/*
 * Back to the state at load: no event, no socket remembered, copies through
 * the kernel tried again (tests; WSACleanup keeps the state, as Windows
 * keeps its handles until the last WSACleanup).
 */
void crd_ws_reset(void);

#endif
