#include "common/yamldoc.h"
#include "common/alloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int syntax_error(const char *file, yaml_parser_t *p, struct af_err *err)
{
	yaml_mark_t m = p->problem_mark;

	if (p->error == YAML_MEMORY_ERROR)
		return af_errf(err, AF_ENOMEM, "%s: out of memory", file);
	return af_errf(err, AF_EPARSE, "%s:%zu:%zu: YAML syntax: %s", file,
		       m.line + 1, m.column + 1,
		       p->problem ? p->problem : "error");
}

/* ------------------------------------------------------ depth pre-scan */

/* A cheap pass over the raw bytes, before libyaml sees them (its parse of
 * deeply nested input is quadratic): flow brackets outside quotes and
 * comments, plus one level per deeper block indentation or "- " item on a
 * line. It may overestimate (a plain scalar like "a[b"), never needs more
 * than one pass, and refuses anything deeper than AF_YAML_MAX_DEPTH with the
 * position of the first byte too deep. */
struct prescan {
	size_t line, col;
	unsigned flow; /* open [ and { */
	size_t nblock; /* open block levels */
	size_t block[AF_YAML_MAX_DEPTH + 1];
	char quote;	    /* 0, '\'' or '"' */
	bool comment;	    /* in a # comment until the end of the line */
	bool line_start;    /* only spaces so far on this line */
	bool token_start;   /* previous byte was blank, [ { , or line start */
	long scalar_indent; /* in a | or > block scalar: its parent's indent */
	size_t indent;	    /* of the current line */
	bool pending_bs;    /* saw | or > on this line */
};

static int too_deep(const char *file, const struct prescan *p,
		    struct af_err *err)
{
	return af_errf(err, AF_EPARSE,
		       "%s:%zu:%zu: nested deeper than %d levels: flatten the "
		       "document",
		       file, p->line, p->col, AF_YAML_MAX_DEPTH);
}

/* A block level at column col (the line's indent, or after "- "). */
static int push_block(const char *file, struct prescan *p, size_t col,
		      struct af_err *err)
{
	while (p->nblock > 0 && p->block[p->nblock - 1] > col)
		p->nblock--;
	if (p->nblock > 0 && p->block[p->nblock - 1] == col)
		return 0;
	if (p->nblock + p->flow >= AF_YAML_MAX_DEPTH)
		return too_deep(file, p, err);
	p->block[p->nblock++] = col;
	return 0;
}

/* The first non-blank byte of a line at p->indent. */
static int line_begins(const char *file, struct prescan *p, char c,
		       struct af_err *err)
{
	if (p->scalar_indent >= 0) {
		if ((long)p->indent > p->scalar_indent)
			return 1; /* block scalar content: skip the line */
		p->scalar_indent = -1;
	}
	p->line_start = false;
	if (c == '#' || p->flow > 0 || p->quote != 0)
		return 0;
	return push_block(file, p, p->indent, err);
}

static int scan_byte(const char *file, struct prescan *p, const char *buf,
		     size_t i, size_t len, struct af_err *err)
{
	char c = buf[i];
	bool tok = p->token_start;

	p->token_start =
		c == ' ' || c == '\t' || c == '[' || c == '{' || c == ',';
	if (p->comment)
		return 0;
	if (p->quote == '"') {
		if (c == '\\' && i + 1 < len && buf[i + 1] != '\n')
			return 2; /* skip the escaped byte */
		if (c == '"')
			p->quote = 0;
		return 0;
	}
	if (p->quote == '\'') {
		if (c == '\'' && i + 1 < len && buf[i + 1] == '\'')
			return 2;
		if (c == '\'')
			p->quote = 0;
		return 0;
	}
	switch (c) {
	case '#':
		if (tok)
			p->comment = true;
		break;
	case '"':
	case '\'':
		if (tok)
			p->quote = c;
		break;
	case '[':
	case '{':
		if (p->flow == 0 && !tok)
			break;
		if (p->nblock + p->flow >= AF_YAML_MAX_DEPTH)
			return too_deep(file, p, err);
		p->flow++;
		break;
	case ']':
	case '}':
		if (p->flow > 0)
			p->flow--;
		break;
	case '-':
		if (p->flow == 0 && tok && i + 1 < len &&
		    (buf[i + 1] == ' ' || buf[i + 1] == '\t')) {
			size_t k = i + 1;

			while (k < len && (buf[k] == ' ' || buf[k] == '\t'))
				k++;
			if (k < len && buf[k] != '\n' && buf[k] != '#')
				return push_block(file, p, p->col + k - i - 1,
						  err);
		}
		break;
	case '|':
	case '>':
		if (p->flow == 0 && tok)
			p->pending_bs = true;
		break;
	default:
		break;
	}
	return 0;
}

