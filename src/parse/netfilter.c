/*
 * netfilter.c - kernel iptables/ip6tables/nftables LOG lines: "[uptime] PREFIX IN=eth0 OUT=
 * MAC=.. SRC=.. DST=.. LEN=.. TTL=.. PROTO=TCP SPT=.. DPT=.. WINDOW=.. RES=.. SYN URGP=0".
 * The log prefix is free text chosen by the administrator ("[UFW BLOCK]",
 * "IPTABLES:BLOCKED-CONN:", "[netfilter-INPUT]", Ubiquiti's "[WAN_IN-2000-D]"); it becomes
 * rule.name, and the verdict words in it (BLOCK, DROP, DENY, REJECT, ACCEPT, ALLOW, PASS, and
 * Ubiquiti's -A/-D/-R suffix) give event.action allow/deny/drop. The key=value pairs map to
 * source/destination/network fields and iptables.* extensions; bare words after WINDOW/RES
 * are TCP flags. One pass, no allocation beyond the event's arena.
 */
#include "parse_int.h"

/* Verdict of a log prefix: "allow", "deny", "drop" or NULL. */
static const char *verdict(const char *p, size_t n)
{
	char up[64];
	size_t m = VIG_MIN(n, sizeof(up) - 1);

	for (size_t i = 0; i < m; i++)
		up[i] = (p[i] >= 'a' && p[i] <= 'z') ? (char)(p[i] - 32) : p[i];
	up[m] = '\0';
	if (strstr(up, "DROP"))
		return "drop";
	if (strstr(up, "BLOCK") || strstr(up, "DENY") || strstr(up, "REJECT") || strstr(up, "DENIED"))
		return "deny";
	if (strstr(up, "ACCEPT") || strstr(up, "ALLOW") || strstr(up, "PASS"))
		return "allow";
	/* Ubiquiti EdgeOS: "[RULESET-RULE-A]" accept, "-D]" drop, "-R]" reject. */
	if (m >= 3 && up[m - 1] == ']' && up[m - 3] == '-') {
		if (up[m - 2] == 'A')
			return "allow";
		if (up[m - 2] == 'D')
			return "drop";
		if (up[m - 2] == 'R')
			return "deny";
	}
	return NULL;
}

/* Start of the "IN=" key: at p or after a space or ']'. */
static const char *find_in(const char *p, size_t n)
{
	const char *s = p, *e = p + n;

	while (s < e) {
		const char *f = ps_find(s, (size_t)(e - s), "IN=");
		if (!f)
			return NULL;
		if (f == p || f[-1] == ' ' || f[-1] == ']' || f[-1] == ':')
			return f;
		s = f + 3;
	}
	return NULL;
}

/* MAC=dst(6):src(6):type(2) → destination.mac / source.mac. */
static enum vig_err set_mac(struct vig_event *ev, const char *v, size_t n)
{
	if (n >= 35 && v[17] == ':') {
		PTRY(pk_str(ev, PK_DESTINATION_MAC, v, 17));
		PTRY(pk_str(ev, PK_SOURCE_MAC, v + 18, 17));
		return VIG_OK;
	}
	return n ? pk_str(ev, PK_IPTABLES_MAC, v, n) : VIG_OK;
}

