/*
 * table.c - text tables for vigilctl (see table.h): width measurement of UTF-8, cutting with
 * an ellipsis, numeric right alignment.
 *
 * Cells are stored as copies, row-major, header row first. Rendering measures every cell
 * once to size the columns and once more while printing; tables are at most a search page
 * (10000 rows), so the second pass costs nothing worth caching.
 */
#include "table.h"

#include <stdlib.h>
#include <string.h>

#define ELLIPSIS "\xe2\x80\xa6" /* U+2026, one column */

struct vig_ctl_table {
	unsigned ncols;     /* columns */
	size_t max_width;   /* cap of a column, in terminal columns */
	size_t nrows;       /* rows stored, header included */
	size_t cap_rows;    /* rows allocated */
	char **cells;       /* nrows * ncols owned strings */
};

/* Decodes one UTF-8 sequence at s (n > 0 bytes); returns its length, 1 for an invalid byte
 * (with *cp = -1). */
static size_t utf8_next(const unsigned char *s, size_t n, long *cp)
{
	size_t len;
	long v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		v = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		v = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		v = s[0] & 0x07;
	} else {
		*cp = -1;
		return 1;
	}
	if (len > n) {
		*cp = -1;
		return 1;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = -1;
			return 1;
		}
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff)) {
		*cp = -1;
		return 1;
	}
	*cp = v;
	return len;
}

/* Terminal columns of one code point (-1 = invalid byte, shown as one column). */
static size_t cp_width(long cp)
{
	static const long zero[][2] = {
		{0x0300, 0x036f}, {0x0483, 0x0489}, {0x0591, 0x05bd}, {0x0610, 0x061a},
		{0x064b, 0x065f}, {0x200b, 0x200f}, {0x20d0, 0x20ff}, {0xfe00, 0xfe0f},
		{0xfe20, 0xfe2f},
	};
	static const long wide[][2] = {
		{0x1100, 0x115f}, {0x2e80, 0x303e}, {0x3041, 0x33ff}, {0x3400, 0x4dbf},
		{0x4e00, 0x9fff}, {0xa000, 0xa4cf}, {0xac00, 0xd7a3}, {0xf900, 0xfaff},
		{0xfe30, 0xfe4f}, {0xff00, 0xff60}, {0xffe0, 0xffe6}, {0x1f300, 0x1f64f},
		{0x1f900, 0x1f9ff}, {0x20000, 0x3fffd},
	};

	if (cp < 0)
		return 1;
	for (size_t i = 0; i < VIG_ARRAY_LEN(zero); i++)
		if (cp >= zero[i][0] && cp <= zero[i][1])
			return 0;
	for (size_t i = 0; i < VIG_ARRAY_LEN(wide); i++)
		if (cp >= wide[i][0] && cp <= wide[i][1])
			return 2;
	return 1;
}

size_t vig_ctl_utf8_width(const char *s, size_t n)
{
	size_t w = 0;
	long cp;

	for (size_t i = 0; i < n;) {
		i += utf8_next((const unsigned char *)s + i, n - i, &cp);
		w += cp_width(cp);
	}
	return w;
}

size_t vig_ctl_utf8_prefix(const char *s, size_t n, size_t width, size_t *used)
{
	size_t i = 0, w = 0;
	long cp;

	while (i < n) {
		size_t len = utf8_next((const unsigned char *)s + i, n - i, &cp);
		size_t cw = cp_width(cp);
		if (w + cw > width)
			break;
		w += cw;
		i += len;
	}
	if (used)
		*used = w;
	return i;
}

bool vig_ctl_is_number(const char *s)
{
	const char *p = s;
	bool digits = false;

	if (*p == '-')
		p++;
	while (*p >= '0' && *p <= '9') {
		p++;
		digits = true;
	}
	if (digits && *p == '.' && p[1] >= '0' && p[1] <= '9') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return digits && *p == '\0';
}

