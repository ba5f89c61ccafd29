/* SPDX-License-Identifier: MIT */
/*
 * winsock.h - the Windows way to connredir: Winsock's WSAIoctl with the
 * Windows Filtering Platform's redirect control codes, and the few Winsock
 * pieces around them a redirect proxy written for Windows uses.
 *
 * A proxy written for Windows, with its Winsock includes replaced by this
 * one (and the libc socket headers), compiles and runs on Linux: it accepts
 * a redirected connection, asks for the redirect records and its context
 * with WSAIoctl(SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS / _CONTEXT), sets
 * the records on its outbound socket with SIO_SET_WFP_CONNECTION_REDIRECT_
 * RECORDS before connect(), and relays. Underneath are connredir's native
 * calls (connredir.h), so everything said there about cgroups holds here.
 *
 * Principles:
 *  - Windows names, values, layouts and rules wherever Linux has no name of
 *    its own: DWORD and ULONG are 32 bits as on Windows, WSACMSGHDR has
 *    Windows' layout, every WSA* error has Winsock's number.
 *  - Where libc already defines a name (MSG_TRUNC, IP_PKTINFO, SOL_SOCKET,
 *    struct sockaddr_in ...), the program gets libc's, and flags and
 *    control-message types pass through with their Linux values.
 *  - SOCKET is a file descriptor, so plain socket(2), connect(2), recv(2) ...
 *    are the Winsock functions of the same name, and WSAGetLastError() also
 *    reports their errno (see WSAGetLastError).
 *  - Overlapped I/O is not emulated: a data call given a WSAOVERLAPPED
 *    fails at once with WSAEOPNOTSUPP (see WSARecv); WSAIoctl, which never
 *    blocks, completes before it returns.
 *  - select(), setsockopt() and getsockopt() follow Winsock's rules (nfds
 *    ignored; the IP_WFP_REDIRECT_* options): they are macros for the
 *    connredir_ws_* functions unless CONNREDIR_WINSOCK_NO_REDIRECT is
 *    defined before this header.
 *  - In C++, int * and unsigned long * lengths are taken where Linux has
 *    socklen_t * and this header LPDWORD (see the end of this file).
 *  - <linux/netfilter_ipv4.h> (SO_ORIGINAL_DST) may come before or after.
 *
 * See connredir-winsock(3) for every rule and what differs from Windows.
 */
#ifndef CONNREDIR_WINSOCK_H
#define CONNREDIR_WINSOCK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
/*
 * <linux/in.h> (pulled in by <linux/netfilter_ipv4.h>, for SO_ORIGINAL_DST)
 * and glibc's <netinet/in.h> define the same structures: whichever comes
 * second fails to compile, unless it is the kernel's, which steps aside. So
 * when the kernel's came first, take the kernel's types and add the few
 * <netinet/in.h> names this header needs; see "INCLUDE ORDER" in
 * connredir-winsock(3).
 */
#if defined(_LINUX_IN_H) && !defined(_NETINET_IN_H)
#include <endian.h>
#include <linux/in6.h>
#ifndef htons
#define htons(x) htobe16(x)
#define ntohs(x) be16toh(x)
#define htonl(x) htobe32(x)
#define ntohl(x) be32toh(x)
#endif
#ifndef INET_ADDRSTRLEN
#define INET_ADDRSTRLEN 16
#define INET6_ADDRSTRLEN 46
#endif
#else
#include <netinet/in.h>
#endif

#include <connredir/sockopt.h>

/*
 * The original destination of a connection NAT redirected (Linux's
 * getsockopt(SOL_IP, SO_ORIGINAL_DST) / getsockopt(SOL_IPV6,
 * IP6T_SO_ORIGINAL_DST)), with the kernel headers' exact spelling, so that
 * <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h> may come
 * before or after this header. Windows' SO_ORIGINAL_DST (0x300F at
 * SOL_SOCKET) is not it: use these levels.
 */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif
#ifndef SOL_IP
#define SOL_IP 0
#endif
#ifndef SOL_IPV6
#define SOL_IPV6 41
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Windows base types (Windows sizes) ----------------------------------- */

typedef uint32_t DWORD;
typedef uint32_t ULONG;
typedef int32_t LONG;
typedef uint16_t WORD;
typedef uint16_t USHORT;
typedef uint8_t BYTE;
typedef unsigned char UCHAR;
typedef char CHAR;
typedef int INT;
typedef unsigned int UINT;
typedef int BOOL;
typedef size_t SIZE_T;
typedef uintptr_t ULONG_PTR;
typedef int32_t HRESULT;
typedef void *PVOID;
typedef void *LPVOID;
typedef void *HANDLE;
typedef DWORD *LPDWORD;
typedef INT *LPINT;
typedef UCHAR *PUCHAR;
typedef uint8_t UINT8;
typedef uint16_t UINT16;
typedef uint32_t UINT32;
typedef uint64_t UINT64;
typedef int8_t INT8;
typedef int16_t INT16;
typedef int32_t INT32;
typedef int64_t INT64;
typedef uint64_t ULONG64, ULONGLONG;
typedef int64_t LONGLONG;
typedef uintptr_t DWORD_PTR;
typedef intptr_t LONG_PTR, INT_PTR;
typedef unsigned int GROUP;        /* socket groups: always 0 here */
typedef uint16_t ADDRESS_FAMILY;   /* AF_INET, AF_INET6 (libc's values) */
typedef int IPPROTO;               /* IPPROTO_TCP, IPPROTO_UDP ... (libc's values) */
typedef const char *LPCSTR;
typedef char *LPSTR;

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif
/* Calling-convention and pointer decorations: nothing on Linux. */
#ifndef FAR
#define FAR
#endif
#ifndef PASCAL
#define PASCAL
#endif
#ifndef WSAAPI
#define WSAAPI
#endif
#ifndef CALLBACK
#define CALLBACK
#endif
#ifndef WINAPI
#define WINAPI
#endif
#ifndef CONST
#define CONST const
#endif
#ifndef VOID
#define VOID void
#endif
#ifndef FORCEINLINE
#define FORCEINLINE static inline
#endif

/* Results and memory helpers of <windows.h> that socket code uses. */
#define S_OK ((HRESULT)0)
#define S_FALSE ((HRESULT)1)
#define SUCCEEDED(hr) (((HRESULT)(hr)) >= 0)
#define FAILED(hr) (((HRESULT)(hr)) < 0)
#define ERROR_SUCCESS 0
#define ZeroMemory(dst, len) ((void)memset((dst), 0, (len)))
#define RtlZeroMemory(dst, len) ZeroMemory(dst, len)
#define CopyMemory(dst, src, len) ((void)memcpy((dst), (src), (len)))
#define RtlCopyMemory(dst, src, len) CopyMemory(dst, src, len)
#define MoveMemory(dst, src, len) ((void)memmove((dst), (src), (len)))
#define RtlMoveMemory(dst, src, len) MoveMemory(dst, src, len)
#define FillMemory(dst, len, fill) ((void)memset((dst), (fill), (len)))
#define RtlFillMemory(dst, len, fill) FillMemory(dst, len, fill)

