/*
 * inventory.c - the inventory document of docs/agent-protocol.md ("Inventory document"):
 * operating system (/etc/os-release), kernel and architecture (uname), host name, boot time
 * (/proc/stat btime), network interfaces with MAC and addresses (getifaddrs), installed Debian
 * packages (/var/lib/dpkg/status), users, groups and listening sockets (the query collectors of
 * act_query.c), and "hash": the SHA-256 of all of that serialised canonically (sorted keys,
 * compact), so that the agent and the server can tell when anything changed.
 *
 * Lists are bounded (packages 50,000, users/groups/listening 10,000, interfaces 256); a list
 * that hit its bound carries a "<name>_truncated": true member. Missing sources (no dpkg, no
 * os-release) give empty values, not a failure: an inventory is best effort.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "act_int.h"
#include "common/vtime.h"

#define VIG_INV_MAX_PACKAGES 50000
#define VIG_INV_MAX_ROWS 10000
#define VIG_INV_MAX_IFACES 256
#define VIG_INV_LINE 4096

/* Value of KEY= in os-release (quotes removed) into out. */
static void vig_inv_os_value(const char *line, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key), n;
	const char *v;

	if (strncmp(line, key, kl) != 0 || line[kl] != '=')
		return;
	v = line + kl + 1;
	n = strcspn(v, "\n");
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v++;
		n -= 2;
	}
	snprintf(out, cap, "%.*s", (int)n, v);
}

static json_t *vig_inv_os(void)
{
	char line[VIG_INV_LINE], name[256] = "", version[256] = "", id[128] = "", pretty[256] = "";
	FILE *fp = fopen("/etc/os-release", "re");

	if (!fp)
		fp = fopen("/usr/lib/os-release", "re");
	if (fp) {
		while (fgets(line, sizeof(line), fp)) {
			vig_inv_os_value(line, "NAME", name, sizeof(name));
			vig_inv_os_value(line, "VERSION_ID", version, sizeof(version));
			vig_inv_os_value(line, "ID", id, sizeof(id));
			vig_inv_os_value(line, "PRETTY_NAME", pretty, sizeof(pretty));
		}
		fclose(fp);
	}
	return json_pack("{s:s, s:s, s:s, s:s}", "name", name, "version", version, "id", id, "pretty_name", pretty);
}

static json_t *vig_inv_boot_time(void)
{
	char line[256];
	int64_t bt = 0;
	FILE *fp = fopen("/proc/stat", "re");

	if (fp) {
		while (fgets(line, sizeof(line), fp))
			if (strncmp(line, "btime ", 6) == 0 && !vig_parse_i64(line + 6, strcspn(line + 6, "\n"), &bt))
				bt = 0;
		fclose(fp);
	}
	return bt > 0 ? vig_act_time_json(bt, 0) : json_null();
}

/* The interface named name in ifs (created when absent). */
static json_t *vig_inv_iface(json_t *ifs, const char *name)
{
	json_t *i;
	size_t k;

	json_array_foreach(ifs, k, i)
		if (strcmp(json_string_value(json_object_get(i, "name")), name) == 0)
			return i;
	if (json_array_size(ifs) >= VIG_INV_MAX_IFACES)
		return NULL;
	i = json_pack("{s:s, s:s, s:[]}", "name", name, "mac", "", "addresses");
	if (!i || json_array_append_new(ifs, i) != 0)
		return NULL;
	return i;
}

static json_t *vig_inv_interfaces(void)
{
	struct ifaddrs *ifa = NULL;
	json_t *ifs = json_array();

	if (!ifs || getifaddrs(&ifa) != 0)
		return ifs;
	for (struct ifaddrs *a = ifa; a; a = a->ifa_next) {
		json_t *i;

		if (!a->ifa_name || !a->ifa_addr || !(i = vig_inv_iface(ifs, a->ifa_name)))
			continue;
		if (a->ifa_addr->sa_family == AF_PACKET) {
			const struct sockaddr_ll *ll = (const struct sockaddr_ll *)a->ifa_addr;
			char mac[3 * 8] = "";
			size_t len = 0;

			for (int b = 0; b < ll->sll_halen && b < 8; b++)
				len += (size_t)snprintf(mac + len, sizeof(mac) - len, b ? ":%02x" : "%02x", ll->sll_addr[b]);
			json_object_set_new(i, "mac", json_string(mac));
			json_object_set_new(i, "up", json_boolean(a->ifa_flags & IFF_UP));
		} else if (a->ifa_addr->sa_family == AF_INET || a->ifa_addr->sa_family == AF_INET6) {
			char ip[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 8];
			const void *addr = a->ifa_addr->sa_family == AF_INET ?
						   (const void *)&((struct sockaddr_in *)a->ifa_addr)->sin_addr :
						   (const void *)&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr;
			int prefix = 0;

			if (!inet_ntop(a->ifa_addr->sa_family, addr, ip, sizeof(ip)))
				continue;
			if (a->ifa_netmask) {
				const uint8_t *m = a->ifa_addr->sa_family == AF_INET ?
							   (const uint8_t *)&((struct sockaddr_in *)a->ifa_netmask)->sin_addr :
							   (const uint8_t *)&((struct sockaddr_in6 *)a->ifa_netmask)->sin6_addr;
				for (int b = 0; b < (a->ifa_addr->sa_family == AF_INET ? 4 : 16); b++)
					prefix += __builtin_popcount(m[b]);
			}
			snprintf(text, sizeof(text), "%s/%d", ip, prefix);
			json_array_append_new(json_object_get(i, "addresses"), json_string(text));
		}
	}
	freeifaddrs(ifa);
	return ifs;
}

