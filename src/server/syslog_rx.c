/*
 * syslog_rx.c - the syslog receivers (syslog_rx.h): UDP, TCP and TLS listeners on a thread of
 * their own, message framing, batching into the ingest queue, back-pressure and drop counting.
 *
 * Thread: everything below runs on the receiver thread (its own event base) except start,
 * stop (which activates stop_ev and joins) and the metrics (atomics).
 *
 * TCP framing state of a connection (RFC 6587): UNKNOWN until its first byte; a digit means
 * OCTET ("LEN SP MSG", LEN at most 10 digits), anything else LF (messages end with '\n', a
 * trailing '\r' is dropped). An oversize message is skipped: OCTET discards LEN bytes, LF
 * discards up to the next '\n'; either way the connection stays usable. A malformed octet
 * count closes the connection (counted, reason framing).
 *
 * Back-pressure: a message is taken out of a connection's input buffer only when the
 * listener's pending batch has room; when the batch is full and the ingest queue refuses it,
 * every stream connection stops reading (paused) and a retry timer tries again every
 * RETRY_MS; once the batch is queued the connections are resumed and their buffered input is
 * processed.
 */
#include "syslog_rx.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "common/log.h"
#include "common/vtime.h"
#include "server_int.h"
#include "sources.h"

#define RETRY_MS 50
#define UDP_BURST 256                   /* datagrams read per wakeup */
#define BATCH_MAX_BYTES (32u << 20)     /* bytes of one pending batch */
#define IDLE_TIMEOUT_S 3600             /* a stream connection silent this long is closed */
#define OCTET_DIGITS_MAX 10

enum rx_kind { RX_UDP, RX_TCP, RX_TLS, RX__COUNT };
static const char *const kind_names[RX__COUNT] = {"udp", "tcp", "tls"};

enum drop_reason { DR_OVERSIZE, DR_QUEUE_FULL, DR_CONNECTIONS, DR_FRAMING, DR_SHUTDOWN, DR__COUNT };
static const char *const drop_names[DR__COUNT] = {"oversize", "queue_full", "connections",
						   "framing", "shutdown"};

enum framing { FR_UNKNOWN, FR_LF, FR_OCTET };

struct conn {
	struct vig_syslog_rx *rx;
	struct listener *lis;
	struct bufferevent *bev;
	char peer[64];            /* sender address */
	enum framing framing;
	bool skip_line;           /* LF: discarding the rest of an oversize line */
	bool eof;                 /* the peer closed while reading was paused: finish, then free */
	uint64_t skip_bytes;      /* OCTET: bytes of an oversize message still to discard */
	struct conn *prev, *next; /* rx->conns */
};

struct listener {
	struct vig_syslog_rx *rx;     /* owner */
	enum rx_kind kind;
	char addr[256];               /* configured HOST:PORT, "" = off */
	evutil_socket_t fd;           /* UDP socket, -1 */
	struct event *ev;             /* UDP read event */
	struct evconnlistener *l;     /* TCP/TLS acceptor */
	struct vig_buf body;          /* pending records: "ADDR SP MSG NUL" */
	size_t records;               /* in body */
	int64_t first_mono;           /* when the oldest pending record arrived */
};

struct vig_syslog_rx {
	struct vig_server *srv;
	struct event_base *base;
	pthread_t thread;
	bool running;                 /* thread started and not joined */
	struct event *stop_ev;        /* activated by stop */
	struct event *tick_ev;        /* flush / retry timer */
	struct listener lis[RX__COUNT];
	struct conn *conns;           /* open stream connections */
	size_t n_conns;
	bool paused;                  /* stream reading off: the ingest queue was full */
	char *dgram;                  /* UDP buffer, max_message_bytes + 1 */
	struct vig_principal who;     /* principal of receiver batches */
	atomic_uint_fast64_t received[RX__COUNT];  /* messages taken, by transport */
	atomic_uint_fast64_t dropped[DR__COUNT];   /* messages (or connections) lost, by reason */
	atomic_uint_fast64_t batches;              /* batches queued */
	atomic_uint_fast64_t accepted;             /* stream connections accepted */
	atomic_uint_fast64_t pauses;               /* times reading was paused */
	atomic_uint_fast64_t open_conns;           /* gauge */
};

/* ---- counting ---- */

