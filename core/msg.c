#include "build-config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agentbus/json.h>

#include "core/jsonparse.h"
#include "core/jsonskim.h"
#include "core/msg.h"

struct ab_msg {
	unsigned refs;
	bool submitted;
	size_t len;
	char *json;           /* in the same allocation, NUL-terminated */
	char *type;           /* likewise */
	char *correlation_id; /* likewise, or NULL */
	char *source;         /* separate allocation, set at submit */
	yajl_val tree;        /* parsed on first use */
	/* Where the top-level correlation_id value (with its quotes) sits in
	 * json, for rewriting it without a re-serialization; 0/0 when absent. */
	size_t cid_start, cid_end;
};

static size_t limit_size = 1024 * 1024;
static unsigned limit_depth = 64;

void msg_set_limits(size_t max_size, unsigned max_depth)
{
	limit_size = max_size;
	limit_depth = max_depth;
}

unsigned msg_max_depth(void)
{
	return limit_depth;
}

/* ---- the extracting parse ---------------------------------------------- */

/* The routing fields, as the scan meets the top-level members. */
struct scan {
	const char *text;            /* what is scanned (for a skim's offsets) */
	size_t type_start, type_end; /* the value's bytes, quotes included; 0/0: absent */
	size_t cid_start, cid_end;
	const char *problem; /* why the scan stopped (invalid_message) */
	bool escaped_key;    /* the skim met one: the checking parse decides */
};

/* Which routing field a key names: 't' for type, 'c' for correlation_id,
 * 0 for neither. */
static char routing_field(const char *key, size_t len)
{
	if (len == 4 && memcmp(key, "type", 4) == 0)
		return 't';
	if (len == 14 && memcmp(key, "correlation_id", 14) == 0)
		return 'c';
	return 0;
}

/* The message rules for a routing field's value (string: whether it is
 * one; decoded[0..n): its text), kept in s when they hold: false, with
 * s->problem, when not. */
static bool take_field(struct scan *s, char field, bool string, const char *decoded, size_t n, size_t start,
                       size_t end)
{
	bool is_type = field == 't';
	/* Two values for a routing field would let two parsers disagree on where
	 * a message goes. */
	size_t *at = is_type ? &s->type_start : &s->cid_start, *to = is_type ? &s->type_end : &s->cid_end;
	if (*to)
		s->problem = is_type ? "duplicate 'type'" : "duplicate 'correlation_id'";
	else if (!string)
		s->problem = is_type ? "'type' must be a string" : "'correlation_id' must be a string";
	else if (memchr(decoded, '\0', n))
		s->problem = "routing fields must not contain NUL";
	else if (is_type && n == 0)
		s->problem = "'type' must not be empty";
	if (s->problem)
		return false;
	*at = start;
	*to = end;
	return true;
}

static bool scan_member(void *ctx, const struct jsonparse_member *m)
{
	char field = routing_field(m->key, m->key_len);
	if (!field)
		return true;
	bool string = m->type == yajl_t_string;
	return take_field(ctx, field, string, string ? m->string : "", string ? m->string_len : 0, m->start, m->end);
}

static void set_error(struct ab_parse_error *err, const char *type, const char *text)
{
	if (!err)
		return;
	err->error_type = type;
	snprintf(err->message, sizeof err->message, "%s", text);
}

/* One allocation: the message, its bytes (left for the caller to fill) and
 * its routing fields' room (type_len and cid_len bytes at most, decoded). */
static ab_msg *msg_alloc(size_t len, size_t type_len, size_t cid_len, bool has_cid)
{
	ab_msg *msg = malloc(sizeof *msg + len + 1 + type_len + 1 + (has_cid ? cid_len + 1 : 0));
	if (!msg)
		return NULL;
	*msg = (struct ab_msg){ .refs = 1, .len = len };
	msg->json = (char *)(msg + 1);
	msg->json[len] = '\0';
	msg->type = msg->json + len + 1;
	if (has_cid)
		msg->correlation_id = msg->type + type_len + 1;
	return msg;
}

/* The message of json[0..len), whose routing fields s found: copied into
 * one allocation, with the fields decoded. */
static ab_msg *make(const char *json, size_t len, const struct scan *s, struct ab_parse_error *err)
{
	size_t type_len = s->type_end - s->type_start, cid_len = s->cid_end - s->cid_start;
	ab_msg *msg = msg_alloc(len, type_len, cid_len, s->cid_end != 0);
	if (!msg) {
		set_error(err, AB_ERR_INTERNAL_ERROR, "out of memory");
		return NULL;
	}
	memcpy(msg->json, json, len);
	jsonparse_string(json + s->type_start, type_len, msg->type);
	if (s->cid_end) {
		jsonparse_string(json + s->cid_start, cid_len, msg->correlation_id);
		msg->cid_start = s->cid_start;
		msg->cid_end = s->cid_end;
	}
	return msg;
}

