/*
 * syn.c: counting connection attempts to the fault port from outside the
 * TCP stack, so that attempts the kernel refuses (nothing listens) or
 * drops (a full accept queue) are counted too.  A packet socket on the
 * loopback interface gets the SYNs to the port (a classic BPF filter picks
 * them, IPv4 without options, as loopback has them); a SYN from a source
 * port seen in the last SYN_SAME_MS is a retransmission of the same
 * attempt.  Needs CAP_NET_RAW: without it syn_open returns NULL and
 * attempts are not counted.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"
#include "faultsrv.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define IP_HLEN 20	/* the filter takes IPv4 headers without options only */

struct syn_counter {
	int fd;
	struct event *ev;
	unsigned int port;
	long long count;
	unsigned int ignored;		/* a source port that is not counted (the filler) */
	struct {
		uint16_t sport;
		int64_t mono_ms;
	} ring[SYN_RING];
	size_t next;
};

/* Whether sport sent a SYN recently (a retransmission); remembers it. */
static bool
syn_seen(struct syn_counter *s, uint16_t sport, int64_t now)
{
	for (size_t i = 0; i < SYN_RING; i++)
		if (s->ring[i].sport == sport && s->ring[i].mono_ms > 0 &&
		    now - s->ring[i].mono_ms < SYN_SAME_MS)
			return true;
	s->ring[s->next].sport = sport;
	s->ring[s->next].mono_ms = now;
	s->next = (s->next + 1) % SYN_RING;
	return false;
}

static void
syn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct syn_counter *s = arg;
	unsigned char pkt[IP_HLEN + 20];
	struct sockaddr_ll from;
	socklen_t fromlen;
	ssize_t n;

	for (;;) {
		uint16_t sport, dport;

		fromlen = sizeof(from);
		n = recvfrom(fd, pkt, sizeof(pkt), MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			break;
		/* Checked again here: the filter may have let earlier packets by. */
		if (from.sll_pkttype == PACKET_OUTGOING || n < (ssize_t)sizeof(pkt) ||
		    pkt[0] != 0x45 || pkt[9] != IPPROTO_TCP)
			continue;
		memcpy(&sport, pkt + IP_HLEN, 2);
		memcpy(&dport, pkt + IP_HLEN + 2, 2);
		if (ntohs(dport) != s->port || (pkt[IP_HLEN + 13] & 0x12) != 0x02 ||
		    ntohs(sport) == s->ignored)
			continue;
		if (!syn_seen(s, ntohs(sport), timeutil_mono_ms()))
			s->count++;
	}
}

struct syn_counter *
syn_open(struct event_base *base, unsigned int port)
{
	/* IPv4, no options, TCP, to port, SYN without ACK. */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_NET_OFF + 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x45, 0, 8),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_NET_OFF + 9),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 6),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, (uint32_t)SKF_NET_OFF + IP_HLEN + 2),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 4),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_NET_OFF + IP_HLEN + 13),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = (unsigned short)ELEMENTSOF(code), .filter = code };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	struct syn_counter *s;
	int fd, one = 1;

	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (fd < 0) {
		log_info("connection attempts are not counted: packet socket: %s", strerror(errno));
		return NULL;
	}
	sll.sll_ifindex = (int)if_nametoindex("lo");
	(void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (sll.sll_ifindex == 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		log_info("connection attempts are not counted: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->port = port;
	s->ev = event_new(base, fd, EV_READ | EV_PERSIST, syn_read_cb, s);
	if (s->ev == NULL || event_add(s->ev, NULL) < 0)
		log_fatal("out of memory");
	return s;
}

void
syn_ignore(struct syn_counter *s, unsigned int sport)
{
	if (s != NULL)
		s->ignored = sport;
}

/* Distinct attempts since the last reset; -1 when not counted. */
long long
syn_count(const struct syn_counter *s)
{
	return s != NULL ? s->count : -1;
}

void
syn_reset(struct syn_counter *s)
{
	if (s != NULL)
		s->count = 0;
}

void
syn_free(struct syn_counter *s)
{
	if (s == NULL)
		return;
	event_free(s->ev);
	close(s->fd);
	free(s);
}
