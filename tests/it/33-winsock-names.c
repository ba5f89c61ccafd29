// SPDX-License-Identifier: MIT
/*
 * 33-winsock-names.c - uses every name connredir-winsock(3) lists under
 * SUPPORTED NAMES, including nothing but connredir/winsock.h. Compiled (and
 * linked, not run) as C and as C++ by 33-winsock-names.sh, which also checks
 * that each listed name occurs in the code below (comments do not count).
 */
#include <connredir/winsock.h>

static size_t total;

#define T(type) (total += sizeof(type))
#define K(value) (total += (size_t)(value))

FORCEINLINE int WSAAPI PASCAL FAR decorated(CONST char *p)
{
	return p != NULL;
}

static VOID CALLBACK routine(DWORD e, DWORD n, LPWSAOVERLAPPED ov, DWORD f)
{
	total += e + n + f + (ov != NULL);
}

static int WINAPI condition(LPWSABUF a, LPWSABUF b, LPQOS c, LPQOS d, LPWSABUF e, LPWSABUF f,
			    GROUP *g, DWORD_PTR data)
{
	return a && b && c && d && e && f && g && data ? CF_REJECT : CF_ACCEPT;
}

static void types(void)
{
	T(DWORD); T(ULONG); T(LONG); T(WORD); T(USHORT); T(BYTE); T(UCHAR); T(CHAR);
	T(INT); T(UINT); T(BOOL); T(SIZE_T); T(ULONG_PTR); T(HRESULT); T(PVOID);
	T(LPVOID); T(HANDLE); T(LPDWORD); T(LPINT); T(PUCHAR);
	T(UINT8); T(UINT16); T(UINT32); T(UINT64); T(INT8); T(INT16); T(INT32); T(INT64);
	T(ULONG64); T(ULONGLONG); T(LONGLONG); T(DWORD_PTR); T(LONG_PTR); T(INT_PTR);
	T(GROUP); T(ADDRESS_FAMILY); T(IPPROTO); T(LPCSTR); T(LPSTR);
	T(SOCKET); T(SOCKADDR); T(PSOCKADDR); T(LPSOCKADDR); T(SOCKADDR_IN); T(PSOCKADDR_IN);
	T(LPSOCKADDR_IN); T(SOCKADDR_IN6); T(PSOCKADDR_IN6); T(LPSOCKADDR_IN6);
	T(SOCKADDR_STORAGE); T(PSOCKADDR_STORAGE); T(LPSOCKADDR_STORAGE);
	T(IN_ADDR); T(PIN_ADDR); T(IN6_ADDR); T(PIN6_ADDR); T(SOCKADDR_INET); T(PSOCKADDR_INET);
	T(GUID); T(WSABUF); T(PWSABUF); T(LPWSABUF); T(WSAMSG); T(PWSAMSG); T(LPWSAMSG);
	T(WSACMSGHDR); T(PWSACMSGHDR); T(LPWSACMSGHDR); T(WSAEVENT); T(LPWSAEVENT);
	T(WSAOVERLAPPED); T(LPWSAOVERLAPPED); T(OVERLAPPED); T(LPOVERLAPPED);
	T(LPWSAOVERLAPPED_COMPLETION_ROUTINE); T(LPFN_WSARECVMSG); T(LPFN_WSASENDMSG);
	T(LPFN_ACCEPTEX); T(LPFN_CONNECTEX); T(LPFN_GETACCEPTEXSOCKADDRS); T(LPFN_DISCONNECTEX);
	T(WSADATA); T(LPWSADATA); T(WSAPROTOCOL_INFOA *); T(LPWSAPROTOCOL_INFOA);
	T(WSAPROTOCOL_INFOW *); T(LPWSAPROTOCOL_INFOW); T(QOS *); T(LPQOS); T(LPCONDITIONPROC);
	T(WSAPROTOCOL_INFO *); T(LPWSAPROTOCOL_INFO);
}