/* Adds the package of one dpkg status stanza when it is installed. */
static void vig_inv_package(json_t *pkgs, const char *name, const char *version, const char *arch, const char *status,
			    bool *truncated)
{
	if (!name[0] || strcmp(status, "install ok installed") != 0)
		return;
	if (json_array_size(pkgs) >= VIG_INV_MAX_PACKAGES) {
		*truncated = true;
		return;
	}
	json_array_append_new(pkgs, json_pack("{s:s, s:s, s:s}", "name", name, "version", version, "arch", arch));
}

static json_t *vig_inv_packages(bool *truncated)
{
	char line[VIG_INV_LINE], name[256] = "", version[256] = "", arch[64] = "", status[128] = "";
	json_t *pkgs = json_array();
	FILE *fp;

	*truncated = false;
	fp = fopen("/var/lib/dpkg/status", "re");
	if (!pkgs || !fp)
		goto out;
	while (fgets(line, sizeof(line), fp)) {
		if (line[0] == '\n') {
			vig_inv_package(pkgs, name, version, arch, status, truncated);
			name[0] = version[0] = arch[0] = status[0] = 0;
			continue;
		}
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "Package: ", 9) == 0)
			snprintf(name, sizeof(name), "%s", line + 9);
		else if (strncmp(line, "Version: ", 9) == 0)
			snprintf(version, sizeof(version), "%s", line + 9);
		else if (strncmp(line, "Architecture: ", 14) == 0)
			snprintf(arch, sizeof(arch), "%s", line + 14);
		else if (strncmp(line, "Status: ", 8) == 0)
			snprintf(status, sizeof(status), "%s", line + 8);
	}
	vig_inv_package(pkgs, name, version, arch, status, truncated);
out:
	if (fp)
		fclose(fp);
	return pkgs;
}

/* Adds rows of a query kind as key (and key_truncated when cut). */
static enum vig_err vig_inv_rows(json_t *doc, const char *key, const char *what, char *errbuf)
{
	char tkey[64];
	bool truncated;
	json_t *rows;
	enum vig_err err = vig_act_rows(what, NULL, VIG_INV_MAX_ROWS, &rows, &truncated, errbuf);

	if (err != VIG_OK) {
		rows = json_array(); /* best effort: an unreadable source is an empty list */
		truncated = false;
	}
	if (truncated) {
		snprintf(tkey, sizeof(tkey), "%s_truncated", key);
		if (vig_act_set(doc, tkey, json_true()) != VIG_OK)
			return VIG_ENOMEM;
	}
	return vig_act_set(doc, key, rows);
}

json_t *vig_inventory_collect(char *errbuf)
{
	char hostname[256] = "", hex[65], *canon;
	struct utsname u;
	bool pkg_trunc = false;
	json_t *doc;
	uint8_t h[32];
	enum vig_err err = VIG_OK;

	if (uname(&u) != 0)
		memset(&u, 0, sizeof(u));
	gethostname(hostname, sizeof(hostname) - 1);
	doc = json_pack("{s:o, s:s, s:s, s:s, s:o, s:o, s:o}", "os", vig_inv_os(), "kernel", u.release, "arch", u.machine,
			"hostname", hostname, "boot_time", vig_inv_boot_time(), "interfaces", vig_inv_interfaces(),
			"packages", vig_inv_packages(&pkg_trunc));
	if (!doc) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	if (pkg_trunc)
		err = vig_act_set(doc, "packages_truncated", json_true());
	if (err == VIG_OK)
		err = vig_inv_rows(doc, "users", "users", errbuf);
	if (err == VIG_OK)
		err = vig_inv_rows(doc, "groups", "groups", errbuf);
	if (err == VIG_OK)
		err = vig_inv_rows(doc, "listening", "listening", errbuf);
	if (err != VIG_OK) {
		json_decref(doc);
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	canon = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT);
	if (!canon) {
		json_decref(doc);
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	vig_sha256(canon, strlen(canon), h);
	free(canon);
	vig_hex(h, 32, hex);
	if (vig_act_set(doc, "hash", json_string(hex)) != VIG_OK) {
		json_decref(doc);
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	return doc;
}
