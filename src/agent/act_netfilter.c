/*
 * act_netfilter.c - network containment with nftables (libnftables): "isolate", "release",
 * "block" and "unblock".
 *
 * Isolation is one table, `inet vigil`, whose input and output base chains (priority -10) drop
 * by default and accept only: loopback; everything to and from the `allow` CIDRs; TCP to the
 * server's addresses and port and its established replies; DNS (UDP and TCP 53) to the
 * nameservers of /etc/resolv.conf and their replies; IPv6 neighbour discovery and the DHCP
 * client, without which the host would lose its address or its neighbours and with them the
 * server. The addresses sit in sets, so the rules are fixed text; every address that reaches
 * the script was parsed and printed again by inet_pton/inet_ntop. The table is replaced in one
 * transaction ("add table; delete table; table { ... }"), so re-isolating never leaves a window.
 * The request is kept in STATE/isolation.json and vig_action_restore() applies it again when the
 * agent starts (the kernel forgets the table at reboot). release deletes the table and the file.
 *
 * Blocks are a second table, `inet vigil_block` (priority -20, policy accept), with sets block4
 * and block6 (flags interval, timeout) dropped in both directions, and in routed traffic (a
 * forward chain, so that a gateway agent protects the hosts behind it); expires_s gives an
 * element a timeout. The tables are independent: releasing isolation keeps blocks and the reverse. The
 * block table's chains are flushed and rewritten on every block, so the rules are never doubled.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "act_int.h"
#include "agent.h"
#include "common/buf.h"
#include "common/vtime.h"

#define VIG_NF_SCRIPT_MAX (1u << 20)
#define VIG_NF_MAX_DNS 8
#define VIG_NF_MAX_SERVER 16
#define VIG_NF_ADDR_LEN 64 /* address + "/128" */
#define VIG_NF_STATE_MAX (256u << 10)

/* One parsed address or network, printed canonically ("10.0.0.0/8", "2001:db8::1"). */
struct vig_nf_addr {
	int family; /* AF_INET or AF_INET6 */
	char text[VIG_NF_ADDR_LEN];
};

/* Parses "ip" or "ip/len" with host bits cleared; false when it is not one. */
static bool vig_nf_parse(const char *s, struct vig_nf_addr *out)
{
	char ip[INET6_ADDRSTRLEN + 1], pr[8] = "";
	uint8_t a[16];
	const char *slash = strchr(s, '/');
	size_t iplen = slash ? (size_t)(slash - s) : strlen(s);
	int64_t len = -1;
	int max;

	if (iplen == 0 || iplen >= sizeof(ip))
		return false;
	memcpy(ip, s, iplen);
	ip[iplen] = 0;
	if (inet_pton(AF_INET, ip, a) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, ip, a) == 1)
		out->family = AF_INET6;
	else
		return false;
	max = out->family == AF_INET ? 32 : 128;
	if (slash && (!vig_parse_i64(slash + 1, strlen(slash + 1), &len) || len < 0 || len > max))
		return false;
	if (len >= 0 && len < max) {
		for (int bit = (int)len; bit < max; bit++)
			a[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
		snprintf(pr, sizeof(pr), "/%d", (int)len);
	}
	if (!inet_ntop(out->family, a, ip, sizeof(ip)))
		return false;
	snprintf(out->text, sizeof(out->text), "%s%s", ip, pr);
	return true;
}

/* Runs an nft script; the library's error text goes to errbuf. */
static enum vig_err vig_nf_run(const char *script, json_t **json_out, char *errbuf)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	enum vig_err err = VIG_OK;
	int rc;

	if (!nft)
		return vig_errf(errbuf, VIG_ENOMEM, "nftables context unavailable");
	nft_ctx_buffer_error(nft);
	nft_ctx_buffer_output(nft);
	if (json_out)
		nft_ctx_output_set_flags(nft, NFT_CTX_OUTPUT_JSON);
	rc = nft_run_cmd_from_buffer(nft, script);
	if (rc != 0) {
		const char *e = nft_ctx_get_error_buffer(nft);
		char first[200];

		snprintf(first, sizeof(first), "%s", e ? e : "");
		first[strcspn(first, "\n")] = 0;
		err = vig_errf(errbuf, strstr(e ? e : "", "No such file") ? VIG_ENOTFOUND : VIG_EIO, "nftables: %s",
			       first[0] ? first : "command failed");
	} else if (json_out) {
		json_error_t jerr;

		*json_out = json_loads(nft_ctx_get_output_buffer(nft), 0, &jerr);
		if (!*json_out)
			err = vig_errf(errbuf, VIG_EPARSE, "nftables output: %s", jerr.text);
	}
	nft_ctx_free(nft);
	return err;
}