static ab_msg *parse_limited(const char *json, size_t len, size_t max_size, unsigned max_depth,
                             struct ab_parse_error *err)
{
	if (len > max_size) {
		char text[96];
		snprintf(text, sizeof text, "message of %zu bytes exceeds the limit of %zu", len,
		         max_size);
		set_error(err, AB_ERR_MESSAGE_TOO_LARGE, text);
		return NULL;
	}
	struct scan s = { 0 };
	struct jsonparse_error perr;
	yajl_type root = yajl_t_any;
	enum jsonparse_status status = jsonparse_scan(json, len, max_depth, scan_member, &s, &root, &perr);
	if (status == JSONPARSE_OK && root != yajl_t_object)
		status = JSONPARSE_STOPPED, s.problem = "a message must be a JSON object";
	if (status == JSONPARSE_OK && !s.type_end)
		status = JSONPARSE_STOPPED, s.problem = "a message needs a string 'type'";
	if (status != JSONPARSE_OK) {
		char text[160];
		if (status == JSONPARSE_SYNTAX)
			snprintf(text, sizeof text, "malformed JSON: %s", perr.text);
		set_error(err,
		          status == JSONPARSE_SYNTAX      ? AB_ERR_INVALID_JSON
		          : status == JSONPARSE_NO_MEMORY ? AB_ERR_INTERNAL_ERROR
		                                          : AB_ERR_INVALID_MESSAGE,
		          status == JSONPARSE_SYNTAX ? text : status == JSONPARSE_STOPPED ? s.problem : perr.text);
		return NULL;
	}
	return make(json, len, &s, err);
}

/* A top-level member of written text, as scan_member takes a parsed one.
 * A key is as the writer wrote it, escaped only where JSON requires, so
 * its bytes are the key; a string value is decoded to be checked. */
static bool skim_member(void *ctx, const struct jsonskim_member *m)
{
	struct scan *s = ctx;
	if (memchr(m->key, '\\', m->key_len)) {
		/* An escape in a key, which the writer never makes but raw bytes
		 * at the top may hold ("typ\u0065"): its bytes are not the key. */
		s->escaped_key = true;
		return false;
	}
	char field = routing_field(m->key, m->key_len);
	if (!field)
		return true;
	size_t start = (size_t)(m->value - s->text), end = start + m->value_len;
	if (m->value_len < 2 || m->value[0] != '"')
		return take_field(s, field, false, "", 0, start, end);
	char local[64], *decoded = m->value_len <= sizeof local ? local : malloc(m->value_len);
	if (!decoded) {
		s->problem = "out of memory";
		return false;
	}
	size_t n = jsonparse_string(m->value, m->value_len, decoded);
	bool taken = take_field(s, field, true, decoded, n, start, end);
	if (decoded != local)
		free(decoded);
	return taken;
}

/* What a writer wrote is JSON by construction (structure, escapes, UTF-8;
 * the bytes of ab_json_raw come from checked text): its routing fields are
 * found without checking it again. */
static ab_msg *build_written(const char *json, size_t len, struct ab_parse_error *err)
{
	struct scan s = { .text = json };
	bool object = jsonskim_members(json, len, skim_member, &s);
	if (s.escaped_key)
		return msg_build(json, len, err);
	if (!object && !s.problem)
		s.problem = "a message must be a JSON object";
	if (!s.problem && !s.type_end)
		s.problem = "a message needs a string 'type'";
	if (s.problem) {
		set_error(err, AB_ERR_INVALID_MESSAGE, s.problem);
		return NULL;
	}
	return make(json, len, &s, err);
}

ab_msg *msg_parse(const char *json, size_t len, struct ab_parse_error *err)
{
	return parse_limited(json, len, limit_size, limit_depth, err);
}

ab_msg *msg_build(const char *json, size_t len, struct ab_parse_error *err)
{
	return parse_limited(json, len, SIZE_MAX, UINT_MAX, err);
}

