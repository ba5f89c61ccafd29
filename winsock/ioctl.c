// SPDX-License-Identifier: MIT
/*
 * ioctl.c - WSAIoctl: the WFP redirect control codes (answered by
 * redirect.c) and SIO_GET_EXTENSION_FUNCTION_POINTER (WSARecvMsg,
 * WSASendMsg); and WSAGetOverlappedResult for the calls that completed
 * with an overlapped structure.
 */
#include <errno.h>
#include <string.h>

#define CONNREDIR_WINSOCK_NO_REDIRECT /* libc's select/setsockopt/getsockopt here */
#include "crd_export.h"
#include "winsock_int.h"

/*
 * SIO_GET_EXTENSION_FUNCTION_POINTER: WSARecvMsg or WSASendMsg for the GUID
 * at @in; the overlapped-only extensions are WSAEOPNOTSUPP, others WSAEINVAL.
 */
static int ws_extension(const void *in, DWORD cb_in, void *out, DWORD cb_out, DWORD *n)
{
	static const GUID recvmsg_id = WSAID_WSARECVMSG, sendmsg_id = WSAID_WSASENDMSG;
	static const GUID overlapped_only[] = { WSAID_ACCEPTEX, WSAID_CONNECTEX,
		WSAID_GETACCEPTEXSOCKADDRS, WSAID_DISCONNECTEX, WSAID_TRANSMITFILE };
	LPFN_WSARECVMSG recv_fn = crd_ws_recvmsg;
	size_t i;
	LPFN_WSASENDMSG send_fn = WSASendMsg;
	GUID id;
	int err;

	_Static_assert(sizeof(recv_fn) == sizeof(send_fn), "one pointer size");
	if (!in || cb_in < sizeof(id) || crd_ws_copy(&id, in, sizeof(id), 0))
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
		err = crd_ws_copy(out, &recv_fn, sizeof(recv_fn), 1);
	else
		err = crd_ws_copy(out, &send_fn, sizeof(send_fn), 1);
	if (!err)
		*n = sizeof(recv_fn);
	return err;
}

CRD_EXPORT int WSAIoctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer, DWORD cbInBuffer,
			LPVOID lpvOutBuffer, DWORD cbOutBuffer, LPDWORD lpcbBytesReturned,
			LPWSAOVERLAPPED lpOverlapped,
			LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	struct crd_ws_call c;
	DWORD n = 0;
	int err;

	crd_ws_call_begin(&c, lpcbBytesReturned, lpOverlapped, lpCompletionRoutine);
	err = crd_ws_socket(s);
	if (!err)
		err = c.fault;
	if (err)
		return crd_ws_call_end(&c, err, 0);
	switch (dwIoControlCode) {
	case SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS:
	case SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT:
		err = crd_ws_query(s, dwIoControlCode, lpvOutBuffer, cbOutBuffer, &n);
		break;
	case SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS:
		err = crd_ws_set_records(s, lpvInBuffer, cbInBuffer, cbOutBuffer);
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
	return crd_ws_call_end(&c, err, n);
}

CRD_EXPORT BOOL WSAGetOverlappedResult(SOCKET s, LPWSAOVERLAPPED lpOverlapped,
				       LPDWORD lpcbTransfer, BOOL fWait, LPDWORD lpdwFlags)
{
	WSAOVERLAPPED o;
	int err = crd_ws_socket(s), saved = errno;

	if (!err && (!lpOverlapped || !lpcbTransfer || !lpdwFlags ||
		     crd_ws_copy(&o, lpOverlapped, sizeof(o), 0)))
		err = WSAEFAULT;
	if (!err && o.Internal == WSA_IO_PENDING)
		err = WSA_IO_INCOMPLETE;
	if (!err && (crd_ws_put_dword(lpcbTransfer, (DWORD)o.InternalHigh) ||
		     crd_ws_put_dword(lpdwFlags, 0)))
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
