/*
 * sigma_int.h - the compiled form of a Sigma detection, shared by the loader (sigma_load.c,
 * sigma_cond.c) and the engine (detect.c). Not part of the public contract.
 *
 * A detection is a program: an array of atoms (one test of one field against one value) and
 * an array of boolean nodes over them. Selections become sub-trees; the condition references
 * selection roots, so the node graph is a DAG with one root. Atoms are all positive tests
 * (a value matches, a field is present, a number compares); negation lives only in NOT nodes,
 * which keeps "which atoms fired" the whole state the engine needs per event.
 */
#ifndef VIG_SIGMA_INT_H
#define VIG_SIGMA_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sigma.h"

enum vig_atom_kind {
	VIG_ATOM_STR = 0, /* regex (generated from a Sigma string, or `re`) over the field's text */
	VIG_ATOM_PRESENT, /* the field exists */
	VIG_ATOM_NONEMPTY, /* the field exists and its text is not empty */
	VIG_ATOM_NUM,     /* numeric comparison of the field's value */
	VIG_ATOM_CIDR,    /* the field is an IP inside [lo, hi] */
	VIG_ATOM_FIELDREF, /* the field's text compared with another field's text */
	VIG_ATOM_TIME,    /* a part of the field's timestamp compared with a number */
};

enum vig_cmp { VIG_CMP_EQ = 0, VIG_CMP_GT, VIG_CMP_GTE, VIG_CMP_LT, VIG_CMP_LTE };
enum vig_tpart { VIG_TP_MINUTE = 0, VIG_TP_HOUR, VIG_TP_DAY, VIG_TP_WEEK, VIG_TP_MONTH, VIG_TP_YEAR };
/* VIG_ATOM_FIELDREF comparison modes. */
enum vig_refmode { VIG_REF_EQ = 0, VIG_REF_CONTAINS, VIG_REF_STARTS, VIG_REF_ENDS };

/* Flags of VIG_ATOM_STR regexes (mapped to Hyperscan and PCRE2 flags by the engine). */
#define VIG_RX_CASELESS 0x1u
#define VIG_RX_DOTALL 0x2u
#define VIG_RX_MULTILINE 0x4u
#define VIG_RX_USER 0x8u /* written by the rule author (`re`), not generated */

struct vig_sigma_atom {
	uint8_t kind;       /* enum vig_atom_kind */
	uint8_t cmp;        /* NUM, TIME: enum vig_cmp; FIELDREF: enum vig_refmode */
	uint8_t tpart;      /* TIME: enum vig_tpart */
	bool cased;         /* FIELDREF: case-sensitive comparison */
	unsigned rx_flags;  /* STR: VIG_RX_* */
	const char *field;  /* event-model field name */
	const char *field2; /* FIELDREF: the other field */
	const char *rx;     /* STR: the regex, NUL-free, NUL-terminated */
	double num;         /* NUM, TIME: operand */
	uint8_t lo[16], hi[16]; /* CIDR: inclusive range */
};

enum vig_node_op { VIG_NODE_ATOM = 0, VIG_NODE_AND, VIG_NODE_OR, VIG_NODE_NOT, VIG_NODE_NOF, VIG_NODE_TRUE,
		   VIG_NODE_FALSE };

struct vig_sigma_node {
	uint8_t op;  /* enum vig_node_op */
	uint32_t a;  /* ATOM: atom index; AND/OR/NOT/NOF: first child in kids[] */
	uint32_t n;  /* AND/OR/NOT/NOF: number of children */
	uint32_t k;  /* NOF: at least k children true */
};

struct vig_sigma_prog {
	struct vig_sigma_atom *atoms;
	uint32_t n_atoms, cap_atoms;
	struct vig_sigma_node *nodes;
	uint32_t n_nodes, cap_nodes;
	uint32_t *kids; /* child node indexes */
	uint32_t n_kids, cap_kids;
	uint32_t root;  /* node index of the condition */
};

/* Parses condition text over the named selections (roots[i] is the node of names[i]) into
 * prog; *root receives the node. Errors name the problem ("unknown selection 'x' in
 * condition"). */
enum vig_err vig_sigma_cond_parse(struct vig_sigma_prog *prog, const char *text,
				  const char *const *names, const uint32_t *roots, size_t n_names,
				  uint32_t *root, char *errbuf);

/* Appends a node with children kids[0..n) (copied); VIG_ENOMEM/VIG_ETOOBIG on failure. The
 * program's arrays are heap-allocated (bounded by VIG_SIGMA_MAX_ATOMS * 8 nodes). */
enum vig_err vig_sigma_prog_node(struct vig_sigma_prog *prog, uint8_t op, const uint32_t *kids, uint32_t n,
				 uint32_t k, uint32_t *out);
/* Frees the program's arrays (not the struct). */
void vig_sigma_prog_release(struct vig_sigma_prog *prog);

/* Evaluates node `node` of prog with atom i true iff bit (base + i) of bits is set. */
bool vig_sigma_prog_eval(const struct vig_sigma_prog *prog, uint32_t node, const uint64_t *bits, uint32_t base);

#endif