static void constants(void)
{
	GUID g[] = { WSAID_WSARECVMSG, WSAID_WSASENDMSG, WSAID_ACCEPTEX,
		     WSAID_GETACCEPTEXSOCKADDRS, WSAID_TRANSMITFILE, WSAID_CONNECTEX,
		     WSAID_DISCONNECTEX };
	char desc[WSADESCRIPTION_LEN + WSASYS_STATUS_LEN];

	K(g[0].Data1); K(sizeof(desc));
	K(TRUE); K(FALSE); K(S_OK); K(S_FALSE); K(ERROR_SUCCESS); K(NO_ERROR);
	K(INVALID_SOCKET); K(SOCKET_ERROR); K(WINSOCK_VERSION); K(SD_RECEIVE); K(SD_SEND);
	K(SD_BOTH); K(SO_ORIGINAL_DST); K(IP6T_SO_ORIGINAL_DST); K(SO_EXCLUSIVEADDRUSE);
	K(WSABASEERR); K(WSAEINTR); K(WSAEBADF); K(WSAEACCES); K(WSAEFAULT); K(WSAEINVAL);
	K(WSAEMFILE); K(WSAEWOULDBLOCK); K(WSAEINPROGRESS); K(WSAEALREADY); K(WSAENOTSOCK);
	K(WSAEDESTADDRREQ); K(WSAEMSGSIZE); K(WSAEPROTOTYPE); K(WSAENOPROTOOPT);
	K(WSAEPROTONOSUPPORT); K(WSAESOCKTNOSUPPORT); K(WSAEOPNOTSUPP); K(WSAEPFNOSUPPORT);
	K(WSAEAFNOSUPPORT); K(WSAEADDRINUSE); K(WSAEADDRNOTAVAIL); K(WSAENETDOWN);
	K(WSAENETUNREACH); K(WSAENETRESET); K(WSAECONNABORTED); K(WSAECONNRESET);
	K(WSAENOBUFS); K(WSAEISCONN); K(WSAENOTCONN); K(WSAESHUTDOWN); K(WSAETOOMANYREFS);
	K(WSAETIMEDOUT); K(WSAECONNREFUSED); K(WSAELOOP); K(WSAENAMETOOLONG); K(WSAEHOSTDOWN);
	K(WSAEHOSTUNREACH); K(WSAENOTEMPTY); K(WSAEPROCLIM); K(WSAEUSERS); K(WSAEDQUOT);
	K(WSAESTALE); K(WSAEREMOTE); K(WSASYSNOTREADY); K(WSAVERNOTSUPPORTED);
	K(WSANOTINITIALISED); K(WSAEDISCON); K(WSASYSCALLFAILURE);
	K(WSA_INVALID_HANDLE); K(WSA_NOT_ENOUGH_MEMORY); K(WSA_INVALID_PARAMETER);
	K(WSA_OPERATION_ABORTED); K(WSA_IO_INCOMPLETE); K(WSA_IO_PENDING);
	K(ERROR_INSUFFICIENT_BUFFER); K(FWP_E_NOT_FOUND);
	K(IOC_UNIX); K(IOC_WS2); K(IOC_PROTOCOL); K(IOC_VENDOR);
	K(SIO_GET_EXTENSION_FUNCTION_POINTER); K(SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS);
	K(SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT); K(SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS);
	K(IP_WFP_REDIRECT_RECORDS); K(IP_WFP_REDIRECT_CONTEXT);
	K(IPV6_WFP_REDIRECT_RECORDS); K(IPV6_WFP_REDIRECT_CONTEXT); K(MAX_NATURAL_ALIGNMENT);
	K((uintptr_t)WSA_INVALID_EVENT); K(WSA_MAXIMUM_WAIT_EVENTS); K(WSA_INFINITE);
	K(WSA_WAIT_EVENT_0); K(WSA_WAIT_IO_COMPLETION); K(WSA_WAIT_TIMEOUT); K(WSA_WAIT_FAILED);
	K(WSA_FLAG_OVERLAPPED); K(WSA_FLAG_MULTIPOINT_C_ROOT); K(WSA_FLAG_MULTIPOINT_C_LEAF);
	K(WSA_FLAG_MULTIPOINT_D_ROOT); K(WSA_FLAG_MULTIPOINT_D_LEAF);
	K(WSA_FLAG_ACCESS_SYSTEM_SECURITY); K(WSA_FLAG_NO_HANDLE_INHERIT);
	K(WSA_FLAG_REGISTERED_IO); K(CF_ACCEPT); K(CF_REJECT); K(CF_DEFER);
	K(_WSAIO(IOC_VENDOR, 1)); K(_WSAIOR(IOC_VENDOR, 2)); K(_WSAIOW(IOC_VENDOR, 3));
	K(_WSAIORW(IOC_VENDOR, 4)); K(MAKEWORD(2, 2)); K(SUCCEEDED(S_OK)); K(FAILED(S_FALSE));
}