static void count_drop(struct vig_syslog_rx *rx, const char *peer, enum drop_reason why, uint64_t n)
{
	int slot;

	atomic_fetch_add(&rx->dropped[why], n);
	if (!peer || !peer[0] || !rx->srv->sources)
		return;
	slot = vig_sources_ref(rx->srv->sources, "", "syslog", peer);
	vig_sources_add(rx->srv->sources, slot, VIG_SRC_RECEIVED, n);
	vig_sources_add(rx->srv->sources, slot, VIG_SRC_DROPPED, n);
}

/* ---- batches ---- */

static size_t batch_cap(const struct vig_syslog_rx *rx)
{
	int64_t n = rx->srv->cfg.syslog_batch_records;

	return (size_t)(n < rx->srv->cfg.batch_max_events ? n : rx->srv->cfg.batch_max_events);
}

static bool has_room(const struct vig_syslog_rx *rx, const struct listener *lis, size_t len)
{
	return lis->records < batch_cap(rx) && lis->body.len + len + 80 <= BATCH_MAX_BYTES;
}

/* Queues lis's pending batch; false when the ingest queue refused it (batch kept). */
static bool flush(struct vig_syslog_rx *rx, struct listener *lis)
{
	struct vig_logs_spec spec = {.format = "syslog", .type = "syslog", .sep = '\0',
				     .peer_prefix = true};
	struct vig_logs_batch *lb;
	enum vig_err err;

	if (lis->records == 0)
		return true;
	if (vig_buf_err(&lis->body) != VIG_OK) { /* cannot happen: room is checked first */
		count_drop(rx, NULL, DR_OVERSIZE, lis->records);
		vig_buf_reset(&lis->body);
		lis->records = 0;
		return true;
	}
	snprintf(spec.transport, sizeof(spec.transport), "%s", kind_names[lis->kind]);
	lb = vig_logs_batch_new(&spec);
	if (!lb)
		return false;
	err = vig_ingest_submit(rx->srv->ingest, lis->body.data, lis->body.len, lb, &rx->who);
	if (err != VIG_OK) {
		vig_logs_batch_free(lb);
		return false;
	}
	/* the queue owns the bytes now: forget them without freeing */
	vig_buf_init(&lis->body, BATCH_MAX_BYTES);
	lis->records = 0;
	atomic_fetch_add(&rx->batches, 1);
	return true;
}

/* Counts every pending record of lis as dropped for why, per sender, and empties it. */
static void drop_pending(struct vig_syslog_rx *rx, struct listener *lis, enum drop_reason why)
{
	const char *p = lis->body.data, *end = p ? p + lis->body.len : NULL;

	while (p && p < end) {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		const char *sp = memchr(p, ' ', (size_t)((z ? z : end) - p));
		char peer[64] = "";

		if (sp && (size_t)(sp - p) < sizeof(peer))
			memcpy(peer, p, (size_t)(sp - p));
		count_drop(rx, peer, why, 1);
		p = z ? z + 1 : end;
	}
	vig_buf_reset(&lis->body);
	lis->records = 0;
}

/* Appends one message of peer to lis's batch (room already checked). */
static void add_record(struct vig_syslog_rx *rx, struct listener *lis, const char *peer,
		       const char *msg, size_t len)
{
	while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r' || msg[len - 1] == '\0'))
		len--;
	if (len == 0)
		return;
	if (lis->records == 0)
		lis->first_mono = vig_time_mono();
	vig_buf_adds(&lis->body, peer);
	vig_buf_addc(&lis->body, ' ');
	/* a NUL inside a message would split the record: it becomes a space */
	for (const char *p = msg, *end = msg + len; p < end;) {
		const char *z = memchr(p, '\0', (size_t)(end - p));

		vig_buf_add(&lis->body, p, (size_t)((z ? z : end) - p));
		if (z)
			vig_buf_addc(&lis->body, ' ');
		p = z ? z + 1 : end;
	}
	vig_buf_addc(&lis->body, '\0');
	lis->records++;
	atomic_fetch_add(&rx->received[lis->kind], 1);
}

/* Makes room for len bytes in lis's batch; false when the queue is full. */
static bool make_room(struct vig_syslog_rx *rx, struct listener *lis, size_t len)
{
	if (has_room(rx, lis, len))
		return true;
	return flush(rx, lis) && has_room(rx, lis, len);
}

/* ---- streams (TCP, TLS) ---- */