/* One KEY=VALUE pair of a LOG line. */
static enum vig_err pair(struct vig_event *ev, const char *k, size_t kn, const char *v, size_t vn,
			 bool *seen_len, bool *bad)
{
	switch (kn) {
	case 2:
		if (ps_eq(k, kn, "IN") && vn)
			return pk_str(ev, PK_IPTABLES_INPUT_DEVICE, v, vn);
		if (ps_eq(k, kn, "ID"))
			return pk_num(ev, PK_IPTABLES_ID, v, vn);
		if (ps_eq(k, kn, "TC"))
			return pk_num(ev, PK_IPTABLES_TC, v, vn);
		break;
	case 3:
		if (ps_eq(k, kn, "OUT") && vn)
			return pk_str(ev, PK_IPTABLES_OUTPUT_DEVICE, v, vn);
		if (ps_eq(k, kn, "MAC"))
			return set_mac(ev, v, vn);
		if (ps_eq(k, kn, "SRC")) {
			if (!pset_ip(ev, VIG_F_SOURCE_IP, v, vn))
				*bad = true;
			return VIG_OK;
		}
		if (ps_eq(k, kn, "DST")) {
			if (!pset_ip(ev, VIG_F_DESTINATION_IP, v, vn))
				*bad = true;
			return VIG_OK;
		}
		if (ps_eq(k, kn, "LEN")) {
			if (*seen_len)
				return pk_num(ev, PK_IPTABLES_TRANSPORT_LENGTH, v, vn);
			*seen_len = true;
			int64_t b;
			if (vig_parse_i64(v, vn, &b))
				PTRY(vig_event_set_int(ev, VIG_F_NETWORK_BYTES, b));
			return pk_num(ev, PK_IPTABLES_LENGTH, v, vn);
		}
		if (ps_eq(k, kn, "TOS"))
			return pk_str(ev, PK_IPTABLES_TOS, v, vn);
		if (ps_eq(k, kn, "TTL"))
			return pk_num(ev, PK_IPTABLES_TTL, v, vn);
		if (ps_eq(k, kn, "SPT")) {
			if (!pset_int(ev, VIG_F_SOURCE_PORT, v, vn))
				*bad = true;
			return VIG_OK;
		}
		if (ps_eq(k, kn, "DPT")) {
			if (!pset_int(ev, VIG_F_DESTINATION_PORT, v, vn))
				*bad = true;
			return VIG_OK;
		}
		if (ps_eq(k, kn, "RES"))
			return pk_str(ev, PK_IPTABLES_TCP_RESERVED_BITS, v, vn);
		if (ps_eq(k, kn, "SEQ"))
			return pk_num(ev, PK_IPTABLES_ICMP_SEQ, v, vn);
		break;
	case 4:
		if (ps_eq(k, kn, "PREC"))
			return pk_str(ev, PK_IPTABLES_PRECEDENCE_BITS, v, vn);
		if (ps_eq(k, kn, "URGP"))
			return pk_num(ev, PK_IPTABLES_TCP_URGENT_POINTER, v, vn);
		if (ps_eq(k, kn, "TYPE"))
			return pk_num(ev, PK_IPTABLES_ICMP_TYPE, v, vn);
		if (ps_eq(k, kn, "CODE"))
			return pk_num(ev, PK_IPTABLES_ICMP_CODE, v, vn);
		if (ps_eq(k, kn, "MARK"))
			return pk_str(ev, PK_IPTABLES_MARK, v, vn);
		break;
	case 5:
		if (ps_eq(k, kn, "PROTO"))
			return ptransport(ev, v, vn);
		break;
	case 6:
		if (ps_eq(k, kn, "WINDOW"))
			return pk_num(ev, PK_IPTABLES_TCP_WINDOW, v, vn);
		if (ps_eq(k, kn, "PHYSIN") && vn)
			return pk_str(ev, PK_IPTABLES_PHYSICAL_INPUT_DEVICE, v, vn);
		break;
	case 7:
		if (ps_eq(k, kn, "FLOWLBL"))
			return pk_num(ev, PK_IPTABLES_FLOW_LABEL, v, vn);
		if (ps_eq(k, kn, "PHYSOUT") && vn)
			return pk_str(ev, PK_IPTABLES_PHYSICAL_OUTPUT_DEVICE, v, vn);
		break;
	case 8:
		if (ps_eq(k, kn, "HOPLIMIT"))
			return pk_num(ev, PK_IPTABLES_TTL, v, vn);
		break;
	default:
		break;
	}
	return VIG_OK;
}

