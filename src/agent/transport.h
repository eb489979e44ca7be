/*
 * transport.h - the agent side of docs/agent-protocol.md (library vigagent): enrolment and the
 * agent's identity, the disk spool, the mTLS sender with heartbeats, inventory and the actions
 * long poll, and the log forwarders (file tailing, wtmp, the systemd journal).
 *
 * Pieces, each in its own file:
 *   enroll.c     state directory, ECDSA P-256 key + CSR, POST /api/v1/agents/enroll, agent.json
 *   spool.c      spool/<seq>.ndjson.zst: zstd batches written with fsync, persistent sequence,
 *                bounded (oldest dropped and counted), torn files found at open
 *   transport.c  in-memory queue -> spool -> POST /api/v1/agent/events in sequence order;
 *                heartbeat, inventory and actions threads
 *   tail.c       --tail PATH[:FORMAT]: lines (or wtmp records) followed across rotation and
 *                truncation, positions kept in STATE/tail/
 *   journal.c    --journal: sd_journal entries of the login/account programs, cursor kept
 *
 * Threads: the sensors call vig_agent_emit_transport() (never blocks: a full queue drops and
 * counts); the forwarders call vig_transport_submit_event() from their own threads; the
 * transport's threads own their curl handles. Every counter below is read under the
 * transport's lock.
 */
#ifndef VIG_AGENT_TRANSPORT_H
#define VIG_AGENT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent.h"
#include "common/buf.h"
#include "common/vig.h"

#define VIG_AGENT_STATE_DIR "/var/lib/vigil-agent"     /* default --state-dir */
#define VIG_SPOOL_BATCH_EVENTS 1000                     /* events per batch, at most */
#define VIG_SPOOL_BATCH_BYTES (1u << 20)                /* NDJSON bytes per batch, at most */
#define VIG_SPOOL_DEFAULT_MAX (256ull << 20)            /* default --spool-max-bytes */
#define VIG_SPOOL_MIN_MAX (64u << 10)                   /* smallest --spool-max-bytes */
#define VIG_TRANSPORT_FLUSH_MS 100                      /* default --flush-ms (event -> API latency) */
#define VIG_AGENT_PATH_MAX 1024                         /* paths built under the state dir */

/* ---- identity and enrolment (enroll.c) ---- */

struct vig_identity {
	char agent_id[33];                   /* 32 lowercase hex digits */
	char tenant[128];                    /* tenant id of the agent's record */
	char server[512];                    /* base URL enrolled with ("https://host:port") */
	char key_path[VIG_AGENT_PATH_MAX];   /* STATE/agent.key (0600) */
	char cert_path[VIG_AGENT_PATH_MAX];  /* STATE/agent.crt */
	char ca_path[VIG_AGENT_PATH_MAX];    /* STATE/agent-ca.crt (the agent CA) */
	char server_ca_path[VIG_AGENT_PATH_MAX]; /* STATE/server-ca.crt (copy of --cacert), "" if none */
};

/* Creates dir (and parents' last component) with mode 0700 when missing and makes sure it is a
 * directory; VIG_EIO with the reason otherwise. */
enum vig_err vig_state_dir_prepare(const char *dir, char *errbuf);

/* Writes a new ECDSA P-256 private key to key_path (mode 0600, replacing any) and returns a
 * PEM PKCS#10 request signed by it with subject CN=hostname in *csr_pem (free()). */
enum vig_err vig_enroll_make_csr(const char *key_path, const char *hostname, char **csr_pem,
				 char *errbuf);

/* Enrols: key + CSR, POST server/api/v1/agents/enroll with token (trusting cacert, or the
 * system store when NULL), then stores agent.crt, agent-ca.crt, server-ca.crt and agent.json in
 * state_dir and fills *id. VIG_EAUTH when the server refuses the token (401). */
enum vig_err vig_enroll(const char *server, const char *cacert, const char *token,
			const char *state_dir, struct vig_identity *id, char *errbuf);

/* Reads STATE/agent.json and checks that key and certificate exist. VIG_ENOTFOUND when the
 * agent was never enrolled. */
enum vig_err vig_identity_load(const char *state_dir, struct vig_identity *id, char *errbuf);

/* ---- disk spool (spool.c) ---- */

struct vig_spool_stats {
	uint64_t bytes;           /* bytes of batch files on disk */
	uint64_t batches;         /* batch files on disk */
	int64_t oldest_ns;        /* wall-clock time the oldest batch was written, 0 when empty */
	uint64_t next_seq;        /* sequence the next batch gets */
	uint64_t written;         /* batches written since open */
	uint64_t acked;           /* batches deleted after a 2xx since open */
	uint64_t dropped_batches; /* oldest batches dropped by the bound, since open */
	uint64_t dropped_events;  /* events in them */
	uint64_t corrupt;         /* unreadable (torn) batch files removed at open */
};