/* A socket is a file descriptor; INVALID_SOCKET is what socket(2) fails with. */
typedef int SOCKET;
#define INVALID_SOCKET ((SOCKET)-1)
#define SOCKET_ERROR (-1)

typedef struct sockaddr SOCKADDR, *PSOCKADDR, *LPSOCKADDR;
typedef struct sockaddr_in SOCKADDR_IN, *PSOCKADDR_IN, *LPSOCKADDR_IN;
typedef struct sockaddr_in6 SOCKADDR_IN6, *PSOCKADDR_IN6, *LPSOCKADDR_IN6;
typedef struct sockaddr_storage SOCKADDR_STORAGE, *PSOCKADDR_STORAGE, *LPSOCKADDR_STORAGE;
typedef struct in_addr IN_ADDR, *PIN_ADDR;
typedef struct in6_addr IN6_ADDR, *PIN6_ADDR;

/* ws2ipdef's SOCKADDR_INET: either family, told apart by si_family. */
typedef union _SOCKADDR_INET {
	SOCKADDR_IN Ipv4;
	SOCKADDR_IN6 Ipv6;
	ADDRESS_FAMILY si_family;
} SOCKADDR_INET, *PSOCKADDR_INET;

#define WINSOCK_VERSION MAKEWORD(2, 2)

/* shutdown(2)'s how, with Windows' names (the same values as SHUT_*). */
#define SD_RECEIVE SHUT_RD
#define SD_SEND SHUT_WR
#define SD_BOTH SHUT_RDWR

/* A GUID, laid out as Windows lays it out (16 bytes). */
typedef struct _GUID {
	uint32_t Data1;
	uint16_t Data2;
	uint16_t Data3;
	uint8_t Data4[8];
} GUID;

/* ---- Errors (Winsock's numbers) -------------------------------------------- */

#define NO_ERROR 0
#define WSABASEERR 10000
#define WSAEINTR 10004           /* a call was interrupted (EINTR) */
#define WSAEBADF 10009
#define WSAEACCES 10013          /* SET by a process that may not */
#define WSAEFAULT 10014          /* a bad pointer (see WSAIoctl) */
#define WSAEINVAL 10022          /* bad code, argument or socket type */
#define WSAEMFILE 10024
#define WSAEWOULDBLOCK 10035
#define WSAEINPROGRESS 10036
#define WSAEALREADY 10037
#define WSAENOTSOCK 10038        /* not a socket */
#define WSAEDESTADDRREQ 10039
#define WSAEMSGSIZE 10040
#define WSAEPROTOTYPE 10041
#define WSAENOPROTOOPT 10042
#define WSAEPROTONOSUPPORT 10043
#define WSAESOCKTNOSUPPORT 10044
#define WSAEOPNOTSUPP 10045      /* no redirection on this socket */
#define WSAEPFNOSUPPORT 10046
#define WSAEAFNOSUPPORT 10047
#define WSAEADDRINUSE 10048
#define WSAEADDRNOTAVAIL 10049
#define WSAENETDOWN 10050
#define WSAENETUNREACH 10051
#define WSAENETRESET 10052
#define WSAECONNABORTED 10053
#define WSAECONNRESET 10054
#define WSAENOBUFS 10055
#define WSAEISCONN 10056         /* SET after connect */
#define WSAENOTCONN 10057        /* query on an unconnected socket */
#define WSAESHUTDOWN 10058
#define WSAETOOMANYREFS 10059
#define WSAETIMEDOUT 10060
#define WSAECONNREFUSED 10061
#define WSAELOOP 10062
#define WSAENAMETOOLONG 10063
#define WSAEHOSTDOWN 10064
#define WSAEHOSTUNREACH 10065
#define WSAENOTEMPTY 10066
#define WSAEPROCLIM 10067
#define WSAEUSERS 10068
#define WSAEDQUOT 10069
#define WSAESTALE 10070
#define WSAEREMOTE 10071
#define WSASYSNOTREADY 10091
#define WSAVERNOTSUPPORTED 10092
#define WSANOTINITIALISED 10093
#define WSAEDISCON 10101
#define WSASYSCALLFAILURE 10107  /* an errno with no Winsock equivalent */
#define WSA_INVALID_HANDLE 6     /* not a live WSAEVENT */
#define WSA_NOT_ENOUGH_MEMORY 8
#define WSA_INVALID_PARAMETER 87
#define WSA_OPERATION_ABORTED 995
#define WSA_IO_INCOMPLETE 996
#define WSA_IO_PENDING 997
#define ERROR_INSUFFICIENT_BUFFER 122  /* output buffer too small: size in *lpcbBytesReturned */
/*
 * WFP's "not found", for code that compares with it. The library never
 * returns it (WSAGetLastError is always a Winsock number): the condition
 * (never redirected, no context for the caller) is WSAENOPROTOOPT.
 */
#define FWP_E_NOT_FOUND ((HRESULT)0x80320008u)

/* ---- Control codes ------------------------------------------------------ */

#define IOC_UNIX 0x00000000u
#define IOC_WS2 0x08000000u
#define IOC_PROTOCOL 0x10000000u
#define IOC_VENDOR 0x18000000u
/* Windows' IOC_VOID/IOC_OUT/IOC_IN/IOC_INOUT clash with <sys/ioctl.h>: literals here. */
#define _WSAIO(x, y) (0x20000000u | (x) | (y))
#define _WSAIOR(x, y) (0x40000000u | (x) | (y))
#define _WSAIOW(x, y) (0x80000000u | (x) | (y))
#define _WSAIORW(x, y) (0xC0000000u | (x) | (y))

#define SIO_GET_EXTENSION_FUNCTION_POINTER _WSAIORW(IOC_WS2, 6)          /* 0xC8000006 */
#define SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS _WSAIOW(IOC_VENDOR, 220) /* 0x980000DC */
#define SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT _WSAIOW(IOC_VENDOR, 221) /* 0x980000DD */
#define SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS _WSAIOW(IOC_VENDOR, 222)   /* 0x980000DE */

/*
 * UDP: control-message types (levels IPPROTO_IP / IPPROTO_IPV6) that carry
 * the records and the context on a flow's first datagram. Linux uses neither
 * value as a control-message type at these levels (60 and 70 are IPv6
 * socket options there, never cmsg types), so they cannot be mistaken.
 */
#define IP_WFP_REDIRECT_RECORDS 60
#define IP_WFP_REDIRECT_CONTEXT 70
#define IPV6_WFP_REDIRECT_RECORDS 60
#define IPV6_WFP_REDIRECT_CONTEXT 70

/* ---- Buffers, messages and control messages ---------------------------- */

typedef struct _WSABUF {
	ULONG len;        /* bytes at buf */
	CHAR *buf;
} WSABUF, *PWSABUF, *LPWSABUF;