int af_yaml_check_depth(const char *file, const char *buf, size_t len,
			struct af_err *err)
{
	struct prescan p = {.line = 1,
			    .col = 0,
			    .line_start = true,
			    .token_start = true,
			    .scalar_indent = -1};
	int rc;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		p.col++;
		if (c == '\n') {
			if (p.pending_bs && p.scalar_indent < 0)
				p.scalar_indent = (long)p.indent;
			p.pending_bs = false;
			p.line++;
			p.col = 0;
			p.indent = 0;
			p.comment = false;
			p.line_start = true;
			p.token_start = true;
			continue;
		}
		if (p.line_start) {
			if (c == ' ' || c == '\t' || c == '\r') {
				p.indent++;
				continue;
			}
			rc = line_begins(file, &p, c, err);
			if (rc < 0)
				return rc;
			if (rc > 0) {
				/* skip to the end of the line */
				while (i + 1 < len && buf[i + 1] != '\n')
					i++;
				continue;
			}
		}
		if (p.pending_bs && c != ' ' && c != '\t' && c != '+' &&
		    c != '-' && !(c >= '0' && c <= '9') && c != '#' &&
		    c != '|' && c != '>')
			p.pending_bs = false;
		rc = scan_byte(file, &p, buf, i, len, err);
		if (rc < 0)
			return rc;
		if (rc == 2) {
			i++;
			p.col++;
		}
	}
	return 0;
}

/* Tags (!!str, !foo) would change what a scalar means: refused rather
 * than silently ignored. */
static int check_tag(const char *file, const yaml_event_t *ev,
		     struct af_err *err)
{
	const yaml_char_t *tag = ev->type == YAML_SCALAR_EVENT
					 ? ev->data.scalar.tag
				 : ev->type == YAML_SEQUENCE_START_EVENT
					 ? ev->data.sequence_start.tag
					 : ev->data.mapping_start.tag;

	if (tag == NULL)
		return 0;
	return af_errf(err, AF_EPARSE,
		       "%s:%zu:%zu: YAML tags are not supported (%.40s): "
		       "remove the tag",
		       file, ev->start_mark.line + 1, ev->start_mark.column + 1,
		       (const char *)tag);
}

/* A scalar or the start of a collection: depth, tag, node count, no
 * anchor. */
static int check_node(const char *file, const yaml_event_t *ev, size_t *depth,
		      size_t *nodes, size_t max_nodes, struct af_err *err)
{
	const yaml_char_t *anchor;
	int rc;

	if (ev->type != YAML_SCALAR_EVENT && ++*depth > AF_YAML_MAX_DEPTH)
		return af_errf(err, AF_EPARSE,
			       "%s:%zu:%zu: nested deeper than %d levels: "
			       "flatten the document",
			       file, ev->start_mark.line + 1,
			       ev->start_mark.column + 1, AF_YAML_MAX_DEPTH);
	if ((rc = check_tag(file, ev, err)) != 0)
		return rc;
	if (++*nodes > max_nodes)
		return af_errf(err, AF_EPARSE,
			       "%s:%zu:%zu: more than %zu nodes", file,
			       ev->start_mark.line + 1,
			       ev->start_mark.column + 1, max_nodes);
	anchor = ev->type == YAML_SCALAR_EVENT ? ev->data.scalar.anchor
		 : ev->type == YAML_SEQUENCE_START_EVENT
			 ? ev->data.sequence_start.anchor
			 : ev->data.mapping_start.anchor;
	if (anchor != NULL)
		return af_errf(err, AF_EPARSE,
			       "%s:%zu:%zu: anchors are not supported", file,
			       ev->start_mark.line + 1,
			       ev->start_mark.column + 1);
	return 0;
}

/* First pass over events: syntax errors with positions, no aliases or
 * anchors, exactly one document, a bounded number of nodes. */
static int scan_events(const char *file, const char *buf, size_t len,
		       size_t max_nodes, struct af_err *err)
{
	yaml_parser_t p;
	yaml_event_t ev;
	size_t nodes = 0, docs = 0, depth = 0;
	int rc = 0, done = 0;

	if (!yaml_parser_initialize(&p))
		return af_errf(err, AF_ENOMEM, "%s: out of memory", file);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = syntax_error(file, &p, err);
			break;
		}
		switch (ev.type) {
		case YAML_ALIAS_EVENT:
			rc = af_errf(err, AF_EPARSE,
				     "%s:%zu:%zu: aliases are not supported",
				     file, ev.start_mark.line + 1,
				     ev.start_mark.column + 1);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			rc = check_node(file, &ev, &depth, &nodes, max_nodes,
					err);
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				rc = af_errf(err, AF_EPARSE,
					     "%s:%zu:%zu: more than one YAML "
					     "document",
					     file, ev.start_mark.line + 1,
					     ev.start_mark.column + 1);
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (rc != 0)
			break;
	}
	yaml_parser_delete(&p);
	if (rc == 0 && nodes == 0)
		rc = af_errf(err, AF_EPARSE, "%s:1:1: empty document", file);
	return rc;
}