struct vig_spool;

/* Opens (creating it 0700) the spool directory dir, bounded by max_bytes of batch files:
 * reads the persistent sequence, lists the batches, removes leftover temporary files and torn
 * batch files (counted in corrupt). NULL with errbuf set on failure. */
struct vig_spool *vig_spool_open(const char *dir, uint64_t max_bytes, char *errbuf);
void vig_spool_free(struct vig_spool *s);

/* Compresses len bytes of NDJSON (n_events lines) and writes them as the next batch: temporary
 * file, fsync, rename, sequence file, directory fsync. Older batches are dropped first while the
 * spool would exceed its bound (counted). *seq (may be NULL) receives the batch's sequence.
 * VIG_ETOOBIG when the one batch alone exceeds the bound, VIG_EIO on a write failure. */
enum vig_err vig_spool_put(struct vig_spool *s, const void *ndjson, size_t len, uint32_t n_events,
			   uint64_t *seq, char *errbuf);

/* The oldest batch: its sequence and its compressed bytes (one zstd frame) in *zst (reset
 * first). VIG_ENOTFOUND when the spool is empty. A batch file that vanished or became
 * unreadable is removed from the index and counted in corrupt, and the next one is tried. */
enum vig_err vig_spool_peek(struct vig_spool *s, uint64_t *seq, struct vig_buf *zst, char *errbuf);

/* Deletes batch seq (after the server's 2xx). VIG_ENOTFOUND when it is not spooled. */
enum vig_err vig_spool_ack(struct vig_spool *s, uint64_t seq, char *errbuf);

/* Current statistics. */
void vig_spool_stats(struct vig_spool *s, struct vig_spool_stats *out);

/* Decompresses one zstd frame of at most max_out bytes of content into out (reset first). */
enum vig_err vig_spool_decompress(const void *zst, size_t n, size_t max_out, struct vig_buf *out,
				  char *errbuf);

/* ---- HTTP (transport.c) ---- */

/* One request through libcurl. The server is always verified (cacert, or the system store);
 * cert/key, when set, are the agent's client certificate (mutual TLS). */
struct vig_http_req {
	const char *method;             /* "GET", "POST", "PUT" */
	const char *url;                /* full URL */
	const char *cacert;             /* PEM trust, NULL: the system's */
	const char *cert, *key;         /* client certificate and key files, or NULL */
	const char *const *headers;     /* extra "Name: value" lines */
	size_t n_headers;
	const void *body;               /* request body (may be NULL) */
	size_t body_len;
	long timeout_s;                 /* whole transfer; 0: 30 */
	size_t max_reply;               /* reply bytes kept; 0: 4 MiB (more is an error) */
};

/* Performs req on the curl easy handle curl (reset first). *status receives the HTTP status
 * (0 without an answer); reply (reset first, may be NULL) the body. VIG_EIO with curl's reason
 * when there was no HTTP answer, VIG_ETOOBIG when the reply was too long. Any status is VIG_OK. */
enum vig_err vig_http_do(void *curl, const struct vig_http_req *req, long *status, struct vig_buf *reply,
			 char *errbuf);

/* ---- transport (transport.c) ---- */

struct vig_transport_config {
	const char *server;           /* base URL ("https://127.0.0.1:8443") */
	const char *cacert;           /* PEM trust for the server, NULL: the system's store */
	const char *state_dir;        /* spool/ and the action state live here */
	const struct vig_identity *id; /* the enrolled identity (mTLS) */
	uint64_t spool_max_bytes;     /* 0: VIG_SPOOL_DEFAULT_MAX */
	size_t queue_max_bytes;       /* in-memory queue in front of the spool; 0: 8 MiB */
	int heartbeat_s;              /* 0: 30; the server's reply may change it */
	int flush_ms;                 /* oldest queued event waits at most this long; 0: VIG_TRANSPORT_FLUSH_MS */
	bool no_actions;              /* do not poll for actions */
	const char *mode;             /* "ebpf" or "fallback" until the sensors say; NULL: no sensors */
	struct vig_fim *fim;          /* handed to the fim_accept action; NULL: FIM off */
};

struct vig_transport_counters {
	uint64_t queued;          /* events accepted into the memory queue */
	uint64_t queue_dropped;   /* events dropped because the memory queue was full */
	uint64_t spool_failed;    /* events lost because a batch could not be written */
	uint64_t sent_batches;    /* batches the server answered 2xx */
	uint64_t sent_events;     /* events in them (counting duplicates) */
	uint64_t duplicates;      /* batches answered {"duplicate":true} */
	uint64_t send_failures;   /* failed attempts (network, 429, 5xx) */
	uint64_t rejected_batches;/* batches the server refused for good (4xx other than 429) */
	uint64_t heartbeats;      /* heartbeats answered 2xx */
	uint64_t actions;         /* actions run */
	uint64_t auth_failures;   /* 401/403 answers (revoked agent) */
};

