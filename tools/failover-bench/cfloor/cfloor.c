/*
 * cfloor is failover-bench's physical floor for the load table: the least
 * any program pays this machine's kernel for the load lab's adverts. It is
 * the shape of a single-threaded C daemon with nothing else to do: one
 * thread, one raw IP protocol 112 socket bound to the interface and joined
 * to 224.0.0.18, a blocking epoll_wait(2) and, woken, non-blocking
 * recvmmsg(2) until nothing is queued. No runtime, no checks, no state.
 * As the sender it writes one advert per VRID every interval on an
 * absolute CLOCK_MONOTONIC schedule.
 *
 *   cfloor -role send -n 50 -interval 100ms -iface eth0
 *   cfloor -role recv -iface eth0
 *
 * The arguments are the bare Go program's, so that the benchmark starts
 * either the same way; -interval takes a number followed by "ms" or "s"
 * (Go's spelling of the lab's intervals). Built by failover-bench with the
 * system's C compiler.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 8
#define MAXLEN 1500

static int fail(const char *what)
{
	fprintf(stderr, "cfloor: %s: %s\n", what, strerror(errno));
	return 1;
}

/* csum is the Internet checksum of the VRRP message with its IPv4
 * pseudo-header (RFC 5798 section 5.2.8). */
static uint16_t csum(const uint8_t *msg, size_t len, const uint8_t src[4], const uint8_t dst[4])
{
	uint32_t sum = 0;
	size_t i;
	sum += (src[0] << 8 | src[1]) + (src[2] << 8 | src[3]);
	sum += (dst[0] << 8 | dst[1]) + (dst[2] << 8 | dst[3]);
	sum += 112 + len;
	for (i = 0; i + 1 < len; i += 2)
		sum += msg[i] << 8 | msg[i + 1];
	if (len & 1)
		sum += msg[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static int send_loop(int fd, int n, long interval_ms, const char *iface)
{
	struct sockaddr_in dst = {.sin_family = AF_INET};
	struct ip_mreqn mr = {0};
	struct sockaddr_in self;
	socklen_t selflen = sizeof self;
	struct timespec next;
	uint8_t msgs[255][12];
	int ttl = 255, loop = 0, i;

	dst.sin_addr.s_addr = htonl(0xe0000012);
	mr.imr_ifindex = (int)if_nametoindex(iface);
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr))
		return fail("multicast options");
	/* The source address the kernel picks: connect a throwaway UDP
	 * socket to the group on the interface and ask. */
	{
		int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in g = dst;
		g.sin_port = htons(9);
		if (u < 0 || setsockopt(u, SOL_SOCKET, SO_BINDTODEVICE, iface, strlen(iface)) ||
		    connect(u, (struct sockaddr *)&g, sizeof g) ||
		    getsockname(u, (struct sockaddr *)&self, &selflen))
			return fail("source address");
		close(u);
	}
	for (i = 0; i < n; i++) {
		uint8_t *m = msgs[i];
		uint16_t c;
		m[0] = 0x31; /* version 3, advertisement */
		m[1] = (uint8_t)(i + 1);
		m[2] = 200; /* priority */
		m[3] = 1;   /* one address */
		m[4] = (uint8_t)((interval_ms / 10) >> 8 & 0x0f);
		m[5] = (uint8_t)(interval_ms / 10);
		m[6] = m[7] = 0;
		m[8] = 192, m[9] = 0, m[10] = 2, m[11] = (uint8_t)(150 + i % 100);
		c = csum(m, 12, (uint8_t *)&self.sin_addr.s_addr, (uint8_t *)&dst.sin_addr.s_addr);
		m[6] = c >> 8, m[7] = c & 0xff;
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		next.tv_nsec += interval_ms * 1000000L;
		while (next.tv_nsec >= 1000000000L)
			next.tv_nsec -= 1000000000L, next.tv_sec++;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		for (i = 0; i < n; i++)
			if (sendto(fd, msgs[i], sizeof msgs[i], 0, (struct sockaddr *)&dst, sizeof dst) < 0)
				return fail("sendto");
	}
}

static int recv_loop(int fd)
{
	static char bufs[BATCH][MAXLEN];
	struct mmsghdr h[BATCH];
	struct iovec iov[BATCH];
	struct epoll_event ev = {.events = EPOLLIN}, evs[4];
	unsigned long count = 0;
	int ep, i, k;

	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = fd;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		return fail("epoll");
	memset(h, 0, sizeof h);
	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = MAXLEN;
		h[i].msg_hdr.msg_iov = &iov[i];
		h[i].msg_hdr.msg_iovlen = 1;
	}
	for (;;) {
		if (epoll_wait(ep, evs, 4, -1) < 0 && errno != EINTR)
			return fail("epoll_wait");
		while ((k = recvmmsg(fd, h, BATCH, MSG_DONTWAIT, NULL)) > 0)
			for (i = 0; i < k; i++) {
				/* An advert: IPv4 header, then version 3. */
				const unsigned char *b = (const unsigned char *)bufs[i];
				unsigned ihl = (b[0] & 0x0f) * 4;
				if (h[i].msg_len > ihl && b[ihl] >> 4 == 3)
					count++;
			}
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			return fail("recvmmsg");
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *role = "", *iface = "eth0";
	long interval_ms = 100;
	int n = 50, fd, i;
	struct ip_mreqn mr = {0};

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-role"))
			role = argv[i + 1];
		else if (!strcmp(argv[i], "-n"))
			n = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-interval")) {
			char *unit;
			double v = strtod(argv[i + 1], &unit);
			interval_ms = (long)(!strcmp(unit, "s") ? v * 1000 : !strcmp(unit, "ms") ? v : -1);
		}
		else if (!strcmp(argv[i], "-iface"))
			iface = argv[i + 1];
		else {
			fprintf(stderr, "cfloor: unknown flag %s\n", argv[i]);
			return 2;
		}
	}
	if (n < 1 || n > 255 || interval_ms < 10 || interval_ms > 40950) {
		fprintf(stderr, "cfloor: -n %d -interval %ldms: out of range\n", n, interval_ms);
		return 2;
	}
	fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 112);
	if (fd < 0)
		return fail("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, iface, strlen(iface)))
		return fail("SO_BINDTODEVICE");
	mr.imr_multiaddr.s_addr = htonl(0xe0000012);
	mr.imr_ifindex = (int)if_nametoindex(iface);
	if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr))
		return fail("IP_ADD_MEMBERSHIP");
	if (!strcmp(role, "send")) {
		/* A sender that may wait for room, as a daemon's would. */
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK))
			return fail("fcntl");
		return send_loop(fd, n, interval_ms, iface);
	}
	if (!strcmp(role, "recv"))
		return recv_loop(fd);
	fprintf(stderr, "cfloor: -role %s: want send or recv\n", role);
	return 2;
}