typedef struct _WSAMSG {
	LPSOCKADDR name;       /* peer address (libc's struct sockaddr) */
	INT namelen;           /* in: room at name; out: its length */
	LPWSABUF lpBuffers;    /* data buffers */
	ULONG dwBufferCount;
	WSABUF Control;        /* control messages; out: Control.len is what was used */
	ULONG dwFlags;         /* recv: in the flags, out the result flags (libc's MSG_*) */
} WSAMSG, *PWSAMSG, *LPWSAMSG;

/* A control message header, in Windows' layout (the same as Linux's cmsghdr). */
typedef struct _WSACMSGHDR {
	SIZE_T cmsg_len;       /* header and data, without the trailing padding */
	INT cmsg_level;
	INT cmsg_type;
	/* followed by UCHAR cmsg_data[] */
} WSACMSGHDR, *PWSACMSGHDR, *LPWSACMSGHDR;

#ifndef MAX_NATURAL_ALIGNMENT
#define MAX_NATURAL_ALIGNMENT sizeof(ULONG_PTR)
#endif
#define WSA_CMSGHDR_ALIGN(length) \
	(((length) + __alignof__(WSACMSGHDR) - 1) & ~(__alignof__(WSACMSGHDR) - 1))
#define WSA_CMSGDATA_ALIGN(length) \
	(((length) + MAX_NATURAL_ALIGNMENT - 1) & ~(MAX_NATURAL_ALIGNMENT - 1))

/*
 * crd_wsa_cmsg_firsthdr - what WSA_CMSG_FIRSTHDR(msg) is: the first header
 * of msg->Control, or NULL if there is no room for one. As on Windows (and
 * in glibc) the header's own cmsg_len is not checked here, so a buffer can
 * be filled in with FIRSTHDR/NXTHDR; the walk stops at the next step if it
 * is bad.
 */
static inline LPWSACMSGHDR crd_wsa_cmsg_firsthdr(const WSAMSG *msg)
{
	if (!msg->Control.buf || msg->Control.len < sizeof(WSACMSGHDR))
		return NULL;
	return (LPWSACMSGHDR)(void *)msg->Control.buf;
}

/*
 * crd_wsa_cmsg_nxthdr - what WSA_CMSG_NXTHDR(msg, cmsg) is: the header after
 * @cmsg (the first if @cmsg is NULL), or NULL at the end. Windows' macro
 * loops forever on a cmsg_len of 0 and runs off the buffer on a large one;
 * this returns NULL instead when @cmsg's cmsg_len is below the header size
 * or past the buffer, and when the next header or its cmsg_len does not fit.
 * Every header it returns (all but the first) lies wholly inside Control.
 */
static inline LPWSACMSGHDR crd_wsa_cmsg_nxthdr(const WSAMSG *msg, const WSACMSGHDR *cmsg)
{
	uintptr_t base = (uintptr_t)msg->Control.buf, at = (uintptr_t)cmsg;
	SIZE_T room, step;
	const WSACMSGHDR *next;

	if (!cmsg)
		return crd_wsa_cmsg_firsthdr(msg);
	if (!base || at < base || at - base > msg->Control.len)
		return NULL;
	room = msg->Control.len - (at - base);
	if (cmsg->cmsg_len < sizeof(WSACMSGHDR) || cmsg->cmsg_len > room)
		return NULL;
	step = WSA_CMSGHDR_ALIGN(cmsg->cmsg_len);
	if (step < cmsg->cmsg_len || step > room || room - step < sizeof(WSACMSGHDR))
		return NULL;
	next = (const WSACMSGHDR *)(const void *)((const UCHAR *)cmsg + step);
	if (next->cmsg_len > room - step)
		return NULL;
	return (LPWSACMSGHDR)(uintptr_t)next;
}

#define WSA_CMSG_FIRSTHDR(msg) crd_wsa_cmsg_firsthdr(msg)
#define WSA_CMSG_NXTHDR(msg, cmsg) crd_wsa_cmsg_nxthdr((msg), (cmsg))
/* The data of a control message (16 bytes past its header on 64-bit). */
#define WSA_CMSG_DATA(cmsg) ((PUCHAR)(cmsg) + WSA_CMSGDATA_ALIGN(sizeof(WSACMSGHDR)))
/* Room a control message with @length data bytes takes, padding included. */
#define WSA_CMSG_SPACE(length) \
	(WSA_CMSGDATA_ALIGN(sizeof(WSACMSGHDR) + WSA_CMSGHDR_ALIGN(length)))
/* The cmsg_len of a control message with @length data bytes. */
#define WSA_CMSG_LEN(length) (WSA_CMSGDATA_ALIGN(sizeof(WSACMSGHDR)) + (length))

/* ---- Events and overlapped calls ----------------------------------------- */

/*
 * An event: a small handle of ours (never a pointer to dereference), backed
 * by an eventfd(2). Events are manual-reset, as WSACreateEvent's are on
 * Windows: signalled until WSAResetEvent.
 */
typedef HANDLE WSAEVENT;
typedef WSAEVENT *LPWSAEVENT;
#define WSA_INVALID_EVENT ((WSAEVENT)NULL)
#define WSA_MAXIMUM_WAIT_EVENTS 64
#define WSA_INFINITE 0xFFFFFFFFu
#define WSA_WAIT_EVENT_0 0u
#define WSA_WAIT_IO_COMPLETION 0xC0u
#define WSA_WAIT_TIMEOUT 258u
#define WSA_WAIT_FAILED 0xFFFFFFFFu

typedef struct _WSAOVERLAPPED {
	ULONG_PTR Internal;      /* out: 0 or the Winsock error (WSA_IO_PENDING while running) */
	ULONG_PTR InternalHigh;  /* out: bytes transferred / returned */
	union {
		struct {
			DWORD Offset;
			DWORD OffsetHigh;
		};
		PVOID Pointer;
	};
	WSAEVENT hEvent;         /* signalled at completion; the caller's own if a routine is given */
} WSAOVERLAPPED, *LPWSAOVERLAPPED, OVERLAPPED, *LPOVERLAPPED;

typedef void (*LPWSAOVERLAPPED_COMPLETION_ROUTINE)(DWORD dwError, DWORD cbTransferred,
						    LPWSAOVERLAPPED lpOverlapped,
						    DWORD dwFlags);

/* ---- Extension functions --------------------------------------------------- */

