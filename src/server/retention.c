/*
 * retention.c - the retention job: a thread that, every retention.interval_s, removes events
 * older than their tenant's retention.
 *
 * One run: the horizon is the longest retention of any tenant; day partitions wholly older
 * than the horizon are dropped (cheap), then tenants with a shorter retention have their older
 * rows deleted from the partitions that remain; last, expired console sessions are purged. The
 * job runs on its own thread so that a long delete never stalls the event loop; the store
 * serialises it with ingest on its writer.
 */
#include "server_int.h"

#include <errno.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/vtime.h"

struct vig_retention {
	struct vig_server *srv;
	pthread_mutex_t mu;   /* guards stop */
	pthread_cond_t cv;    /* signalled by stop */
	bool stop;            /* the thread exits */
	pthread_t thread;
};

enum vig_err vig_retention_run_once(struct vig_server *srv, int64_t now_ns, char *errbuf)
{
	struct vig_principal sys;
	struct vig_tenant *tenants = NULL;
	size_t n = 0;
	int horizon = 0;
	uint64_t dropped = 0, deleted = 0, removed;
	enum vig_err err;

	vig_principal_system(&sys);
	err = vig_tenant_list(srv->db, &sys, &tenants, &n, errbuf);
	if (err != VIG_OK)
		return err;
	for (size_t i = 0; i < n; i++)
		horizon = VIG_MAX(horizon, tenants[i].retention_days);
	if (horizon <= 0)
		horizon = (int)srv->cfg.retention_default_days;
	err = vig_evstore_expire(srv->store, NULL, horizon, now_ns, &dropped, errbuf);
	for (size_t i = 0; err == VIG_OK && i < n; i++) {
		if (tenants[i].retention_days <= 0 || tenants[i].retention_days >= horizon)
			continue;
		err = vig_evstore_expire(srv->store, tenants[i].id, tenants[i].retention_days, now_ns,
					 &removed, errbuf);
		deleted += removed;
	}
	free(tenants);
	uint64_t sessions = 0;
	if (err == VIG_OK)
		err = vig_auth_sessions_purge(srv->db, now_ns, &sessions, errbuf);
	if (err == VIG_OK)
		vig_info("retention", "retention run",
			 "horizon_days=%d partitions_dropped=%llu rows_deleted=%llu sessions_purged=%llu",
			 horizon, (unsigned long long)dropped, (unsigned long long)deleted,
			 (unsigned long long)sessions);
	return err;
}

static void *retention_main(void *arg)
{
	struct vig_retention *rt = arg;
	char errbuf[VIG_ERRBUF_SIZE];

	pthread_mutex_lock(&rt->mu);
	while (!rt->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += rt->srv->cfg.retention_interval_s;
		while (!rt->stop && pthread_cond_timedwait(&rt->cv, &rt->mu, &until) != ETIMEDOUT)
			;
		if (rt->stop)
			break;
		pthread_mutex_unlock(&rt->mu);
		errbuf[0] = '\0';
		if (vig_retention_run_once(rt->srv, vig_time_now(), errbuf) != VIG_OK)
			vig_error("retention", "retention run failed", "error=\"%s\"", errbuf);
		pthread_mutex_lock(&rt->mu);
	}
	pthread_mutex_unlock(&rt->mu);
	return NULL;
}

struct vig_retention *vig_retention_start(struct vig_server *srv, char *errbuf)
{
	struct vig_retention *rt = calloc(1, sizeof(*rt));

	if (!rt) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	rt->srv = srv;
	pthread_mutex_init(&rt->mu, NULL);
	pthread_cond_init(&rt->cv, NULL);
	if (pthread_create(&rt->thread, NULL, retention_main, rt) != 0) {
		pthread_mutex_destroy(&rt->mu);
		pthread_cond_destroy(&rt->cv);
		free(rt);
		vig_errf(errbuf, VIG_EINTERNAL, "cannot start the retention thread");
		return NULL;
	}
	return rt;
}

void vig_retention_stop(struct vig_retention *rt)
{
	if (!rt)
		return;
	pthread_mutex_lock(&rt->mu);
	rt->stop = true;
	pthread_cond_signal(&rt->cv);
	pthread_mutex_unlock(&rt->mu);
	pthread_join(rt->thread, NULL);
	pthread_mutex_destroy(&rt->mu);
	pthread_cond_destroy(&rt->cv);
	free(rt);
}