static void conn_free(struct conn *c)
{
	struct vig_syslog_rx *rx = c->rx;

	if (c->prev)
		c->prev->next = c->next;
	else
		rx->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	rx->n_conns--;
	atomic_fetch_sub(&rx->open_conns, 1);
	bufferevent_free(c->bev);
	free(c);
}

static void pause_streams(struct vig_syslog_rx *rx)
{
	if (rx->paused)
		return;
	rx->paused = true;
	atomic_fetch_add(&rx->pauses, 1);
	for (struct conn *c = rx->conns; c; c = c->next)
		bufferevent_disable(c->bev, EV_READ);
	vig_warn("syslog", "ingest queue full: reading paused", "connections=%zu", rx->n_conns);
}

/* Takes whole messages out of c's input while there is room; false when c was closed. */
static bool process_input(struct conn *c, bool eof)
{
	struct vig_syslog_rx *rx = c->rx;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t max = (size_t)rx->srv->cfg.syslog_max_message_bytes;

	for (;;) {
		size_t avail = evbuffer_get_length(in);
		unsigned char first;

		if (avail == 0)
			return true;
		if (c->skip_bytes) {
			size_t n = avail < c->skip_bytes ? avail : (size_t)c->skip_bytes;

			evbuffer_drain(in, n);
			c->skip_bytes -= n;
			continue;
		}
		if (c->framing == FR_UNKNOWN) {
			evbuffer_copyout(in, &first, 1);
			c->framing = first >= '0' && first <= '9' ? FR_OCTET : FR_LF;
		}
		if (c->framing == FR_OCTET) {
			char head[OCTET_DIGITS_MAX + 2];
			size_t got = evbuffer_copyout(in, head, sizeof(head)), i = 0;
			uint64_t len = 0;

			while (i < got && i <= OCTET_DIGITS_MAX && head[i] >= '0' && head[i] <= '9')
				len = len * 10 + (uint64_t)(head[i++] - '0');
			if (i < got && (head[i] != ' ' || i == 0 || i > OCTET_DIGITS_MAX)) {
				count_drop(rx, c->peer, DR_FRAMING, 1);
				vig_warn("syslog", "bad octet count: connection closed", "peer=%s",
					 c->peer);
				conn_free(c);
				return false;
			}
			if (i == got)
				return true; /* the count is not complete yet */
			if (len > max) {
				count_drop(rx, c->peer, DR_OVERSIZE, 1);
				evbuffer_drain(in, i + 1);
				c->skip_bytes = len;
				continue;
			}
			if (avail < i + 1 + len)
				return true;
			if (!make_room(rx, c->lis, (size_t)len)) {
				pause_streams(rx);
				return true;
			}
			evbuffer_drain(in, i + 1);
			{
				char *msg = (char *)evbuffer_pullup(in, (ev_ssize_t)len);

				add_record(rx, c->lis, c->peer, msg ? msg : "", msg ? (size_t)len : 0);
			}
			evbuffer_drain(in, (size_t)len);
			continue;
		}
		/* LF framing */
		{
			struct evbuffer_ptr eol = evbuffer_search(in, "\n", 1, NULL);
			size_t len = eol.pos >= 0 ? (size_t)eol.pos : avail;

			if (c->skip_line) {
				evbuffer_drain(in, eol.pos >= 0 ? len + 1 : avail);
				c->skip_line = eol.pos < 0;
				continue;
			}
			if (eol.pos < 0 && !eof) {
				if (avail > max) { /* no end in sight: drop what we have, skip to LF */
					count_drop(rx, c->peer, DR_OVERSIZE, 1);
					evbuffer_drain(in, avail);
					c->skip_line = true;
				}
				return true;
			}
			if (len > max) {
				count_drop(rx, c->peer, DR_OVERSIZE, 1);
				evbuffer_drain(in, eol.pos >= 0 ? len + 1 : avail);
				continue;
			}
			if (!make_room(rx, c->lis, len)) {
				pause_streams(rx);
				return true;
			}
			{
				char *msg = (char *)evbuffer_pullup(in, (ev_ssize_t)len);

				add_record(rx, c->lis, c->peer, msg ? msg : "", msg ? len : 0);
			}
			evbuffer_drain(in, eol.pos >= 0 ? len + 1 : avail);
		}
	}
}

