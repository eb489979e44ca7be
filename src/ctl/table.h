/*
 * table.h - the text table printer of vigilctl.
 *
 * Column widths come from the content (header and cells), each capped at a maximum display
 * width; a longer cell is cut on a character boundary and ends in "…". Widths are counted in
 * terminal columns: UTF-8 sequences are never split, combining marks take no column, East
 * Asian wide characters and emoji take two, and an invalid byte takes one. Control characters
 * in cells print as spaces so that one row stays one line. A column whose non-empty cells are
 * all numbers is right-aligned. Columns are separated by two spaces; lines carry no trailing
 * blanks.
 */
#ifndef VIG_CTL_TABLE_H
#define VIG_CTL_TABLE_H

#include <stddef.h>

#include "common/buf.h"
#include "common/vig.h"

#define VIG_CTL_TABLE_MAX_COLS 32        /* most columns */
#define VIG_CTL_TABLE_MAX_ROWS 1000000   /* most data rows */
#define VIG_CTL_TABLE_DEFAULT_WIDTH 40   /* default cap of one column, in terminal columns */

struct vig_ctl_table;

/* A table with ncols columns named by headers (copied); max_width caps each column's
 * display width (0 = VIG_CTL_TABLE_DEFAULT_WIDTH, at least 2). NULL on bad arguments or no
 * memory. */
struct vig_ctl_table *vig_ctl_table_new(unsigned ncols, const char *const *headers,
					size_t max_width);
/* Frees t; NULL does nothing. */
void vig_ctl_table_free(struct vig_ctl_table *t);
/* Appends a row of ncols cells (copied; a NULL cell is empty). VIG_ETOOBIG past the row
 * limit, VIG_ENOMEM. */
enum vig_err vig_ctl_table_add_row(struct vig_ctl_table *t, const char *const *cells);
/* Number of data rows. */
size_t vig_ctl_table_rows(const struct vig_ctl_table *t);
/* Appends the rendered table (header line, then one line per row) to out. */
enum vig_err vig_ctl_table_render(const struct vig_ctl_table *t, struct vig_buf *out);

/* Display width of the UTF-8 text [s, s+n). */
size_t vig_ctl_utf8_width(const char *s, size_t n);
/* Bytes of the longest prefix of [s, s+n) whose display width is at most width, never
 * splitting a UTF-8 sequence; its width goes to *used when used is not NULL. */
size_t vig_ctl_utf8_prefix(const char *s, size_t n, size_t width, size_t *used);
/* True when s looks like a number: optional '-', digits, optional fraction. */
bool vig_ctl_is_number(const char *s);

#endif