static void functions(SOCKET s)
{
	WSADATA wd;
	SOCKADDR_STORAGE ss, ss2;
	char data[64], control[WSA_CMSG_SPACE(sizeof(DWORD))];
	WSABUF buf = { sizeof(data), data };
	WSAMSG msg;
	LPWSACMSGHDR c;
	WSAOVERLAPPED ov;
	WSAEVENT ev;
	DWORD n = 0, flags = 0, on = TRUE;
	INT len = sizeof(ss);
	socklen_t slen = sizeof(on);
	unsigned long arg = 1;
	fd_set r;
	struct timeval tv = { 0, 0 };
	GUID id = WSAID_WSARECVMSG;
	LPFN_WSARECVMSG WSARecvMsg = NULL;

	ZeroMemory(&msg, sizeof(msg));
	RtlZeroMemory(&ov, sizeof(ov));
	FillMemory(data, sizeof(data), 0);
	RtlFillMemory(control, sizeof(control), 0);
	ZeroMemory(&ss, sizeof(ss));
	CopyMemory(&ss2, &ss, sizeof(ss));
	RtlCopyMemory(&ss2, &ss, sizeof(ss));
	MoveMemory(&ss2, &ss, sizeof(ss));
	RtlMoveMemory(&ss2, &ss, sizeof(ss));
	msg.Control.buf = control;
	msg.Control.len = sizeof(control);
	c = WSA_CMSG_FIRSTHDR(&msg);
	if (c) {
		c->cmsg_len = WSA_CMSG_LEN(sizeof(DWORD));
		memcpy(WSA_CMSG_DATA(c), &on, sizeof(on));
		c = WSA_CMSG_NXTHDR(&msg, c);
	}
	K(WSA_CMSGHDR_ALIGN(3)); K(WSA_CMSGDATA_ALIGN(3)); K(c != NULL);

	K(WSAStartup(WINSOCK_VERSION, &wd));
	K(WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof(id), &WSARecvMsg,
		   sizeof(WSARecvMsg), &n, NULL, NULL));
	K(WSAGetOverlappedResult(s, &ov, &n, FALSE, &flags));
	K(WSASendMsg(s, &msg, 0, &n, NULL, NULL));
	K(WSASendMsg(s, &msg, 0, NULL, &ov, routine));
	ev = WSACreateEvent();
	K(WSASetEvent(ev)); K(WSAResetEvent(ev));
	K(WSAWaitForMultipleEvents(1, &ev, FALSE, 0, FALSE));
	K(WSACloseEvent(ev));
	s = WSASocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
	K(WSASocketA(AF_INET, SOCK_DGRAM, 0, NULL, 0, 0));
	K(WSASocketW(AF_INET6, SOCK_DGRAM, 0, NULL, 0, WSA_FLAG_NO_HANDLE_INHERIT));
	K(WSAConnect(s, (SOCKADDR *)&ss, sizeof(SOCKADDR_IN), NULL, NULL, NULL, NULL));
	K(WSAAccept(s, (SOCKADDR *)&ss, &len, condition, 0));
	K(WSASend(s, &buf, 1, &n, 0, NULL, NULL));
	K(WSASendTo(s, &buf, 1, &n, 0, (SOCKADDR *)&ss, len, NULL, NULL));
	K(WSARecv(s, &buf, 1, &n, &flags, NULL, NULL));
	K(WSARecvFrom(s, &buf, 1, &n, &flags, (SOCKADDR *)&ss, &len, NULL, NULL));
	K(ioctlsocket(s, FIONBIO, &arg));
	FD_ZERO(&r);
	FD_SET(s, &r);
	K(select(0, &r, NULL, NULL, &tv));
	K(connredir_ws_select(0, &r, NULL, NULL, &tv));
	K(setsockopt(s, IPPROTO_IP, IP_WFP_REDIRECT_RECORDS, &on, sizeof(on)));
	K(connredir_ws_setsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, &on, sizeof(on)));
	K(getsockopt(s, IPPROTO_IPV6, IPV6_WFP_REDIRECT_CONTEXT, &on, &slen));
	K(connredir_ws_getsockopt(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, &on, &slen));
	K(decorated(NULL));
	INETADDR_SETANY((SOCKADDR *)&ss);
	INETADDR_SET_PORT((SOCKADDR *)&ss, htons(53));
	K(INETADDR_PORT((const SOCKADDR *)&ss)); K(INETADDR_ISANY((SOCKADDR *)&ss));
	K(INETADDR_ADDRESS((SOCKADDR *)&ss)[0]);
	INETADDR_SETLOOPBACK((SOCKADDR *)&ss2);
	K(INETADDR_ISLOOPBACK((SOCKADDR *)&ss2));
	K(INETADDR_ISEQUAL((SOCKADDR *)&ss, (SOCKADDR *)&ss2));
	K(WSAGetLastError());
	WSASetLastError(0);
	K(closesocket(s));
	K(WSACleanup());