/* Appends "set NAME { type ...; flags interval; elements = { ... } }" for one family. */
static void vig_nf_set(struct vig_buf *b, const char *name, int family, const struct vig_nf_addr *a, size_t n)
{
	bool first = true;

	vig_buf_printf(b, "\tset %s { type %s; flags interval;", name, family == AF_INET ? "ipv4_addr" : "ipv6_addr");
	for (size_t i = 0; i < n; i++) {
		if (a[i].family != family)
			continue;
		vig_buf_printf(b, "%s%s", first ? " elements = { " : ", ", a[i].text);
		first = false;
	}
	vig_buf_adds(b, first ? " }\n" : " }; }\n");
}

/* Nameservers of /etc/resolv.conf (at most max). */
static size_t vig_nf_dns(struct vig_nf_addr *out, size_t max)
{
	FILE *fp = fopen("/etc/resolv.conf", "re");
	char line[512];
	size_t n = 0;

	if (!fp)
		return 0;
	while (n < max && fgets(line, sizeof(line), fp)) {
		char addr[128];

		if (sscanf(line, " nameserver %127s", addr) != 1)
			continue;
		addr[strcspn(addr, "%")] = 0; /* a link-local zone */
		if (vig_nf_parse(addr, &out[n]))
			n++;
	}
	fclose(fp);
	return n;
}

/* Addresses of host (numeric or resolved), at most max. */
static size_t vig_nf_resolve(const char *host, struct vig_nf_addr *out, size_t max)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	size_t n = 0;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return 0;
	for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
		char ip[INET6_ADDRSTRLEN];
		const void *a = ai->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr :
				ai->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr :
							    NULL;
		bool dup = false;

		if (!a || !inet_ntop(ai->ai_family, a, ip, sizeof(ip)) || !vig_nf_parse(ip, &out[n]))
			continue;
		for (size_t i = 0; i < n; i++)
			dup = dup || strcmp(out[i].text, out[n].text) == 0;
		if (!dup)
			n++;
	}
	freeaddrinfo(res);
	return n;
}

/* The isolation script for allow, server and dns addresses. */
static enum vig_err vig_nf_isolation_script(struct vig_buf *b, const struct vig_nf_addr *allow, size_t n_allow,
					    const struct vig_nf_addr *server, size_t n_server, int port,
					    const struct vig_nf_addr *dns, size_t n_dns)
{
	vig_buf_adds(b, "add table inet vigil\ndelete table inet vigil\ntable inet vigil {\n");
	vig_nf_set(b, "allow4", AF_INET, allow, n_allow);
	vig_nf_set(b, "allow6", AF_INET6, allow, n_allow);
	vig_nf_set(b, "server4", AF_INET, server, n_server);
	vig_nf_set(b, "server6", AF_INET6, server, n_server);
	vig_nf_set(b, "dns4", AF_INET, dns, n_dns);
	vig_nf_set(b, "dns6", AF_INET6, dns, n_dns);
	vig_buf_printf(b,
		       "\tchain input {\n"
		       "\t\ttype filter hook input priority -10; policy drop;\n"
		       "\t\tiif \"lo\" accept\n"
		       "\t\tip saddr @allow4 accept\n"
		       "\t\tip6 saddr @allow6 accept\n"
		       "\t\tct state established,related ip saddr @server4 tcp sport %d accept\n"
		       "\t\tct state established,related ip6 saddr @server6 tcp sport %d accept\n"
		       "\t\tct state established,related ip saddr @dns4 udp sport 53 accept\n"
		       "\t\tct state established,related ip saddr @dns4 tcp sport 53 accept\n"
		       "\t\tct state established,related ip6 saddr @dns6 udp sport 53 accept\n"
		       "\t\tct state established,related ip6 saddr @dns6 tcp sport 53 accept\n"
		       "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept\n"
		       "\t\tudp sport 67 udp dport 68 accept\n"
		       "\t\tudp sport 547 udp dport 546 accept\n"
		       "\t}\n"
		       "\tchain output {\n"
		       "\t\ttype filter hook output priority -10; policy drop;\n"
		       "\t\toif \"lo\" accept\n"
		       "\t\tip daddr @allow4 accept\n"
		       "\t\tip6 daddr @allow6 accept\n"
		       "\t\tip daddr @server4 tcp dport %d accept\n"
		       "\t\tip6 daddr @server6 tcp dport %d accept\n"
		       "\t\tip daddr @dns4 udp dport 53 accept\n"
		       "\t\tip daddr @dns4 tcp dport 53 accept\n"
		       "\t\tip6 daddr @dns6 udp dport 53 accept\n"
		       "\t\tip6 daddr @dns6 tcp dport 53 accept\n"
		       "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept\n"
		       "\t\tudp sport 68 udp dport 67 accept\n"
		       "\t\tudp sport 546 udp dport 547 accept\n"
		       "\t}\n"
		       "}\n",
		       port, port, port, port);
	return vig_buf_err(b);
}