static void on_conn_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	process_input(arg, false);
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if ((what & BEV_EVENT_EOF) && !process_input(c, true))
			return;
		if ((what & BEV_EVENT_EOF) && c->rx->paused &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
			/* the sender is done but we are not: keep its data until reading resumes */
			c->eof = true;
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
			count_drop(c->rx, c->peer, DR_FRAMING, 1); /* a message cut off by the close */
		conn_free(c);
	}
}

static void peer_text(const struct sockaddr *sa, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
	if (strncmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.'))
		memmove(ip, ip + 7, strlen(ip + 7) + 1);
	snprintf(out, cap, "%s", ip);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct listener *lis = arg;
	struct vig_syslog_rx *rx = lis->rx;
	struct timeval idle = {IDLE_TIMEOUT_S, 0};
	char peer[64];
	struct conn *c;
	SSL *ssl;

	(void)l;
	(void)salen;
	peer_text(sa, peer, sizeof(peer));
	if (rx->n_conns >= (size_t)rx->srv->cfg.syslog_max_connections) {
		evutil_closesocket(fd);
		count_drop(rx, peer, DR_CONNECTIONS, 1);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->rx = rx;
	c->lis = lis;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	if (lis->kind == RX_TLS) {
		ssl = SSL_new(rx->srv->ssl_ctx);
		c->bev = ssl ? bufferevent_openssl_socket_new(rx->base, fd, ssl,
							      BUFFEREVENT_SSL_ACCEPTING,
							      BEV_OPT_CLOSE_ON_FREE)
			     : NULL;
		if (!c->bev && ssl)
			SSL_free(ssl);
	} else {
		c->bev = bufferevent_socket_new(rx->base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->next = rx->conns;
	if (rx->conns)
		rx->conns->prev = c;
	rx->conns = c;
	rx->n_conns++;
	atomic_fetch_add(&rx->open_conns, 1);
	atomic_fetch_add(&rx->accepted, 1);
	bufferevent_setcb(c->bev, on_conn_read, NULL, on_conn_event, c);
	bufferevent_set_timeouts(c->bev, &idle, NULL);
	/* never buffer more than a few messages per connection in user space */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
				 (size_t)rx->srv->cfg.syslog_max_message_bytes * 4 + 64);
	if (!rx->paused)
		bufferevent_enable(c->bev, EV_READ);
}

/* ---- UDP ---- */

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct listener *lis = arg;
	struct vig_syslog_rx *rx = lis->rx;
	size_t max = (size_t)rx->srv->cfg.syslog_max_message_bytes;

	(void)what;
	for (int i = 0; i < UDP_BURST; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(fd, rx->dgram, max + 1, MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&ss, &sl);
		char peer[64];

		if (n < 0)
			return;
		peer_text((struct sockaddr *)&ss, peer, sizeof(peer));
		if ((size_t)n > max) {
			count_drop(rx, peer, DR_OVERSIZE, 1);
			continue;
		}
		if (!make_room(rx, lis, (size_t)n)) {
			count_drop(rx, peer, DR_QUEUE_FULL, 1);
			continue;
		}
		add_record(rx, lis, peer, rx->dgram, (size_t)n);
	}
}

/* ---- timer, start, stop ---- */

static void resume_streams(struct vig_syslog_rx *rx)
{
	struct conn *c, *next;

	rx->paused = false;
	for (c = rx->conns; c; c = next) {
		next = c->next;
		if (!c->eof)
			bufferevent_enable(c->bev, EV_READ);
		if (!process_input(c, c->eof))
			continue;
		if (rx->paused)
			return;
		if (c->eof)
			conn_free(c); /* everything it sent is queued */
	}
	vig_info("syslog", "reading resumed", "connections=%zu", rx->n_conns);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct vig_syslog_rx *rx = arg;
	int64_t now = vig_time_mono(), age = rx->srv->cfg.syslog_flush_ms * 1000000;
	bool all_ok = true;

	(void)fd;
	(void)what;
	for (int k = 0; k < RX__COUNT; k++) {
		struct listener *lis = &rx->lis[k];

		if (lis->records && (rx->paused || now - lis->first_mono >= age || !has_room(rx, lis, 0)))
			all_ok = flush(rx, lis) && all_ok;
	}
	if (rx->paused && all_ok)
		resume_streams(rx);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct vig_syslog_rx *rx = arg;

	(void)fd;
	(void)what;
	for (int k = 0; k < RX__COUNT; k++) {
		if (rx->lis[k].l)
			evconnlistener_disable(rx->lis[k].l);
		if (rx->lis[k].ev)
			event_del(rx->lis[k].ev);
	}
	rx->paused = false;
	while (rx->conns) {
		struct conn *c = rx->conns;

		if (!process_input(c, true))
			continue; /* it closed itself */
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
			count_drop(rx, c->peer, DR_SHUTDOWN, 1); /* at least one message left unread */
		conn_free(c);
	}
	for (int k = 0; k < RX__COUNT; k++)
		if (!flush(rx, &rx->lis[k]))
			drop_pending(rx, &rx->lis[k], DR_SHUTDOWN);
	event_base_loopbreak(rx->base);
}

static void *rx_main(void *arg)
{
	struct vig_syslog_rx *rx = arg;

	event_base_dispatch(rx->base);
	return NULL;
}

static enum vig_err bind_udp(struct vig_syslog_rx *rx, struct listener *lis, char *errbuf)
{
	struct sockaddr_storage ss;
	int sl = sizeof(ss), one = 1;

	if (evutil_parse_sockaddr_port(lis->addr, (struct sockaddr *)&ss, &sl) != 0)
		return vig_errf(errbuf, VIG_EINVAL, "syslog.udp: expected HOST:PORT, got \"%s\"",
				lis->addr);
	lis->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lis->fd < 0)
		return vig_errf(errbuf, VIG_EIO, "syslog.udp: socket: %s", strerror(errno));
	setsockopt(lis->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	{
		int rcv = 8 << 20; /* ride out bursts; the kernel caps it at rmem_max */

		setsockopt(lis->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	}
	if (bind(lis->fd, (struct sockaddr *)&ss, (socklen_t)sl) != 0)
		return vig_errf(errbuf, VIG_EIO, "syslog.udp: cannot listen on %s: %s", lis->addr,
				strerror(errno));
	lis->ev = event_new(rx->base, lis->fd, EV_READ | EV_PERSIST, on_udp, lis);
	if (!lis->ev || event_add(lis->ev, NULL) != 0)
		return vig_errf(errbuf, VIG_ENOMEM, "syslog.udp: cannot watch the socket");
	return VIG_OK;
}

static enum vig_err bind_stream(struct vig_syslog_rx *rx, struct listener *lis, char *errbuf)
{
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	const char *name = kind_names[lis->kind];

	if (evutil_parse_sockaddr_port(lis->addr, (struct sockaddr *)&ss, &sl) != 0)
		return vig_errf(errbuf, VIG_EINVAL, "syslog.%s: expected HOST:PORT, got \"%s\"", name,
				lis->addr);
	lis->l = evconnlistener_new_bind(rx->base, on_accept, lis,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
						 LEV_OPT_CLOSE_ON_EXEC,
					 -1, (struct sockaddr *)&ss, sl);
	if (!lis->l)
		return vig_errf(errbuf, VIG_EIO, "syslog.%s: cannot listen on %s: %s", name, lis->addr,
				strerror(errno));
	return VIG_OK;
}

struct vig_syslog_rx *vig_syslog_rx_start(struct vig_server *srv, char *errbuf)
{
	struct vig_syslog_rx *rx = calloc(1, sizeof(*rx));
	const char *addrs[RX__COUNT] = {srv->cfg.syslog_udp, srv->cfg.syslog_tcp, srv->cfg.syslog_tls};
	struct timeval tick;
	bool any = false;
	enum vig_err err = VIG_OK;

	if (!rx) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	rx->srv = srv;
	vig_principal_system(&rx->who);
	snprintf(rx->who.tenant, sizeof(rx->who.tenant), "%s", srv->cfg.syslog_tenant);
	for (int k = 0; k < RX__COUNT; k++) {
		rx->lis[k].rx = rx;
		rx->lis[k].kind = (enum rx_kind)k;
		rx->lis[k].fd = -1;
		snprintf(rx->lis[k].addr, sizeof(rx->lis[k].addr), "%s", addrs[k]);
		vig_buf_init(&rx->lis[k].body, BATCH_MAX_BYTES);
		any = any || addrs[k][0];
	}
	if (!any)
		return rx;
	rx->base = event_base_new();
	rx->dgram = malloc((size_t)srv->cfg.syslog_max_message_bytes + 1);
	if (!rx->base || !rx->dgram) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	for (int k = 0; k < RX__COUNT && err == VIG_OK; k++) {
		if (!rx->lis[k].addr[0])
			continue;
		err = k == RX_UDP ? bind_udp(rx, &rx->lis[k], errbuf)
				  : bind_stream(rx, &rx->lis[k], errbuf);
		if (err == VIG_OK)
			vig_info("syslog", "listening", "transport=%s listen=%s", kind_names[k],
				 rx->lis[k].addr);
	}
	if (err != VIG_OK)
		goto out_free;
	rx->stop_ev = event_new(rx->base, -1, 0, on_stop, rx);
	rx->tick_ev = event_new(rx->base, -1, EV_PERSIST, on_tick, rx);
	tick.tv_sec = 0;
	tick.tv_usec = (srv->cfg.syslog_flush_ms < 2 * RETRY_MS ? srv->cfg.syslog_flush_ms
								: RETRY_MS) * 1000;
	if (!rx->stop_ev || !rx->tick_ev || event_add(rx->tick_ev, &tick) != 0) {
		vig_errf(errbuf, VIG_ENOMEM, "cannot create the receiver's events");
		goto out_free;
	}
	if (pthread_create(&rx->thread, NULL, rx_main, rx) != 0) {
		vig_errf(errbuf, VIG_EINTERNAL, "cannot start the syslog thread");
		goto out_free;
	}
	rx->running = true;
	return rx;
out_free:
	vig_syslog_rx_stop(rx);
	return NULL;
}

void vig_syslog_rx_stop(struct vig_syslog_rx *rx)
{
	if (!rx)
		return;
	if (rx->running) {
		event_active(rx->stop_ev, EV_READ, 0);
		pthread_join(rx->thread, NULL);
		rx->running = false;
	}
	while (rx->conns)
		conn_free(rx->conns);
	for (int k = 0; k < RX__COUNT; k++) {
		struct listener *lis = &rx->lis[k];

		if (lis->records)
			drop_pending(rx, lis, DR_SHUTDOWN);
		if (lis->ev)
			event_free(lis->ev);
		if (lis->fd >= 0)
			close(lis->fd);
		if (lis->l)
			evconnlistener_free(lis->l);
		vig_buf_release(&lis->body);
	}
	if (rx->stop_ev)
		event_free(rx->stop_ev);
	if (rx->tick_ev)
		event_free(rx->tick_ev);
	if (rx->base)
		event_base_free(rx->base);
	free(rx->dgram);
	free(rx);
}

#define LD(x) ((unsigned long long)atomic_load(&(x)))

void vig_syslog_rx_metrics(struct vig_syslog_rx *rx, struct vig_buf *b)
{
	if (!rx)
		return;
	vig_buf_adds(b, "# HELP vigil_syslog_received_total Syslog messages received, by transport.\n"
			"# TYPE vigil_syslog_received_total counter\n");
	for (int k = 0; k < RX__COUNT; k++)
		vig_buf_printf(b, "vigil_syslog_received_total{transport=\"%s\"} %llu\n", kind_names[k],
			       LD(rx->received[k]));
	vig_buf_adds(b, "# HELP vigil_syslog_dropped_total Syslog messages (or connections) lost, by reason.\n"
			"# TYPE vigil_syslog_dropped_total counter\n");
	for (int r = 0; r < DR__COUNT; r++)
		vig_buf_printf(b, "vigil_syslog_dropped_total{reason=\"%s\"} %llu\n", drop_names[r],
			       LD(rx->dropped[r]));
	vig_buf_printf(b,
		       "# HELP vigil_syslog_batches_total Receiver batches queued for the store.\n"
		       "# TYPE vigil_syslog_batches_total counter\nvigil_syslog_batches_total %llu\n"
		       "# HELP vigil_syslog_connections Open TCP and TLS syslog connections.\n"
		       "# TYPE vigil_syslog_connections gauge\nvigil_syslog_connections %llu\n"
		       "# HELP vigil_syslog_connections_total TCP and TLS syslog connections accepted.\n"
		       "# TYPE vigil_syslog_connections_total counter\nvigil_syslog_connections_total %llu\n"
		       "# HELP vigil_syslog_pauses_total Times stream reading paused because the ingest queue was full.\n"
		       "# TYPE vigil_syslog_pauses_total counter\nvigil_syslog_pauses_total %llu\n",
		       LD(rx->batches), LD(rx->open_conns), LD(rx->accepted), LD(rx->pauses));
}