struct vig_transport;

/* Opens the spool and starts the spooler, sender, heartbeat and (unless no_actions) actions
 * threads. NULL with errbuf set on failure. */
struct vig_transport *vig_transport_new(const struct vig_transport_config *cfg, char *errbuf);
/* Lets the transport read the agent's health for heartbeats and report its own drops in the
 * agent's health events; call before vig_agent_run(). */
void vig_transport_set_agent(struct vig_transport *t, struct vig_agent *a);
/* Emit callback for the sensors (ctx is the transport): encodes and queues the event. */
void vig_agent_emit_transport(void *ctx, const struct vig_event *ev);
/* Emit callback for other threads (forwarders): vig_transport_submit_event() only. */
void vig_transport_emit(void *ctx, const struct vig_event *ev);
/* Queues one encoded event (JSON object, no newline) from any thread; VIG_EBUSY (counted) when
 * the queue is full. */
enum vig_err vig_transport_submit(struct vig_transport *t, const char *json, size_t len);
/* Encodes and queues ev from any thread. */
enum vig_err vig_transport_submit_event(struct vig_transport *t, const struct vig_event *ev);
/* Copies the counters and the spool statistics (either may be NULL). */
void vig_transport_counters(struct vig_transport *t, struct vig_transport_counters *c,
			    struct vig_spool_stats *s);
/* Spools what is queued, tries to send for up to timeout_ms, stops the threads and frees. */
void vig_transport_free(struct vig_transport *t, int timeout_ms);

/* Parses "https://host:port/..." into host (cap bytes) and port (443/80 by default). */
bool vig_url_host_port(const char *url, char *host, size_t cap, int *port);

/* ---- log forwarding (tail.c, journal.c) ---- */

#define VIG_TAIL_MAX_FILES 32   /* --tail options */

/* Where forwarded events go. emit must be safe to call from the forwarder's thread
 * (vig_transport_emit, vig_agent_emit_poster, vig_agent_emit_stdout are). */
struct vig_forward_sink {
	vig_agent_emit_fn *emit;               /* receives each event */
	void *ctx;                             /* its context */
	const struct vig_agent_host *host;     /* host.id and host.name of the events */
};

struct vig_tail_file {
	char path[VIG_AGENT_PATH_MAX];   /* absolute path of the log file */
	char format[32];                 /* parser name, "auto" or "wtmp" */
};

/* Parses "PATH[:FORMAT]" (FORMAT a parser name, "auto" or "wtmp"; default auto). */
enum vig_err vig_tail_spec_parse(const char *spec, struct vig_tail_file *out, char *errbuf);

struct vig_tail;
/* Starts a thread that follows files (polling every poll_ms, 0: 250) and forwards their
 * records to sink; positions are kept in STATE/tail/. A file never seen before is read from
 * its end; one known from a previous run continues at the kept offset (from the start when its
 * inode changed). */
struct vig_tail *vig_tail_start(const struct vig_tail_file *files, size_t n, const char *state_dir,
				const struct vig_forward_sink *sink, int poll_ms, char *errbuf);
/* Lines (records) forwarded, refused by the parser, cut because too long; rotations seen. */
void vig_tail_counters(struct vig_tail *t, uint64_t *lines, uint64_t *failed, uint64_t *rotations);
void vig_tail_stop(struct vig_tail *t);

/* Maps one wtmp record (struct utmp bytes) into ev: USER_PROCESS -> a login, DEAD_PROCESS -> a
 * logout. VIG_ENOTFOUND for other record types, VIG_EINVAL for a short record. */
enum vig_err vig_wtmp_to_event(const void *rec, size_t n, struct vig_event *ev);

/* Renders a journal entry's fields as an RFC 5424 line the syslog parser dispatches to the
 * auth parsers ("<pri>1 TIME HOST IDENT PID - - MESSAGE") into out. */
enum vig_err vig_journal_line(int64_t ts_us, int priority, const char *host, const char *ident,
			      const char *pid, const char *message, struct vig_buf *out);

struct vig_journal;
/* Starts a thread that reads the journal (directory dir, or the local journal when NULL) from
 * the cursor kept in STATE/journal.cursor (from the end on the first run), keeps the entries of
 * the login and account programs (sshd, su, sudo, login, useradd, ...) and forwards them. */
struct vig_journal *vig_journal_start(const char *dir, const char *state_dir,
				      const struct vig_forward_sink *sink, char *errbuf);
void vig_journal_counters(struct vig_journal *j, uint64_t *entries, uint64_t *failed);
void vig_journal_stop(struct vig_journal *j);

#endif /* VIG_AGENT_TRANSPORT_H */