static enum vig_err vig_nf_state_path(const struct vig_action_env *env, char *out, size_t cap, char *errbuf)
{
	if (!env->state_dir)
		return vig_errf(errbuf, VIG_EINVAL, "agent has no state directory");
	if (snprintf(out, cap, "%s/isolation.json", env->state_dir) >= (int)cap)
		return vig_errf(errbuf, VIG_ETOOBIG, "path too long");
	return VIG_OK;
}

/* Writes STATE/isolation.json durably (vig_agent_write_file). */
static enum vig_err vig_nf_state_write(const char *path, json_t *state, char *errbuf)
{
	char *text = json_dumps(state, JSON_SORT_KEYS | JSON_INDENT(2));
	enum vig_err err;

	if (!text)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	err = vig_agent_write_file(path, text, strlen(text), 0600, errbuf);
	free(text);
	return err;
}

/* Applies isolation: allow (parsed), server host:port resolved now (plus the fallback
 * addresses, used when resolution fails), DNS from resolv.conf. *allowed receives the list of
 * what stays reachable. */
static enum vig_err vig_nf_isolate_apply(const struct vig_nf_addr *allow, size_t n_allow, const char *host, int port,
					 const struct vig_nf_addr *fallback, size_t n_fallback,
					 struct vig_nf_addr *server, size_t *n_server, json_t **allowed, char *errbuf)
{
	struct vig_nf_addr dns[VIG_NF_MAX_DNS];
	size_t n_dns = vig_nf_dns(dns, VIG_NF_MAX_DNS);
	struct vig_buf b;
	enum vig_err err;
	char item[VIG_NF_ADDR_LEN + 16];

	*n_server = vig_nf_resolve(host, server, VIG_NF_MAX_SERVER);
	if (*n_server == 0 && n_fallback > 0) {
		*n_server = VIG_MIN(n_fallback, (size_t)VIG_NF_MAX_SERVER);
		memcpy(server, fallback, *n_server * sizeof(*server));
	}
	if (*n_server == 0)
		return vig_errf(errbuf, VIG_ENOTFOUND, "server %s does not resolve: not isolating", host);
	vig_buf_init(&b, VIG_NF_SCRIPT_MAX);
	err = vig_nf_isolation_script(&b, allow, n_allow, server, *n_server, port, dns, n_dns);
	if (err != VIG_OK) {
		vig_buf_release(&b);
		return vig_errf(errbuf, err, "isolation script too large");
	}
	err = vig_nf_run(b.data, NULL, errbuf);
	vig_buf_release(&b);
	if (err != VIG_OK)
		return err;
	*allowed = json_array();
	if (!*allowed)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	for (size_t i = 0; i < n_allow; i++)
		json_array_append_new(*allowed, json_string(allow[i].text));
	for (size_t i = 0; i < *n_server; i++) {
		snprintf(item, sizeof(item), server[i].family == AF_INET6 ? "[%s]:%d" : "%s:%d", server[i].text, port);
		json_array_append_new(*allowed, json_string(item));
	}
	for (size_t i = 0; i < n_dns; i++) {
		snprintf(item, sizeof(item), dns[i].family == AF_INET6 ? "[%s]:53" : "%s:53", dns[i].text);
		json_array_append_new(*allowed, json_string(item));
	}
	return VIG_OK;
}

