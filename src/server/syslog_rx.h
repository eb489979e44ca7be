/*
 * syslog_rx.h - vigild's syslog receivers: UDP (RFC 5426, one message per datagram), TCP
 * (RFC 6587: LF-terminated or octet-counted "LEN SP MSG", detected per connection from its
 * first byte) and TLS (RFC 5425 octet counting, or LF, over the API's certificate), on the
 * listeners syslog.udp / syslog.tcp / syslog.tls.
 *
 * The receivers run on their own thread and event base, never on the API loop. Received
 * messages are collected per listener into raw-log batches ("ADDRESS SP MESSAGE NUL"
 * records, sources.h) of at most syslog.batch_records records, queued to the one durable
 * ingest path (vig_ingest_submit) when full or after syslog.flush_ms. Nothing is lost
 * silently:
 *   - a message over syslog.max_message_bytes is dropped and counted (reason oversize);
 *   - a connection over syslog.max_connections is closed and counted (reason connections);
 *   - when the ingest queue is full, TCP and TLS connections stop being read (back-pressure
 *     through the kernel's socket buffers and TCP flow control) until a batch is accepted;
 *     UDP has no back-pressure: datagrams that find the batch full are dropped and counted
 *     (reason queue_full);
 *   - at shutdown the pending batches are queued; what the queue cannot take is counted
 *     (reason shutdown).
 * Drops are also counted on the sender's source (counter dropped).
 */
#ifndef VIG_SERVER_SYSLOG_RX_H
#define VIG_SERVER_SYSLOG_RX_H

#include "common/buf.h"
#include "common/vig.h"

struct vig_server;
struct vig_syslog_rx;

/* Binds the configured listeners and starts the receiver thread; with no listener
 * configured returns an idle receiver (no thread). NULL with errbuf when a bind fails. */
struct vig_syslog_rx *vig_syslog_rx_start(struct vig_server *srv, char *errbuf);
/* Stops reading, queues what is pending, joins the thread and frees; NULL does nothing. */
void vig_syslog_rx_stop(struct vig_syslog_rx *rx);
/* Appends the receiver metrics to a /metrics reply. */
void vig_syslog_rx_metrics(struct vig_syslog_rx *rx, struct vig_buf *b);

#endif