/* Copies s with control characters as spaces. */
static char *cell_dup(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	char *c = malloc(n + 1);

	if (!c)
		return NULL;
	for (size_t i = 0; i < n; i++)
		c[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? ' ' : s[i];
	c[n] = '\0';
	return c;
}

struct vig_ctl_table *vig_ctl_table_new(unsigned ncols, const char *const *headers,
					size_t max_width)
{
	struct vig_ctl_table *t;

	if (ncols == 0 || ncols > VIG_CTL_TABLE_MAX_COLS || !headers)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ncols = ncols;
	t->max_width = max_width ? VIG_MAX(max_width, 2) : VIG_CTL_TABLE_DEFAULT_WIDTH;
	if (vig_ctl_table_add_row(t, headers) != VIG_OK) {
		vig_ctl_table_free(t);
		return NULL;
	}
	return t;
}

void vig_ctl_table_free(struct vig_ctl_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

enum vig_err vig_ctl_table_add_row(struct vig_ctl_table *t, const char *const *cells)
{
	char **row;

	if (t->nrows > VIG_CTL_TABLE_MAX_ROWS)
		return VIG_ETOOBIG;
	if (t->nrows == t->cap_rows) {
		size_t cap = t->cap_rows ? t->cap_rows * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
		if (!c)
			return VIG_ENOMEM;
		t->cells = c;
		t->cap_rows = cap;
	}
	row = t->cells + t->nrows * t->ncols;
	for (unsigned i = 0; i < t->ncols; i++) {
		row[i] = cell_dup(cells[i]);
		if (!row[i]) {
			while (i-- > 0)
				free(row[i]);
			return VIG_ENOMEM;
		}
	}
	t->nrows++;
	return VIG_OK;
}

size_t vig_ctl_table_rows(const struct vig_ctl_table *t)
{
	return t->nrows - 1;
}

/* Appends cell s in a field of width w, cut with an ellipsis past w, padded unless last. */
static void put_cell(struct vig_buf *out, const char *s, size_t w, bool right, bool last)
{
	size_t n = strlen(s);
	size_t sw = vig_ctl_utf8_width(s, n);
	size_t used = sw;
	size_t pad;

	if (sw > w) {
		n = vig_ctl_utf8_prefix(s, n, w - 1, &used);
		used += 1;
	}
	pad = w - used;
	if (right)
		for (size_t i = 0; i < pad; i++)
			vig_buf_addc(out, ' ');
	vig_buf_add(out, s, n);
	if (sw > w)
		vig_buf_adds(out, ELLIPSIS);
	if (!right && !last)
		for (size_t i = 0; i < pad; i++)
			vig_buf_addc(out, ' ');
}

enum vig_err vig_ctl_table_render(const struct vig_ctl_table *t, struct vig_buf *out)
{
	size_t width[VIG_CTL_TABLE_MAX_COLS];
	bool right[VIG_CTL_TABLE_MAX_COLS];

	for (unsigned c = 0; c < t->ncols; c++) {
		bool any = false, numeric = true;
		width[c] = 0;
		for (size_t r = 0; r < t->nrows; r++) {
			const char *s = t->cells[r * t->ncols + c];
			width[c] = VIG_MAX(width[c], vig_ctl_utf8_width(s, strlen(s)));
			if (r > 0 && *s) {
				any = true;
				numeric = numeric && vig_ctl_is_number(s);
			}
		}
		width[c] = VIG_MIN(width[c], t->max_width);
		right[c] = any && numeric;
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (unsigned c = 0; c < t->ncols; c++) {
			if (c > 0)
				vig_buf_adds(out, "  ");
			put_cell(out, t->cells[r * t->ncols + c], width[c], right[c],
				 c + 1 == t->ncols);
		}
		/* A last column that is empty or left-aligned may leave blanks from separators. */
		while (out->len > 0 && out->data[out->len - 1] == ' ')
			out->len--;
		if (out->data)
			out->data[out->len] = '\0';
		vig_buf_addc(out, '\n');
	}
	return vig_buf_err(out);
}