/* Parses a JSON array of address strings into out (at most max); names the key in errors. */
static enum vig_err vig_nf_parse_list(json_t *arr, const char *key, struct vig_nf_addr *out, size_t max, size_t *n,
				      char *errbuf)
{
	size_t i;
	json_t *v;

	*n = 0;
	if (!arr || json_is_null(arr))
		return VIG_OK;
	if (!json_is_array(arr))
		return vig_errf(errbuf, VIG_EINVAL, "parameter %s must be an array", key);
	if (json_array_size(arr) > max)
		return vig_errf(errbuf, VIG_EINVAL, "parameter %s has more than %zu entries", key, max);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || !vig_nf_parse(json_string_value(v), &out[*n]))
			return vig_errf(errbuf, VIG_EINVAL, "parameter %s: entry %zu is not an ip or cidr", key, i);
		(*n)++;
	}
	return VIG_OK;
}

enum vig_err vig_act_isolate(const struct vig_action_env *env, const char *action_id, json_t *params,
			     json_t **result, char *errbuf)
{
	static const char *const known[] = {"allow", NULL};
	struct vig_nf_addr *allow = NULL, server[VIG_NF_MAX_SERVER];
	char path[VIG_ACT_MAX_PATH];
	size_t n_allow = 0, n_server = 0;
	json_t *allowed = NULL, *state = NULL, *saved_allow = NULL, *saved_server = NULL;
	enum vig_err err;

	(void)action_id;
	err = vig_act_param_only(params, known, errbuf);
	if (err == VIG_OK)
		err = vig_nf_state_path(env, path, sizeof(path), errbuf);
	if (err != VIG_OK)
		return err;
	if (!env->server_host || env->server_port <= 0 || env->server_port > 65535)
		return vig_errf(errbuf, VIG_EINVAL, "agent has no server address: not isolating");
	allow = calloc(VIG_ACT_MAX_ALLOW, sizeof(*allow));
	if (!allow)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	err = vig_nf_parse_list(json_object_get(params, "allow"), "allow", allow, VIG_ACT_MAX_ALLOW, &n_allow, errbuf);
	if (err != VIG_OK)
		goto out_free;
	err = vig_nf_isolate_apply(allow, n_allow, env->server_host, env->server_port, NULL, 0, server, &n_server,
				   &allowed, errbuf);
	if (err != VIG_OK)
		goto out_free;
	saved_allow = json_array();
	saved_server = json_array();
	for (size_t i = 0; saved_allow && i < n_allow; i++)
		json_array_append_new(saved_allow, json_string(allow[i].text));
	for (size_t i = 0; saved_server && i < n_server; i++)
		json_array_append_new(saved_server, json_string(server[i].text));
	state = json_pack("{s:O, s:s, s:i, s:O, s:o}", "allow", saved_allow, "server_host", env->server_host,
			  "server_port", env->server_port, "server_addresses", saved_server, "isolated_at",
			  vig_act_time_json(vig_time_now() / VIG_NS_PER_SEC, 0));
	if (!state) {
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	/* The table is in place; without its record a restart would silently release it. */
	err = vig_nf_state_write(path, state, errbuf);
	if (err != VIG_OK)
		goto out_free;
	*result = json_pack("{s:b, s:O}", "isolated", 1, "allowed", allowed);
	if (!*result)
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
out_free:
	json_decref(state);
	json_decref(saved_allow);
	json_decref(saved_server);
	json_decref(allowed);
	free(allow);
	return err;
}

enum vig_err vig_act_release(const struct vig_action_env *env, const char *action_id, json_t *params,
			     json_t **result, char *errbuf)
{
	static const char *const known[] = {NULL};
	char path[VIG_ACT_MAX_PATH];
	enum vig_err err;

	(void)action_id;
	err = vig_act_param_only(params, known, errbuf);
	if (err == VIG_OK)
		err = vig_nf_state_path(env, path, sizeof(path), errbuf);
	if (err == VIG_OK) /* "add" first: releasing when not isolated is not an error */
		err = vig_nf_run("add table inet vigil\ndelete table inet vigil\n", NULL, errbuf);
	if (err != VIG_OK)
		return err;
	if (unlink(path) != 0 && errno != ENOENT)
		return vig_errf(errbuf, VIG_EIO, "unlink %s: %s", path, strerror(errno));
	*result = json_pack("{s:b}", "isolated", 0);
	return *result ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}

enum vig_err vig_act_isolation_restore(const struct vig_action_env *env, char *errbuf)
{
	struct vig_nf_addr *allow = NULL, fallback[VIG_NF_MAX_SERVER], server[VIG_NF_MAX_SERVER];
	size_t n_allow = 0, n_fallback = 0, n_server = 0;
	char path[VIG_ACT_MAX_PATH];
	const char *host;
	json_t *state = NULL, *allowed = NULL;
	json_error_t jerr;
	struct stat st;
	enum vig_err err;
	int port;

	err = vig_nf_state_path(env, path, sizeof(path), errbuf);
	if (err != VIG_OK)
		return err;
	if (stat(path, &st) != 0)
		return errno == ENOENT ? VIG_OK : vig_errf(errbuf, VIG_EIO, "%s: %s", path, strerror(errno));
	if (st.st_size > VIG_NF_STATE_MAX)
		return vig_errf(errbuf, VIG_ETOOBIG, "%s is too large", path);
	state = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(state)) {
		err = vig_errf(errbuf, VIG_EPARSE, "%s: %s", path, state ? "not an object" : jerr.text);
		goto out_free;
	}
	allow = calloc(VIG_ACT_MAX_ALLOW, sizeof(*allow));
	if (!allow) {
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	err = vig_nf_parse_list(json_object_get(state, "allow"), "allow", allow, VIG_ACT_MAX_ALLOW, &n_allow, errbuf);
	if (err == VIG_OK)
		err = vig_nf_parse_list(json_object_get(state, "server_addresses"), "server_addresses", fallback,
					VIG_NF_MAX_SERVER, &n_fallback, errbuf);
	if (err != VIG_OK)
		goto out_free;
	/* The server the agent talks to now wins over the one recorded. */
	host = env->server_host ? env->server_host : json_string_value(json_object_get(state, "server_host"));
	port = env->server_host ? env->server_port : (int)json_integer_value(json_object_get(state, "server_port"));
	if (!host || port <= 0 || port > 65535) {
		err = vig_errf(errbuf, VIG_EPARSE, "%s has no server", path);
		goto out_free;
	}
	err = vig_nf_isolate_apply(allow, n_allow, host, port, fallback, n_fallback, server, &n_server, &allowed,
				   errbuf);
out_free:
	json_decref(allowed);
	json_decref(state);
	free(allow);
	return err;
}

/* ---- blocks ---- */

static const char vig_nf_block_table[] =
	"add table inet vigil_block\n"
	"add set inet vigil_block block4 { type ipv4_addr; flags interval, timeout; }\n"
	"add set inet vigil_block block6 { type ipv6_addr; flags interval, timeout; }\n"
	"add chain inet vigil_block input { type filter hook input priority -20; policy accept; }\n"
	"add chain inet vigil_block output { type filter hook output priority -20; policy accept; }\n"
	"add chain inet vigil_block forward { type filter hook forward priority -20; policy accept; }\n"
	"flush chain inet vigil_block input\n"
	"flush chain inet vigil_block output\n"
	"flush chain inet vigil_block forward\n"
	"add rule inet vigil_block input ip saddr @block4 drop\n"
	"add rule inet vigil_block input ip6 saddr @block6 drop\n"
	"add rule inet vigil_block output ip daddr @block4 drop\n"
	"add rule inet vigil_block output ip6 daddr @block6 drop\n"
	"add rule inet vigil_block forward ip saddr @block4 drop\n"
	"add rule inet vigil_block forward ip daddr @block4 drop\n"
	"add rule inet vigil_block forward ip6 saddr @block6 drop\n"
	"add rule inet vigil_block forward ip6 daddr @block6 drop\n";

/* Text of one element of nft's JSON set listing ("1.2.3.4", prefix, range, elem wrapper). */
static bool vig_nf_elem_text(json_t *e, char *out, size_t cap)
{
	json_t *p;

	if (json_is_string(e)) {
		snprintf(out, cap, "%s", json_string_value(e));
		return true;
	}
	if ((p = json_object_get(e, "elem")))
		return vig_nf_elem_text(json_object_get(p, "val"), out, cap);
	if ((p = json_object_get(e, "prefix")) && json_is_string(json_object_get(p, "addr"))) {
		snprintf(out, cap, "%s/%d", json_string_value(json_object_get(p, "addr")),
			 (int)json_integer_value(json_object_get(p, "len")));
		return true;
	}
	if ((p = json_object_get(e, "range")) && json_is_string(json_array_get(p, 0)) &&
	    json_is_string(json_array_get(p, 1))) {
		snprintf(out, cap, "%s-%s", json_string_value(json_array_get(p, 0)),
			 json_string_value(json_array_get(p, 1)));
		return true;
	}
	return false;
}

/* The elements of both block sets. */
static enum vig_err vig_nf_blocked(json_t **out, char *errbuf)
{
	static const char *const sets[] = {"block4", "block6"};
	enum vig_err err = VIG_OK;

	*out = json_array();
	if (!*out)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	for (size_t s = 0; s < VIG_ARRAY_LEN(sets) && err == VIG_OK; s++) {
		char cmd[64];
		json_t *doc = NULL, *item;
		size_t i;

		snprintf(cmd, sizeof(cmd), "list set inet vigil_block %s", sets[s]);
		err = vig_nf_run(cmd, &doc, errbuf);
		if (err != VIG_OK)
			break;
		json_array_foreach(json_object_get(doc, "nftables"), i, item) {
			json_t *elems = json_object_get(json_object_get(item, "set"), "elem"), *e;
			size_t j;

			json_array_foreach(elems, j, e) {
				char text[128];

				if (vig_nf_elem_text(e, text, sizeof(text)))
					json_array_append_new(*out, json_string(text));
			}
		}
		json_decref(doc);
	}
	if (err != VIG_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

static enum vig_err vig_nf_block_params(json_t *params, bool with_expiry, struct vig_nf_addr *addr,
					int64_t *expires_s, char *errbuf)
{
	static const char *const known_block[] = {"address", "expires_s", NULL};
	static const char *const known_unblock[] = {"address", NULL};
	const char *s;
	enum vig_err err = vig_act_param_only(params, with_expiry ? known_block : known_unblock, errbuf);

	if (err == VIG_OK)
		err = vig_act_param_str(params, "address", true, INET6_ADDRSTRLEN + 4, &s, errbuf);
	if (err == VIG_OK && with_expiry)
		err = vig_act_param_int(params, "expires_s", 0, 10LL * 365 * 86400, 0, expires_s, errbuf);
	if (err != VIG_OK)
		return err;
	if (!vig_nf_parse(s, addr))
		return vig_errf(errbuf, VIG_EINVAL, "parameter address is not an ip or cidr");
	return VIG_OK;
}

enum vig_err vig_act_block(const struct vig_action_env *env, const char *action_id, json_t *params,
			   json_t **result, char *errbuf)
{
	struct vig_nf_addr addr;
	int64_t expires_s = 0;
	json_t *blocked = NULL;
	struct vig_buf b;
	enum vig_err err;

	(void)env;
	(void)action_id;
	err = vig_nf_block_params(params, true, &addr, &expires_s, errbuf);
	if (err != VIG_OK)
		return err;
	vig_buf_init(&b, 8192);
	vig_buf_adds(&b, vig_nf_block_table);
	vig_buf_printf(&b, "add element inet vigil_block %s { %s", addr.family == AF_INET ? "block4" : "block6",
		       addr.text);
	if (expires_s > 0)
		vig_buf_printf(&b, " timeout %llds", (long long)expires_s);
	vig_buf_adds(&b, " }\n");
	err = vig_buf_err(&b);
	if (err == VIG_OK)
		err = vig_nf_run(b.data, NULL, errbuf);
	else
		vig_errf(errbuf, err, "out of memory");
	vig_buf_release(&b);
	if (err == VIG_OK)
		err = vig_nf_blocked(&blocked, errbuf);
	if (err != VIG_OK)
		return err;
	*result = json_pack("{s:o}", "blocked", blocked);
	return *result ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}

enum vig_err vig_act_unblock(const struct vig_action_env *env, const char *action_id, json_t *params,
			     json_t **result, char *errbuf)
{
	struct vig_nf_addr addr;
	json_t *blocked = NULL;
	char cmd[256];
	enum vig_err err;

	(void)env;
	(void)action_id;
	err = vig_nf_block_params(params, false, &addr, NULL, errbuf);
	if (err != VIG_OK)
		return err;
	snprintf(cmd, sizeof(cmd), "delete element inet vigil_block %s { %s }\n",
		 addr.family == AF_INET ? "block4" : "block6", addr.text);
	err = vig_nf_run(cmd, NULL, errbuf);
	if (err != VIG_OK)
		return vig_errf(errbuf, VIG_ENOTFOUND, "%s is not blocked", addr.text);
	err = vig_nf_blocked(&blocked, errbuf);
	if (err != VIG_OK)
		return err;
	*result = json_pack("{s:o}", "blocked", blocked);
	return *result ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}
