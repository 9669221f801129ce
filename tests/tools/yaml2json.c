/* yaml2json: reads one YAML document on stdin (libyaml's parser, core
 * schema for plain scalars) and prints it as compact JSON, so scenarios
 * can check that `af -o yaml` is real YAML holding the same document as
 * `af -o json`. Exit 1 with a message on a parse error. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64

static json_t *plain(const char *s)
{
	char *end;
	long long i;
	double d;

	if (!strcmp(s, "null") || !strcmp(s, "~") || !*s)
		return json_null();
	if (!strcmp(s, "true"))
		return json_true();
	if (!strcmp(s, "false"))
		return json_false();
	i = strtoll(s, &end, 10);
	if (*end == '\0')
		return json_integer(i);
	d = strtod(s, &end);
	if (*end == '\0')
		return json_real(d);
	return json_string(s);
}

static json_t *node(yaml_parser_t *p, yaml_event_t *ev, int depth);

static int next(yaml_parser_t *p, yaml_event_t *ev)
{
	if (!yaml_parser_parse(p, ev)) {
		fprintf(stderr, "yaml2json: line %zu: %s\n",
			p->problem_mark.line + 1,
			p->problem ? p->problem : "parse error");
		return -1;
	}
	return 0;
}

static json_t *node(yaml_parser_t *p, yaml_event_t *ev, int depth)
{
	json_t *v = NULL;
	yaml_event_t e;

	if (depth > MAX_DEPTH)
		return NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			return plain((const char *)ev->data.scalar.value);
		return json_stringn((const char *)ev->data.scalar.value,
				    ev->data.scalar.length);
	case YAML_SEQUENCE_START_EVENT:
		v = json_array();
		for (;;) {
			json_t *x;

			if (next(p, &e) != 0)
				return NULL;
			if (e.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&e);
				return v;
			}
			x = node(p, &e, depth + 1);
			yaml_event_delete(&e);
			if (x == NULL)
				return NULL;
			json_array_append_new(v, x);
		}
	case YAML_MAPPING_START_EVENT:
		v = json_object();
		for (;;) {
			json_t *x;
			char *k;

			if (next(p, &e) != 0)
				return NULL;
			if (e.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&e);
				return v;
			}
			if (e.type != YAML_SCALAR_EVENT) {
				fprintf(stderr, "yaml2json: non-scalar key\n");
				return NULL;
			}
			k = strdup((const char *)e.data.scalar.value);
			yaml_event_delete(&e);
			if (k == NULL || next(p, &e) != 0)
				return NULL;
			x = node(p, &e, depth + 1);
			yaml_event_delete(&e);
			if (x == NULL)
				return NULL;
			json_object_set_new(v, k, x);
			free(k);
		}
	default:
		fprintf(stderr, "yaml2json: unexpected event %d\n", ev->type);
		return NULL;
	}
}

int main(void)
{
	yaml_parser_t p;
	yaml_event_t e;
	json_t *doc = NULL;

	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, stdin);
	for (;;) { /* stream start, document start, the node */
		if (next(&p, &e) != 0)
			return 1;
		if (e.type == YAML_STREAM_END_EVENT) {
			fprintf(stderr, "yaml2json: no document\n");
			return 1;
		}
		if (e.type != YAML_STREAM_START_EVENT &&
		    e.type != YAML_DOCUMENT_START_EVENT)
			break;
		yaml_event_delete(&e);
	}
	doc = node(&p, &e, 0);
	yaml_event_delete(&e);
	if (doc == NULL)
		return 1;
	if (next(&p, &e) != 0 || e.type != YAML_DOCUMENT_END_EVENT) {
		fprintf(stderr, "yaml2json: more than one node\n");
		return 1;
	}
	yaml_event_delete(&e);
	json_dumpf(doc, stdout, JSON_COMPACT | JSON_ENCODE_ANY);
	putchar('\n');
	json_decref(doc);
	yaml_parser_delete(&p);
	return 0;
}
