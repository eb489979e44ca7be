/*
 * server.h - vigild's server: HTTPS API (libevent evhttp over OpenSSL), authentication
 * middleware, ingest pipeline, search endpoints, live alert stream and metrics.
 *
 * Lifecycle: vig_server_new() prepares everything (data dir, TLS files, setup token, control
 * DB, event store, listening socket); vig_server_run() runs the event loop until SIGTERM or
 * SIGINT (or vig_server_stop()), then shuts down gracefully: stops accepting, drains the
 * ingest queue into the store and answers those requests, ends streams; vig_server_free()
 * releases the rest.
 */
#ifndef VIG_SERVER_SERVER_H
#define VIG_SERVER_SERVER_H

#include "common/vig.h"
#include "config.h"

struct vig_server;

/* Builds a server from cfg (copied). NULL on failure with errbuf set. Prints the setup token
 * to stderr once, when it is first generated. */
struct vig_server *vig_server_new(const struct vig_config *cfg, char *errbuf);

/* Runs until a shutdown signal; returns VIG_OK after a clean shutdown. */
enum vig_err vig_server_run(struct vig_server *srv);

/* Asks the loop to shut down (thread-safe). */
void vig_server_stop(struct vig_server *srv);

/* Frees the server; NULL does nothing. */
void vig_server_free(struct vig_server *srv);

/* The port actually bound (useful with listen port 0). */
int vig_server_port(const struct vig_server *srv);

/* Broadcasts `event: alert` with alert_json (one JSON object, copied) to the stream subscribers
 * allowed to see tenant. Thread-safe; VIG_EBUSY if the hand-over queue is full. */
enum vig_err vig_server_publish_alert(struct vig_server *srv, const char *tenant,
				      const char *alert_json);
/* The same for any event name (at most 15 bytes): `event: <event>` with json. */
enum vig_err vig_server_publish(struct vig_server *srv, const char *event, const char *tenant,
				const char *json);

#endif