ab_msg *msg_build_written(const ab_json *g, struct ab_parse_error *err)
{
	size_t len;
	const char *json = ab_json_output(g, &len);
	if (!json) {
		set_error(err, AB_ERR_INTERNAL_ERROR,
		          "the message could not be written (out of memory, a misused writer or a string "
		          "that is not UTF-8)");
		return NULL;
	}
#ifdef AB_CHECK_WRITTEN
	/* Test builds (--enable-sanitizers) check it whole first, as an
	 * assertion that plugins keep the writer's contract, and then that the
	 * skim finds what the checking parse does. */
	struct ab_parse_error full, skimmed;
	ab_msg *checked = msg_build(json, len, &full);
	if (!checked && strcmp(full.error_type, AB_ERR_INVALID_JSON) == 0) {
		fprintf(stderr, "agentbus: a plugin wrote text that is not JSON (%s): %.*s\n", full.message, (int)len,
		        json);
		abort();
	}
	ab_msg *msg = build_written(json, len, &skimmed);
	bool same = checked ? msg && strcmp(msg->type, checked->type) == 0 &&
	                              !msg->correlation_id == !checked->correlation_id &&
	                              (!msg->correlation_id || strcmp(msg->correlation_id, checked->correlation_id) == 0) &&
	                              msg->cid_start == checked->cid_start && msg->cid_end == checked->cid_end
	                    : !msg && strcmp(skimmed.message, full.message) == 0;
	if (!same) {
		fprintf(stderr, "agentbus: the skim read written text otherwise than the parse (%s): %.*s\n",
		        checked ? "a message" : full.message, (int)len, json);
		abort();
	}
	msg_unref(checked);
	if (err && !msg)
		*err = skimmed;
#else
	ab_msg *msg = build_written(json, len, err);
#endif
	return msg;
}

/* ---- references and accessors ------------------------------------------ */

ab_msg *msg_ref(ab_msg *msg)
{
	msg->refs++;
	return msg;
}

void msg_unref(ab_msg *msg)
{
	if (!msg || --msg->refs > 0)
		return;
	jsonparse_free(msg->tree);
	free(msg->source);
	free(msg);
}

const char *msg_type(const ab_msg *msg)
{
	return msg->type;
}

const char *msg_correlation_id(const ab_msg *msg)
{
	return msg->correlation_id;
}

const char *msg_source(const ab_msg *msg)
{
	return msg->source;
}

const char *msg_json(const ab_msg *msg, size_t *len)
{
	if (len)
		*len = msg->len;
	return msg->json;
}

yajl_val msg_tree(ab_msg *msg)
{
	/* The bytes were validated at parse, so this fails only without memory. */
	if (!msg->tree)
		msg->tree = jsonparse_tree(msg->json, msg->len, UINT_MAX, NULL);
	return msg->tree;
}

const char *msg_get_string(ab_msg *msg, const char *key)
{
	yajl_val tree = msg_tree(msg);
	const char *path[] = { key, NULL };
	yajl_val value = tree ? yajl_tree_get(tree, path, yajl_t_string) : NULL;
	return value ? YAJL_GET_STRING(value) : NULL;
}

bool msg_mark_submitted(ab_msg *msg, const char *source)
{
	if (msg->submitted)
		return false;
	char *copy = strdup(source);
	if (!copy)
		return false;
	msg->submitted = true;
	msg->source = copy;
	return true;
}

/* ---- rewriting --------------------------------------------------------- */

ab_msg *msg_with_correlation_id(const ab_msg *msg, const char *cid)
{
	ab_json *gen = ab_json_new();
	if (!gen)
		return NULL;
	size_t quoted_len, cid_len = strlen(cid);
	ab_json_string(gen, cid, cid_len);
	const char *quoted = ab_json_output(gen, &quoted_len);
	if (!quoted) {
		ab_json_free(gen);
		return NULL;
	}

	/* Replace the old value's span, or insert a member after the '{' (a
	 * message has a type, so a comma follows). The bytes were checked on the
	 * way in and the new value is generated, so the copy needs no parse. */
	static const char member[] = "\"correlation_id\":";
	size_t start, end;
	const char *prefix = "", *suffix = "";
	if (msg->correlation_id) {
		start = msg->cid_start;
		end = msg->cid_end;
	} else {
		start = end = (size_t)(strchr(msg->json, '{') - msg->json) + 1;
		prefix = member;
		suffix = ",";
	}
	size_t type_len = strlen(msg->type);
	size_t len = start + strlen(prefix) + quoted_len + strlen(suffix) + (msg->len - end);
	ab_msg *copy = msg_alloc(len, type_len, cid_len, true);
	if (copy) {
		char *at = copy->json;
		memcpy(at, msg->json, start);
		at = stpcpy(at + start, prefix);
		copy->cid_start = (size_t)(at - copy->json);
		memcpy(at, quoted, quoted_len);
		at += quoted_len;
		copy->cid_end = (size_t)(at - copy->json);
		at = stpcpy(at, suffix);
		memcpy(at, msg->json + end, msg->len - end);
		memcpy(copy->type, msg->type, type_len + 1);
		memcpy(copy->correlation_id, cid, cid_len + 1);
	}
	ab_json_free(gen);
	return copy;
}