#ifdef __cplusplus
	/* Windows' length types, and NULL, in the calls that take a length. */
	{
		int ilen = sizeof(ss);
		unsigned long ulen = sizeof(ss), ubytes = 0, uflags = 0;
		long lbytes = 0;

		K(getsockname(s, (SOCKADDR *)&ss, &ilen));
		K(getpeername(s, (SOCKADDR *)&ss, &ulen));
		K(accept(s, (SOCKADDR *)&ss, &ilen));
		K(accept(s, NULL, NULL));
		K(accept(s, nullptr, nullptr));
		K(recvfrom(s, data, sizeof(data), 0, (SOCKADDR *)&ss, &ilen));
		K(recvfrom(s, data, sizeof(data), 0, NULL, NULL));
		K(getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&on, &ilen));
		K(getsockopt(s, SOL_SOCKET, SO_TYPE, &on, &ulen));
		K(WSAAccept(s, (SOCKADDR *)&ss, &ulen, NULL, 0));
		K(WSAIoctl(s, SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, NULL, 0, data,
			   sizeof(data), &ubytes, NULL, NULL));
		K(WSAIoctl(s, SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, NULL, 0, data,
			   sizeof(data), NULL, &ov, NULL));
		K(WSAIoctl(s, SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, NULL, 0, data,
			   sizeof(data), &lbytes, NULL, NULL));
		K(WSAGetOverlappedResult(s, &ov, &ubytes, TRUE, &uflags));
		K(WSASend(s, &buf, 1, &ubytes, 0, NULL, NULL));
		K(WSASendTo(s, &buf, 1, &ubytes, 0, (SOCKADDR *)&ss, ilen, NULL, NULL));
		K(WSARecv(s, &buf, 1, &ubytes, &uflags, NULL, NULL));
		K(WSARecvFrom(s, &buf, 1, &ubytes, &uflags, (SOCKADDR *)&ss, &ilen, NULL, NULL));
		K(WSASendMsg(s, &msg, 0, &ubytes, NULL, NULL));
	}
#endif
}

int main(int argc, char **argv)
{
	types();
	constants();
	if (argc > 1)   /* compiled and linked: the calls are not meant to run */
		functions(argc);
	return argv == NULL && total == 0;
}