int af_yaml_load(const char *file, const char *buf, size_t len,
		 size_t max_nodes, struct af_yaml **ret, struct af_err *err)
{
	yaml_parser_t p;
	struct af_yaml *y;
	int rc;

	/* Empty protobuf bytes arrive as NULL: libyaml asserts on those. */
	if (buf == NULL || len == 0)
		return af_errf(err, AF_EPARSE, "%s:1:1: empty document", file);
	if ((rc = af_yaml_check_depth(file, buf, len, err)) != 0)
		return rc;
	rc = scan_events(file, buf, len, max_nodes, err);
	if (rc != 0)
		return rc;
	y = af_calloc(1, sizeof(*y));
	if (y == NULL)
		return af_errf(err, AF_ENOMEM, "%s: out of memory", file);
	snprintf(y->file, sizeof(y->file), "%s", file);
	if (!yaml_parser_initialize(&p)) {
		af_free(y);
		return af_errf(err, AF_ENOMEM, "%s: out of memory", file);
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&p, &y->doc)) {
		rc = syntax_error(file, &p, err);
		yaml_parser_delete(&p);
		af_free(y);
		return rc;
	}
	yaml_parser_delete(&p);
	if (yaml_document_get_root_node(&y->doc) == NULL) {
		yaml_document_delete(&y->doc);
		af_free(y);
		return af_errf(err, AF_EPARSE, "%s:1:1: empty document", file);
	}
	*ret = y;
	return 0;
}

void af_yaml_free(struct af_yaml *y)
{
	if (y == NULL)
		return;
	yaml_document_delete(&y->doc);
	af_free(y);
}

yaml_node_t *af_yaml_root(struct af_yaml *y)
{
	return yaml_document_get_root_node(&y->doc);
}

int af_yaml_errf(struct af_yaml *y, const yaml_node_t *n, struct af_err *err,
		 const char *fmt, ...)
{
	char msg[AF_ERRMSG_SIZE];
	va_list ap;

	if (err == NULL)
		return AF_EPARSE;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n != NULL)
		return af_errf(err, AF_EPARSE, "%s:%zu:%zu: %s", y->file,
			       n->start_mark.line + 1, n->start_mark.column + 1,
			       msg);
	return af_errf(err, AF_EPARSE, "%s: %s", y->file, msg);
}

const char *af_yaml_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

int af_yaml_expect_map(struct af_yaml *y, yaml_node_t *n, const char *what,
		       struct af_err *err)
{
	if (n->type != YAML_MAPPING_NODE)
		return af_yaml_errf(y, n, err, "%s: expected a mapping, got %s",
				    what, af_yaml_kind(n));
	return 0;
}

int af_yaml_expect_seq(struct af_yaml *y, yaml_node_t *n, const char *what,
		       size_t max_items, struct af_err *err)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return af_yaml_errf(y, n, err, "%s: expected a list, got %s",
				    what, af_yaml_kind(n));
	if (af_yaml_len(n) > max_items)
		return af_yaml_errf(y, n, err, "%s: more than %zu items", what,
				    max_items);
	return 0;
}

size_t af_yaml_len(const yaml_node_t *n)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return (size_t)(n->data.sequence.items.top -
				n->data.sequence.items.start);
	if (n->type == YAML_MAPPING_NODE)
		return (size_t)(n->data.mapping.pairs.top -
				n->data.mapping.pairs.start);
	return 0;
}

yaml_node_t *af_yaml_item(struct af_yaml *y, yaml_node_t *seq, size_t i)
{
	return yaml_document_get_node(&y->doc,
				      seq->data.sequence.items.start[i]);
}

yaml_node_t *af_yaml_key(struct af_yaml *y, yaml_node_t *map, size_t i)
{
	return yaml_document_get_node(&y->doc,
				      map->data.mapping.pairs.start[i].key);
}