bool pnetfilter_body(const char *p, size_t n, struct vig_event *ev, enum vig_err *rc)
{
	const char *in = find_in(p, n), *end = p + n, *pre;
	char flags[64];
	size_t fl = 0, i;
	bool seen_len = false, bad = false;

	*rc = VIG_OK;
	if (!in || !ps_find(in, (size_t)(end - in), " SRC="))
		return false;
	/* Prefix: after the optional "[uptime]" up to IN=. */
	pre = p;
	if (pre < in && *pre == '[') {
		const char *rb = memchr(pre, ']', (size_t)(in - pre));
		if (rb && rb + 1 < in && (ps_digit(pre[1]) || pre[1] == ' '))
			pre = rb + 1;
	}
	while (pre < in && *pre == ' ')
		pre++;
	size_t pn = (size_t)(in - pre);
	while (pn && (pre[pn - 1] == ' ' || pre[pn - 1] == ':'))
		pn--;
	for (i = (size_t)(in - p); i < n;) {
		while (i < n && p[i] == ' ')
			i++;
		size_t ks = i;
		while (i < n && p[i] != '=' && p[i] != ' ')
			i++;
		if (i < n && p[i] == '=') {
			size_t kn = i - ks, vs = ++i;
			while (i < n && p[i] != ' ')
				i++;
			*rc = pair(ev, p + ks, kn, p + vs, i - vs, &seen_len, &bad);
			if (*rc != VIG_OK)
				return false;
		} else if (i > ks) {
			/* Bare word: DF/MF fragment flags, TCP flags. */
			if (ps_eq(p + ks, i - ks, "DF") || ps_eq(p + ks, i - ks, "MF")) {
				*rc = pk_str(ev, PK_IPTABLES_FRAGMENT_FLAGS, p + ks, i - ks);
			} else if (fl + (i - ks) + 1 < sizeof(flags)) {
				if (fl)
					flags[fl++] = ' ';
				memcpy(flags + fl, p + ks, i - ks);
				fl += i - ks;
			}
			if (*rc != VIG_OK)
				return false;
		}
	}
	if (fl && (*rc = pk_str(ev, PK_IPTABLES_TCP_FLAGS, flags, fl)) != VIG_OK)
		return false;
	const char *act = verdict(pre, pn);
	const struct vig_val *inv = pk_get(ev, PK_IPTABLES_INPUT_DEVICE);
	const struct vig_val *outv = pk_get(ev, PK_IPTABLES_OUTPUT_DEVICE);
	const char *dir = inv && !outv ? "ingress" : outv && !inv ? "egress" : inv ? "forwarded" : NULL;
	if ((pn && (*rc = pset(ev, VIG_F_RULE_NAME, pre, pn)) != VIG_OK) ||
	    (dir && (*rc = pconst(ev, VIG_F_NETWORK_DIRECTION, dir)) != VIG_OK) ||
	    (*rc = pecs(ev, "event", "network",
			act ? (act[0] == 'a' ? "allowed" : "denied") : "connection", act, NULL)) != VIG_OK ||
	    (*rc = pconst(ev, VIG_F_EVENT_DATASET, "iptables")) != VIG_OK ||
	    (*rc = pconst(ev, VIG_F_OBSERVER_TYPE, "firewall")) != VIG_OK)
		return false;
	if (bad)
		*rc = pk_str(ev, PK_IPTABLES_PARSE_WARNING, "unreadable address or port", 26);
	return *rc == VIG_OK;
}

enum vig_err vig_parse_iptables(struct vig_parse_ctx *ctx, const char *line, size_t len,
				struct vig_event *ev, char *errbuf)
{
	struct pspan prog, msg;
	enum vig_err rc = VIG_OK;
	char eb[VIG_ERRBUF_SIZE];
	struct vig_parse_stats saved = ctx->stats[VIG_PARSER_SYSLOG];

	PTRY(pbegin(ctx, VIG_PARSER_IPTABLES, line, len, ev, errbuf));
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	/* With a syslog header: frame it (not counted as a syslog record); else the bare body. */
	if (psyslog_frame(ctx, line, len, ev, &prog, &msg, eb) != VIG_OK) {
		msg.p = line;
		msg.n = len;
	}
	ctx->stats[VIG_PARSER_SYSLOG] = saved;
	if (!pnetfilter_body(msg.p, msg.n, ev, &rc)) {
		if (rc != VIG_OK)
			return pfail(ctx, VIG_PARSER_IPTABLES, VIG_PR_TOO_LONG, errbuf, "event arena full");
		return pfail(ctx, VIG_PARSER_IPTABLES, VIG_PR_FRAMING, errbuf,
			     "not a netfilter log line (no IN= ... SRC=)");
	}
	return pdone(ctx, VIG_PARSER_IPTABLES, true);
}
