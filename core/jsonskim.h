/* Walking JSON text that was checked already, without checking it again:
 * the members of a top-level object, at about a byte an instruction where
 * a checking parse takes ten. Keys come as their bytes, escapes undecoded,
 * which is the key itself only in text the writer made (it escapes no
 * more than JSON requires); a caller reading other text must treat a key
 * with a backslash apart. Every read stays inside [json, json + len): text
 * that is not valid JSON gives meaningless answers, never a read past its
 * end. */
#ifndef AB_CORE_JSONSKIM_H
#define AB_CORE_JSONSKIM_H

#include <stdbool.h>
#include <stddef.h>

/* One member of the top-level object: its key's bytes between the quotes,
 * as written (escapes undecoded), and its value's bytes. */
struct jsonskim_member {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
};

/* Return false to stop. */
typedef bool (*jsonskim_member_cb)(void *ctx, const struct jsonskim_member *m);

/* Calls member for each member of the object json[0..len) is, in order.
 * False when the text is not an object (or a member stopped it). */
bool jsonskim_members(const char *json, size_t len, jsonskim_member_cb member, void *ctx);

#endif