yaml_node_t *af_yaml_value(struct af_yaml *y, yaml_node_t *map, size_t i)
{
	return yaml_document_get_node(&y->doc,
				      map->data.mapping.pairs.start[i].value);
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

int af_yaml_check_keys(struct af_yaml *y, yaml_node_t *map,
		       const char *const keys[], struct af_err *err)
{
	size_t n = af_yaml_len(map);

	for (size_t i = 0; i < n; i++) {
		yaml_node_t *k = af_yaml_key(y, map, i);
		bool known = false;

		if (k->type != YAML_SCALAR_NODE)
			return af_yaml_errf(y, k, err,
					    "keys must be strings, got %s",
					    af_yaml_kind(k));
		for (size_t j = 0; keys[j] != NULL; j++)
			if (strcmp(scalar(k), keys[j]) == 0)
				known = true;
		if (!known)
			return af_yaml_errf(y, k, err, "unknown key \"%.64s\"",
					    scalar(k));
		for (size_t j = 0; j < i; j++)
			if (strcmp(scalar(af_yaml_key(y, map, j)), scalar(k)) ==
			    0)
				return af_yaml_errf(y, k, err,
						    "duplicate key \"%.64s\"",
						    scalar(k));
	}
	return 0;
}

yaml_node_t *af_yaml_get(struct af_yaml *y, yaml_node_t *map, const char *key)
{
	size_t n = af_yaml_len(map);

	if (map->type != YAML_MAPPING_NODE)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *k = af_yaml_key(y, map, i);

		if (k->type == YAML_SCALAR_NODE && strcmp(scalar(k), key) == 0)
			return af_yaml_value(y, map, i);
	}
	return NULL;
}

static bool is_null(const yaml_node_t *n)
{
	const char *s = scalar(n);

	return is_plain(n) &&
	       (s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
		strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0);
}

int af_yaml_str(struct af_yaml *y, yaml_node_t *n, const char *what,
		size_t maxlen, const char **ret, struct af_err *err)
{
	size_t len;

	if (n->type != YAML_SCALAR_NODE)
		return af_yaml_errf(y, n, err, "%s: expected a string, got %s",
				    what, af_yaml_kind(n));
	if (is_null(n) || n->data.scalar.length == 0)
		return af_yaml_errf(y, n, err, "%s: must not be empty", what);
	len = n->data.scalar.length;
	if (len > maxlen)
		return af_yaml_errf(y, n, err, "%s: longer than %zu bytes",
				    what, maxlen);
	if (memchr(scalar(n), '\0', len) != NULL)
		return af_yaml_errf(y, n, err, "%s: contains a NUL byte", what);
	*ret = scalar(n);
	return 0;
}

int af_yaml_int(struct af_yaml *y, yaml_node_t *n, const char *what,
		int64_t min, int64_t max, int64_t *ret, struct af_err *err)
{
	const char *s;
	char *end;
	long long v;

	if (n->type != YAML_SCALAR_NODE || !is_plain(n))
		return af_yaml_errf(y, n, err, "%s: expected an integer", what);
	s = scalar(n);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 ||
	    (s[0] != '-' && (s[0] < '0' || s[0] > '9')))
		return af_yaml_errf(y, n, err,
				    "%s: expected an integer, got \"%.32s\"",
				    what, s);
	if (v < min || v > max)
		return af_yaml_errf(y, n, err,
				    "%s: %lld is out of range [%" PRId64
				    ", %" PRId64 "]",
				    what, v, min, max);
	*ret = v;
	return 0;
}

int af_yaml_bool(struct af_yaml *y, yaml_node_t *n, const char *what, bool *ret,
		 struct af_err *err)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || !is_plain(n))
		return af_yaml_errf(y, n, err, "%s: expected true or false",
				    what);
	s = scalar(n);
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0) {
		*ret = true;
		return 0;
	}
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0) {
		*ret = false;
		return 0;
	}
	return af_yaml_errf(y, n, err,
			    "%s: expected true or false, got "
			    "\"%.32s\"",
			    what, s);
}

int af_yaml_fixed(struct af_yaml *y, yaml_node_t *n, const char *what,
		  int64_t scale, int64_t min, int64_t max, int64_t *ret,
		  struct af_err *err)
{
	const char *s, *p;
	int64_t whole = 0, frac = 0, fscale = scale, v;
	bool neg = false, digits = false;

	if (n->type != YAML_SCALAR_NODE || !is_plain(n))
		return af_yaml_errf(y, n, err, "%s: expected a number", what);
	s = p = scalar(n);
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	for (; *p >= '0' && *p <= '9'; p++) {
		digits = true;
		if (whole > (INT64_MAX / 10 - 9) / scale)
			goto out_range;
		whole = whole * 10 + (*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			digits = true;
			fscale /= 10;
			if (fscale == 0) {
				if (*p != '0')
					return af_yaml_errf(
						y, n, err,
						"%s: \"%.32s\" has more "
						"decimal places than "
						"supported",
						what, s);
				continue;
			}
			frac += (*p - '0') * fscale;
		}
	}
	if (!digits || *p != '\0')
		return af_yaml_errf(y, n, err,
				    "%s: expected a number, got \"%.32s\"",
				    what, s);
	v = whole * scale + frac;
	if (neg)
		v = -v;
	if (v < min || v > max)
		goto out_range;
	*ret = v;
	return 0;
out_range:
	return af_yaml_errf(y, n, err, "%s: \"%.32s\" is out of range", what,
			    s);
}