typedef INT (*LPFN_WSARECVMSG)(SOCKET s, LPWSAMSG lpMsg, LPDWORD lpdwNumberOfBytesRecvd,
			       LPWSAOVERLAPPED lpOverlapped,
			       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
typedef INT (*LPFN_WSASENDMSG)(SOCKET s, LPWSAMSG lpMsg, DWORD dwFlags,
			       LPDWORD lpNumberOfBytesSent, LPWSAOVERLAPPED lpOverlapped,
			       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

/* GUID initializers for SIO_GET_EXTENSION_FUNCTION_POINTER: GUID g = WSAID_...; */
#define WSAID_WSARECVMSG \
	{ 0xf689d7c8, 0x6f1f, 0x436b, { 0x8a, 0x53, 0xe5, 0x4f, 0xe3, 0x51, 0xc3, 0x22 } }
#define WSAID_WSASENDMSG \
	{ 0xa441e712, 0x754f, 0x43ca, { 0x84, 0xa7, 0x0d, 0xee, 0x44, 0xcf, 0x60, 0x6d } }

/*
 * The overlapped-only extension functions. They are not emulated: looking
 * one up with SIO_GET_EXTENSION_FUNCTION_POINTER fails at once with
 * WSAEOPNOTSUPP (see connredir-winsock(3)). Their types and GUIDs are here
 * so that code that tries them, and falls back, compiles.
 */
typedef BOOL (*LPFN_ACCEPTEX)(SOCKET sListenSocket, SOCKET sAcceptSocket, PVOID lpOutputBuffer,
			      DWORD dwReceiveDataLength, DWORD dwLocalAddressLength,
			      DWORD dwRemoteAddressLength, LPDWORD lpdwBytesReceived,
			      LPOVERLAPPED lpOverlapped);
typedef BOOL (*LPFN_CONNECTEX)(SOCKET s, const struct sockaddr *name, int namelen,
			       PVOID lpSendBuffer, DWORD dwSendDataLength, LPDWORD lpdwBytesSent,
			       LPOVERLAPPED lpOverlapped);
typedef void (*LPFN_GETACCEPTEXSOCKADDRS)(PVOID lpOutputBuffer, DWORD dwReceiveDataLength,
					  DWORD dwLocalAddressLength, DWORD dwRemoteAddressLength,
					  struct sockaddr **LocalSockaddr, LPINT LocalSockaddrLength,
					  struct sockaddr **RemoteSockaddr, LPINT RemoteSockaddrLength);
typedef BOOL (*LPFN_DISCONNECTEX)(SOCKET s, LPOVERLAPPED lpOverlapped, DWORD dwFlags,
				  DWORD dwReserved);
#define WSAID_ACCEPTEX \
	{ 0xb5367df1, 0xcbac, 0x11cf, { 0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92 } }
#define WSAID_GETACCEPTEXSOCKADDRS \
	{ 0xb5367df2, 0xcbac, 0x11cf, { 0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92 } }
#define WSAID_TRANSMITFILE \
	{ 0xb5367df0, 0xcbac, 0x11cf, { 0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92 } }
#define WSAID_CONNECTEX \
	{ 0x25a207b9, 0xddf3, 0x4660, { 0x8e, 0xe9, 0x76, 0xe5, 0x8c, 0x74, 0x06, 0x3e } }
#define WSAID_DISCONNECTEX \
	{ 0x7fda2e11, 0x8630, 0x436f, { 0xa0, 0x31, 0xf5, 0x36, 0xa6, 0xee, 0xc1, 0x57 } }

/* ---- Start-up ------------------------------------------------------------- */

#define WSADESCRIPTION_LEN 256
#define WSASYS_STATUS_LEN 128
#define MAKEWORD(lo, hi) ((WORD)(((BYTE)(lo)) | ((WORD)((BYTE)(hi))) << 8))

typedef struct WSAData {
	WORD wVersion;
	WORD wHighVersion;
	unsigned short iMaxSockets;
	unsigned short iMaxUdpDg;
	char *lpVendorInfo;
	char szDescription[WSADESCRIPTION_LEN + 1];
	char szSystemStatus[WSASYS_STATUS_LEN + 1];
} WSADATA, *LPWSADATA;

/*
 * WSAStartup - nothing to start on Linux: fills @lpWSAData (wVersion = the
 * requested version, at most 2.2) and returns 0; WSAEFAULT if @lpWSAData is
 * NULL, WSAVERNOTSUPPORTED for a requested version below 1.0. As on Windows
 * the error is returned, not set as the last error. Optional here: nothing
 * else needs it.
 */
int WSAStartup(WORD wVersionRequested, LPWSADATA lpWSAData);

/* WSACleanup - returns 0. */
int WSACleanup(void);

/*
 * closesocket - close(2) the socket @s. Returns 0, or SOCKET_ERROR with
 * WSAENOTSOCK (and @s left open) if @s is not a socket.
 */
int closesocket(SOCKET s);

/* ---- The last error ---------------------------------------------------------- */

/*
 * WSAGetLastError - this thread's last Winsock error. Every function here
 * that fails sets it (and errno, to the nearest errno value). Because a
 * SOCKET is a file descriptor and socket(2), connect(2), recv(2) ... come
 * from libc, a failing libc call counts too: when errno has changed since
 * this library last set the error, the errno is returned in Winsock terms
 * (ECONNREFUSED as WSAECONNREFUSED, EAGAIN and EINPROGRESS as
 * WSAEWOULDBLOCK, as Windows reports a non-blocking connect, ...; an errno
 * with no Winsock equivalent as WSASYSCALLFAILURE). Call it right after the
 * call that failed, as Windows code does.
 */
int WSAGetLastError(void);

/* WSASetLastError - set this thread's last error (and errno likewise). */
void WSASetLastError(int iError);

/* ---- WSAIoctl: the redirect control codes ----------------------------------- */

/*
 * WSAIoctl - a socket I/O control: the WFP redirect codes and the extension
 * function lookup. Returns 0, or SOCKET_ERROR with the error in
 * WSAGetLastError(). *@lpcbBytesReturned (if not NULL) is set on every
 * return: the bytes written, the size needed for ERROR_INSUFFICIENT_BUFFER,
 * else 0.
 *
 * SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS (@s: the accepted socket): the
 *   records blob, opaque, at most CONNREDIR_RECORDS_MAX (1 KiB) bytes.
 * SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT (@s: the accepted socket): the
 *   calling service's context: the bytes of a struct connredir_context
 *   (original destination and source, application pid/uid/command, ...).
 *   Both queries ignore @lpvInBuffer/@cbInBuffer and follow the buffer rules:
 *   1. @cbOutBuffer == 0 or @lpvOutBuffer == NULL: a size query: fails with
 *      ERROR_INSUFFICIENT_BUFFER, *@lpcbBytesReturned = the size needed;
 *   2. 0 < @cbOutBuffer < sizeof(ULONG): WSAEINVAL, *@lpcbBytesReturned = 0;
 *   3. sizeof(ULONG) <= @cbOutBuffer < needed: ERROR_INSUFFICIENT_BUFFER,
 *      *@lpcbBytesReturned = the size needed;
 *   4. large enough: 0, *@lpcbBytesReturned = the size written (never 0).
 * SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS (@s: the new outbound socket,
 *   before connect): @lpvInBuffer/@cbInBuffer = the records blob as queried;
 *   @cbOutBuffer must be 0. Returns 0 with *@lpcbBytesReturned = 0.
 * SIO_GET_EXTENSION_FUNCTION_POINTER: @lpvInBuffer = a GUID (WSAID_WSARECVMSG
 *   or WSAID_WSASENDMSG), @lpvOutBuffer = room for the function pointer.
 *
 * Errors, the first that applies: WSAENOTSOCK (@s is not a socket);
 * WSAEFAULT (@lpcbBytesReturned NULL without @lpOverlapped, or a pointer we
 * are given is not valid memory); WSAEINVAL (unknown @dwIoControlCode);
 * WSAEOPNOTSUPP (a WFP code on a socket that is not IPv4/IPv6, e.g. Unix);
 * WSAEINVAL (a WFP code on an IP socket that is not a stream: UDP, raw);
 * then per code: queries: WSAEINVAL (rule 2), WSAENOTCONN (not connected),
 * WSAEOPNOTSUPP (no connredir on the socket's cgroup), WSAENOPROTOOPT
 * (never redirected; for the context also: no context for the caller's
 * service), ERROR_INSUFFICIENT_BUFFER (rules 1, 3), WSAEFAULT (output not
 * writable); SET: WSAEINVAL (@cbOutBuffer != 0, @cbInBuffer == 0 or > 1 KiB,
 * a listening socket), WSAEFAULT (@lpvInBuffer NULL, or not readable where
 * connredir is attached), WSAEISCONN (connected or connecting), WSAEOPNOTSUPP
 * (no connredir on the socket's cgroup), WSAEINVAL (a malformed, forged,
 * stale or replayed blob), WSAEACCES (the caller is not the proxy of the
 * service that last redirected the flow); extension lookup: WSAEFAULT
 * (@lpvInBuffer NULL, short or unreadable), WSAEOPNOTSUPP (WSAID_ACCEPTEX,
 * _CONNECTEX, _GETACCEPTEXSOCKADDRS, _DISCONNECTEX, _TRANSMITFILE: overlapped
 * I/O only, not emulated), WSAEINVAL (unknown GUID),
 * WSAEFAULT (@lpvOutBuffer NULL, short or unwritable).
 *
 * Bad pointers: every buffer the call reads or writes, *@lpcbBytesReturned
 * and *@lpOverlapped included, is accessed through the kernel
 * (process_vm_readv/writev on ourselves, or the getsockopt/setsockopt that
 * carries it), so an address outside the address space gives WSAEFAULT, not
 * a crash. @lpCompletionRoutine cannot be checked: it is called.
 *
 * Overlapped (@lpOverlapped not NULL; @lpcbBytesReturned may then be NULL):
 * the call completes before it returns. Internal = 0 or the error,
 * InternalHigh = the byte count. On success the completion routine, if
 * given, runs (dwError 0) before the call returns; without a routine, hEvent,
 * if it is a live WSAEVENT, is signalled. On failure Internal and
 * InternalHigh are set and hEvent is signalled too (when no routine is
 * given), but the routine is not called: as on Windows, a call that fails at
 * once queues no completion. With a routine, hEvent belongs to the caller
 * (Windows lets it carry the caller's context) and is left alone.
 */
int WSAIoctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer, DWORD cbInBuffer,
	     LPVOID lpvOutBuffer, DWORD cbOutBuffer, LPDWORD lpcbBytesReturned,
	     LPWSAOVERLAPPED lpOverlapped,
	     LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

/*
 * WSAGetOverlappedResult - the result of an overlapped call on @s: TRUE with
 * *@lpcbTransfer = InternalHigh if it succeeded; FALSE with the call's error
 * as the last error if it failed. *@lpdwFlags = 0. Calls complete before
 * they return, so @fWait does not matter. FALSE with WSAENOTSOCK,
 * WSAEFAULT (a NULL or bad pointer) or WSA_IO_INCOMPLETE (@lpOverlapped was
 * never completed) otherwise.
 */
BOOL WSAGetOverlappedResult(SOCKET s, LPWSAOVERLAPPED lpOverlapped, LPDWORD lpcbTransfer,
			    BOOL fWait, LPDWORD lpdwFlags);

/* ---- Messages: WSASendMsg, and WSARecvMsg through its GUID ------------------ */

/*
 * WSASendMsg - sendmsg(2) of @lpMsg with @dwFlags (libc's MSG_* values;
 * MSG_NOSIGNAL is always added: Winsock raises no SIGPIPE). The control
 * messages in lpMsg->Control pass to the kernel unchanged, except the WFP
 * ones: IP_WFP_REDIRECT_RECORDS (IPPROTO_IP or IPPROTO_IPV6) is taken out
 * and set on the socket (an IPv4/IPv6 datagram socket: else WSAEOPNOTSUPP,
 * or WSAEINVAL for TCP; 1..1024 bytes) with connredir_set_records() before
 * the send; a blob the kernel refuses fails the send with the error
 * SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS gives, nothing sent. A context
 * is never sent (WSAEINVAL). *@lpNumberOfBytesSent = the bytes sent. Returns 0, or
 * SOCKET_ERROR with: WSAENOTSOCK; WSAEFAULT (@lpMsg NULL, lpBuffers NULL
 * with a count, Control.buf NULL with a length, @lpNumberOfBytesSent NULL
 * without @lpOverlapped, or a buffer the kernel finds bad); WSAEINVAL (a
 * malformed control-message list: a cmsg_len below the header size or past
 * the buffer; more than 1024 buffers); WSAENOBUFS (Control.len over 64 KiB);
 * or sendmsg's errno in Winsock terms. Overlapped (@lpOverlapped or
 * @lpCompletionRoutine not NULL): WSAEOPNOTSUPP at once, nothing sent. A
 * blocking socket blocks the call. The WSAMSG and its WSABUF array are read
 * directly (a bad pointer there crashes); the data, name and control buffers
 * are checked by the kernel.
 */
INT WSASendMsg(SOCKET s, LPWSAMSG lpMsg, DWORD dwFlags, LPDWORD lpNumberOfBytesSent,
	       LPWSAOVERLAPPED lpOverlapped,
	       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

/*
 * WSARecvMsg (no symbol: get it with SIO_GET_EXTENSION_FUNCTION_POINTER and
 * WSAID_WSARECVMSG, as on Windows) - recvmsg(2) into @lpMsg with
 * lpMsg->dwFlags as the flags. On return lpMsg->namelen, Control.len (the
 * control bytes used) and dwFlags (MSG_TRUNC, MSG_CTRUNC, ...) are updated
 * and *@lpdwNumberOfBytesRecvd = the bytes received. Errors as WSASendMsg's,
 * and recvmsg's errno in Winsock terms (WSAEWOULDBLOCK on a non-blocking
 * socket with nothing to read: there is no pending state). Overlapped:
 * WSAEOPNOTSUPP at once, nothing received.
 * UDP (IPv4/IPv6 datagram sockets): SO_RCVMARK is turned on the first time,
 * its SO_MARK message taken out unless the caller had it on; on the first
 * datagram of each redirected flow IP(V6)_WFP_REDIRECT_RECORDS and
 * IP(V6)_WFP_REDIRECT_CONTEXT (a struct connredir_context) are appended,
 * or MSG_CTRUNC set if they do not fit (they then come again). Each can
 * be turned off (and on again) with setsockopt(IP_WFP_REDIRECT_RECORDS /
 * _CONTEXT, FALSE / TRUE) at IPPROTO_IP or IPPROTO_IPV6. "First" is
 * remembered per socket, bounded (256 flows x 64 sockets, LRU); see
 * connredir-winsock(3).
 */

/* ---- Events ---------------------------------------------------------------------- */

/*
 * WSACreateEvent - a new manual-reset event, not signalled. Returns
 * WSA_INVALID_EVENT with WSA_NOT_ENOUGH_MEMORY (65535 live events, or no
 * memory) or WSAEMFILE (no file descriptor for the eventfd).
 */
WSAEVENT WSACreateEvent(void);

/* WSACloseEvent - close @hEvent. FALSE with WSA_INVALID_HANDLE if not live. */
BOOL WSACloseEvent(WSAEVENT hEvent);

/* WSASetEvent - signal @hEvent. FALSE with WSA_INVALID_HANDLE if not live. */
BOOL WSASetEvent(WSAEVENT hEvent);

/* WSAResetEvent - unsignal @hEvent. FALSE with WSA_INVALID_HANDLE if not live. */
BOOL WSAResetEvent(WSAEVENT hEvent);

/*
 * WSAWaitForMultipleEvents - wait until one of the @cEvents events at
 * @lphEvents (all of them, with @fWaitAll) is signalled, at most @dwTimeout
 * milliseconds (WSA_INFINITE: no limit; 0: just look). Returns
 * WSA_WAIT_EVENT_0 + the index of the (lowest) signalled event
 * (WSA_WAIT_EVENT_0 with @fWaitAll), WSA_WAIT_TIMEOUT, or WSA_WAIT_FAILED
 * with WSA_INVALID_PARAMETER (@cEvents 0 or over WSA_MAXIMUM_WAIT_EVENTS,
 * @lphEvents NULL) or WSA_INVALID_HANDLE. Waiting does not reset an event.
 * @fAlertable does nothing: completion routines have already run, so
 * WSA_WAIT_IO_COMPLETION is never returned.
 */
DWORD WSAWaitForMultipleEvents(DWORD cEvents, const WSAEVENT *lphEvents, BOOL fWaitAll,
			       DWORD dwTimeout, BOOL fAlertable);

/* ---- Sockets: WSASocket, WSAConnect, WSAAccept ------------------------------ */

#define WSA_FLAG_OVERLAPPED 0x01            /* accepted: the socket works as any other */
#define WSA_FLAG_MULTIPOINT_C_ROOT 0x02     /* refused: WSAEINVAL */
#define WSA_FLAG_MULTIPOINT_C_LEAF 0x04
#define WSA_FLAG_MULTIPOINT_D_ROOT 0x08
#define WSA_FLAG_MULTIPOINT_D_LEAF 0x10
#define WSA_FLAG_ACCESS_SYSTEM_SECURITY 0x40
#define WSA_FLAG_NO_HANDLE_INHERIT 0x80     /* SOCK_CLOEXEC */
#define WSA_FLAG_REGISTERED_IO 0x100        /* refused: WSAEOPNOTSUPP */

/* Protocol descriptions and quality of service: only ever NULL here. */
typedef struct _WSAPROTOCOL_INFOA WSAPROTOCOL_INFOA, *LPWSAPROTOCOL_INFOA;
typedef struct _WSAPROTOCOL_INFOW WSAPROTOCOL_INFOW, *LPWSAPROTOCOL_INFOW;
typedef struct _QualityOfService QOS, *LPQOS;
#ifdef UNICODE
typedef WSAPROTOCOL_INFOW WSAPROTOCOL_INFO;
typedef LPWSAPROTOCOL_INFOW LPWSAPROTOCOL_INFO;
#else
typedef WSAPROTOCOL_INFOA WSAPROTOCOL_INFO;
typedef LPWSAPROTOCOL_INFOA LPWSAPROTOCOL_INFO;
#endif

#define SO_EXCLUSIVEADDRUSE ((int)(~SO_REUSEADDR))   /* Windows' value, -3 */

/*
 * WSASocketA / WSASocketW / WSASocket - socket(2) of @af, @type, @protocol
 * (libc's values). @lpProtocolInfo must be NULL and @g 0 (WSAEINVAL);
 * @dwFlags may hold WSA_FLAG_OVERLAPPED (accepted; overlapped calls still
 * fail, see WSARecv) and WSA_FLAG_NO_HANDLE_INHERIT (SOCK_CLOEXEC);
 * WSA_FLAG_REGISTERED_IO gives WSAEOPNOTSUPP, any other flag WSAEINVAL.
 * Returns the socket, or INVALID_SOCKET with the last error set.
 */
SOCKET WSASocketA(int af, int type, int protocol, LPWSAPROTOCOL_INFOA lpProtocolInfo, GROUP g,
		  DWORD dwFlags);
SOCKET WSASocketW(int af, int type, int protocol, LPWSAPROTOCOL_INFOW lpProtocolInfo, GROUP g,
		  DWORD dwFlags);
#ifdef UNICODE
#define WSASocket WSASocketW
#else
#define WSASocket WSASocketA
#endif

/*
 * WSAConnect - connect(2). Caller or callee data (a WSABUF with a length)
 * and quality of service (@lpSQOS, @lpGQOS not NULL) give WSAEOPNOTSUPP.
 * A non-blocking socket fails with WSAEWOULDBLOCK, as on Windows (and as
 * WSAGetLastError reports libc's EINPROGRESS after connect(2)). Returns 0
 * or SOCKET_ERROR.
 */
int WSAConnect(SOCKET s, const struct sockaddr *name, int namelen, LPWSABUF lpCallerData,
	       LPWSABUF lpCalleeData, LPQOS lpSQOS, LPQOS lpGQOS);

#define CF_ACCEPT 0x0000
#define CF_REJECT 0x0001
#define CF_DEFER 0x0002
typedef int (*LPCONDITIONPROC)(LPWSABUF lpCallerId, LPWSABUF lpCallerData, LPQOS lpSQOS,
			       LPQOS lpGQOS, LPWSABUF lpCalleeId, LPWSABUF lpCalleeData,
			       GROUP *g, DWORD_PTR dwCallbackData);

/*
 * WSAAccept - accept(2) into @addr / *@addrlen (an int, as on Windows). With
 * @lpfnCondition, it is called once the connection is accepted (Linux has
 * already completed the handshake): caller id = the peer's address, callee
 * id = the local one, no data, no QOS. CF_ACCEPT returns the socket;
 * CF_REJECT closes it and fails with WSAECONNREFUSED; CF_DEFER (which Linux
 * cannot do) closes it and fails with WSAEOPNOTSUPP; anything else closes
 * it and fails with WSAEINVAL. Returns the socket or INVALID_SOCKET.
 */
SOCKET WSAAccept(SOCKET s, struct sockaddr *addr, LPINT addrlen, LPCONDITIONPROC lpfnCondition,
		 DWORD_PTR dwCallbackData);

/* ---- Data: WSASend, WSASendTo, WSARecv, WSARecvFrom --------------------------- */

/*
 * Buffers are WSABUF arrays (at most 1024); flags are libc's MSG_* values.
 * Sends add MSG_NOSIGNAL (Winsock raises no SIGPIPE). *@lpNumberOfBytes*
 * gets the byte count; it must not be NULL (WSAEFAULT). Receives read the
 * flags from *@lpFlags (not NULL: WSAEFAULT) and write the result flags
 * back; a datagram cut short fails with WSAEMSGSIZE (the count is still
 * set), as on Windows. WSARecvFrom takes the peer's address into @lpFrom,
 * its length in *@lpFromlen (an int).
 *
 * Overlapped I/O is not emulated: @lpOverlapped or @lpCompletionRoutine not
 * NULL fails at once with WSAEOPNOTSUPP, and nothing is done (no I/O, the
 * WSAOVERLAPPED, its event and the routine untouched). The same holds for
 * WSASendMsg and WSARecvMsg. Returns 0 or SOCKET_ERROR.
 */
int WSASend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent,
	    DWORD dwFlags, LPWSAOVERLAPPED lpOverlapped,
	    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
int WSASendTo(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent,
	      DWORD dwFlags, const struct sockaddr *lpTo, int iTolen,
	      LPWSAOVERLAPPED lpOverlapped,
	      LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
int WSARecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd,
	    LPDWORD lpFlags, LPWSAOVERLAPPED lpOverlapped,
	    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
int WSARecvFrom(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd,
		LPDWORD lpFlags, struct sockaddr *lpFrom, LPINT lpFromlen,
		LPWSAOVERLAPPED lpOverlapped,
		LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);

/*
 * ioctlsocket - FIONBIO (*@argp != 0: non-blocking), FIONREAD (*@argp = the
 * bytes readable) and SIOCATMARK, with libc's codes; any other code gives
 * WSAEINVAL. @argp is an unsigned long (u_long is libc's, 64 bits).
 */
int ioctlsocket(SOCKET s, long cmd, unsigned long *argp);

/* ---- select, setsockopt, getsockopt with Winsock's rules ------------------------- */

/*
 * connredir_ws_select - select(2) as Winsock has it: @nfds is ignored (the
 * highest descriptor in the three sets is used), @timeout is not changed,
 * and with all three sets empty or NULL it fails with WSAEINVAL. Returns the
 * number of ready descriptors, 0 on timeout, or SOCKET_ERROR. The sets are
 * libc's fd_set: build them with FD_ZERO / FD_SET (Windows' fd_count and
 * fd_array do not exist). winsock.h makes select() this function (a
 * function-like macro); (select)(...) is still libc's.
 */
int connredir_ws_select(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds,
			struct timeval *timeout);

/*
 * connredir_ws_setsockopt - setsockopt(2) with the Winsock options libc
 * does not have: at IPPROTO_IP or IPPROTO_IPV6, IP_WFP_REDIRECT_RECORDS and
 * IP_WFP_REDIRECT_CONTEXT (a DWORD: TRUE / FALSE) turn that control message
 * of WSARecvMsg on or off for an IPv4/IPv6 datagram socket (WSAENOPROTOOPT
 * on another socket, WSAEFAULT for @optval NULL or @optlen under 4); at
 * SOL_SOCKET, SO_EXCLUSIVEADDRUSE is accepted and does nothing (Linux never
 * lets another socket take a bound address over without SO_REUSEPORT).
 * Everything else is libc's setsockopt. winsock.h makes setsockopt() this
 * function.
 */
int connredir_ws_setsockopt(int s, int level, int optname, const void *optval,
			    socklen_t optlen);

/*
 * connredir_ws_getsockopt - getsockopt(2), and for the options above: the
 * DWORD state of IP_WFP_REDIRECT_RECORDS / _CONTEXT (*@optlen = 4; under 4:
 * WSAEFAULT), and SO_EXCLUSIVEADDRUSE as FALSE. winsock.h makes getsockopt()
 * this function.
 */
int connredir_ws_getsockopt(int s, int level, int optname, void *optval, socklen_t *optlen);

#ifndef CONNREDIR_WINSOCK_NO_REDIRECT
#define select(nfds, r, w, e, t) connredir_ws_select((nfds), (r), (w), (e), (t))
#define setsockopt(s, level, name, val, len) connredir_ws_setsockopt((s), (level), (name), (val), (len))
#define getsockopt(s, level, name, val, len) connredir_ws_getsockopt((s), (level), (name), (val), (len))
#endif

/* ---- mstcpip's INETADDR helpers (IPv4 or IPv6, by sa_family) ------------------ */

/* The address bytes of @a (4 or 16 of them), as Windows' PUCHAR. */
static inline PUCHAR INETADDR_ADDRESS(const SOCKADDR *a)
{
	uintptr_t p = (uintptr_t)a;

	if (a->sa_family == AF_INET6)
		return (PUCHAR)(p + offsetof(SOCKADDR_IN6, sin6_addr));
	return (PUCHAR)(p + offsetof(SOCKADDR_IN, sin_addr));
}

/* The port of @a, in network byte order (as Windows returns it). */
static inline USHORT INETADDR_PORT(const SOCKADDR *a)
{
	if (a->sa_family == AF_INET6)
		return ((const SOCKADDR_IN6 *)(const void *)a)->sin6_port;
	return ((const SOCKADDR_IN *)(const void *)a)->sin_port;
}

static inline void INETADDR_SET_PORT(SOCKADDR *a, USHORT port)
{
	if (a->sa_family == AF_INET6)
		((SOCKADDR_IN6 *)(void *)a)->sin6_port = port;
	else
		((SOCKADDR_IN *)(void *)a)->sin_port = port;
}

static inline size_t crd_inetaddr_len(const SOCKADDR *a)
{
	return a->sa_family == AF_INET6 ? 16 : 4;
}

/* Whether @a is the unspecified address (0.0.0.0 or ::). */
static inline BOOL INETADDR_ISANY(const SOCKADDR *a)
{
	const UCHAR *p = INETADDR_ADDRESS(a);
	size_t i;

	for (i = 0; i < crd_inetaddr_len(a); i++)
		if (p[i])
			return FALSE;
	return TRUE;
}

/* Whether @a is a loopback address (127.0.0.0/8 or ::1). */
static inline BOOL INETADDR_ISLOOPBACK(const SOCKADDR *a)
{
	static const UCHAR one6[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	const UCHAR *p = INETADDR_ADDRESS(a);

	if (a->sa_family == AF_INET6)
		return memcmp(p, one6, sizeof(one6)) == 0;
	return p[0] == 127;
}

/* Whether @a and @b are the same family and address (ports not compared). */
static inline BOOL INETADDR_ISEQUAL(const SOCKADDR *a, const SOCKADDR *b)
{
	return a->sa_family == b->sa_family &&
	       memcmp(INETADDR_ADDRESS(a), INETADDR_ADDRESS(b), crd_inetaddr_len(a)) == 0;
}

/*
 * Set @a to the unspecified address of its family (AF_INET6 stays IPv6,
 * anything else becomes AF_INET), port 0, the rest zeroed.
 */
static inline void INETADDR_SETANY(SOCKADDR *a)
{
	if (a->sa_family == AF_INET6) {
		memset(a, 0, sizeof(SOCKADDR_IN6));
		a->sa_family = AF_INET6;
	} else {
		memset(a, 0, sizeof(SOCKADDR_IN));
		a->sa_family = AF_INET;
	}
}

/* Set @a to the loopback address of its family (127.0.0.1 or ::1), port 0. */
static inline void INETADDR_SETLOOPBACK(SOCKADDR *a)
{
	INETADDR_SETANY(a);
	if (a->sa_family == AF_INET6)
		((SOCKADDR_IN6 *)(void *)a)->sin6_addr.s6_addr[15] = 1;
	else
		((SOCKADDR_IN *)(void *)a)->sin_addr.s_addr = htonl(0x7f000001u);
}

#ifdef __cplusplus
}

/*
 * C++: Windows code passes int * (Winsock's optlen and namelen) or unsigned
 * long * (a DWORD on Windows) where Linux has socklen_t * and this header
 * has LPDWORD (32 bits). These templates take those, convert through a
 * 32-bit temporary and write the result back. They only match a pointer to
 * int, long or unsigned long: socklen_t * and DWORD * go to the plain
 * functions, and NULL / nullptr / 0 cannot be deduced as a pointer to any
 * type, so they too go to the plain functions, never ambiguously.
 */
namespace connredir_ws {
template <typename T> struct len_like { static const bool ok = false; };
template <> struct len_like<int> { static const bool ok = true; };
template <> struct len_like<long> { static const bool ok = true; };
template <> struct len_like<unsigned long> { static const bool ok = true; };
template <bool B, typename R> struct enable_if {};
template <typename R> struct enable_if<true, R> { typedef R type; };

/* A 32-bit copy of *p for the call, written back when it ends. */
template <typename T, typename U> struct in_out {
	T *p;
	U v;
	explicit in_out(T *q) : p(q), v(q ? (U)*q : (U)0) {}
	~in_out() { if (p) *p = (T)v; }
	U *get() { return p ? &v : (U *)0; }
};
} /* namespace connredir_ws */

#define CRD_WS_LEN(T, R) typename connredir_ws::enable_if<connredir_ws::len_like<T>::ok, R>::type

template <typename T>
inline CRD_WS_LEN(T, int) connredir_ws_getsockopt(int s, int level, int name, void *val, T *len)
{
	connredir_ws::in_out<T, socklen_t> n(len);
	return connredir_ws_getsockopt(s, level, name, val, n.get());
}

template <typename T>
inline CRD_WS_LEN(T, int) getsockname(int s, struct sockaddr *addr, T *len)
{
	connredir_ws::in_out<T, socklen_t> n(len);
	return ::getsockname(s, addr, n.get());
}

template <typename T>
inline CRD_WS_LEN(T, int) getpeername(int s, struct sockaddr *addr, T *len)
{
	connredir_ws::in_out<T, socklen_t> n(len);
	return ::getpeername(s, addr, n.get());
}

template <typename T>
inline CRD_WS_LEN(T, int) accept(int s, struct sockaddr *addr, T *len)
{
	connredir_ws::in_out<T, socklen_t> n(len);
	return ::accept(s, addr, n.get());
}

template <typename T>
inline CRD_WS_LEN(T, ssize_t) recvfrom(int s, void *buf, size_t size, int flags,
				       struct sockaddr *addr, T *len)
{
	connredir_ws::in_out<T, socklen_t> n(len);
	return ::recvfrom(s, buf, size, flags, addr, n.get());
}

template <typename T>
inline CRD_WS_LEN(T, SOCKET) WSAAccept(SOCKET s, struct sockaddr *addr, T *len,
				       LPCONDITIONPROC fn, DWORD_PTR data)
{
	connredir_ws::in_out<T, INT> n(len);
	return ::WSAAccept(s, addr, n.get(), fn, data);
}

template <typename T>
inline CRD_WS_LEN(T, int) WSAIoctl(SOCKET s, DWORD code, LPVOID in, DWORD cb_in, LPVOID out,
				   DWORD cb_out, T *bytes, LPWSAOVERLAPPED ov,
				   LPWSAOVERLAPPED_COMPLETION_ROUTINE fn)
{
	connredir_ws::in_out<T, DWORD> n(bytes);
	return ::WSAIoctl(s, code, in, cb_in, out, cb_out, n.get(), ov, fn);
}

template <typename T>
inline CRD_WS_LEN(T, BOOL) WSAGetOverlappedResult(SOCKET s, LPWSAOVERLAPPED ov, T *bytes,
						  BOOL wait, T *flags)
{
	connredir_ws::in_out<T, DWORD> n(bytes), f(flags);
	return ::WSAGetOverlappedResult(s, ov, n.get(), wait, f.get());
}

template <typename T>
inline CRD_WS_LEN(T, int) WSASend(SOCKET s, LPWSABUF bufs, DWORD count, T *bytes, DWORD flags,
				  LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE fn)
{
	connredir_ws::in_out<T, DWORD> n(bytes);
	return ::WSASend(s, bufs, count, n.get(), flags, ov, fn);
}

template <typename T>
inline CRD_WS_LEN(T, int) WSASendTo(SOCKET s, LPWSABUF bufs, DWORD count, T *bytes, DWORD flags,
				    const struct sockaddr *to, int tolen, LPWSAOVERLAPPED ov,
				    LPWSAOVERLAPPED_COMPLETION_ROUTINE fn)
{
	connredir_ws::in_out<T, DWORD> n(bytes);
	return ::WSASendTo(s, bufs, count, n.get(), flags, to, tolen, ov, fn);
}

template <typename T>
inline CRD_WS_LEN(T, int) WSARecv(SOCKET s, LPWSABUF bufs, DWORD count, T *bytes, T *flags,
				  LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE fn)
{
	connredir_ws::in_out<T, DWORD> n(bytes), f(flags);
	return ::WSARecv(s, bufs, count, n.get(), f.get(), ov, fn);
}

template <typename T>
inline CRD_WS_LEN(T, int) WSARecvFrom(SOCKET s, LPWSABUF bufs, DWORD count, T *bytes, T *flags,
				      struct sockaddr *from, LPINT fromlen, LPWSAOVERLAPPED ov,
				      LPWSAOVERLAPPED_COMPLETION_ROUTINE fn)
{
	connredir_ws::in_out<T, DWORD> n(bytes), f(flags);
	return ::WSARecvFrom(s, bufs, count, n.get(), f.get(), from, fromlen, ov, fn);
}

template <typename T>
inline CRD_WS_LEN(T, INT) WSASendMsg(SOCKET s, LPWSAMSG msg, DWORD flags, T *bytes,
				     LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE fn)
{
	connredir_ws::in_out<T, DWORD> n(bytes);
	return ::WSASendMsg(s, msg, flags, n.get(), ov, fn);
}

#undef CRD_WS_LEN
#endif /* __cplusplus */
#endif /* CONNREDIR_WINSOCK_H */
