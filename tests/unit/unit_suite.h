/* Each unit test file defines unit_suite(); unit_main.c runs it. */
#ifndef AB_TEST_UNIT_SUITE_H
#define AB_TEST_UNIT_SUITE_H

#include <check.h>
#include <string.h>

Suite *unit_suite(void);

/* The i-th line of a struct diag starts with prefix ("file:line: ") and
 * then says message. */
#define ck_assert_diag(d, i, prefix, message)                                                   \
	do {                                                                                    \
		size_t i_ = (i);                                                                \
		ck_assert_msg((d)->count > i_, "expected a diag #%zu, have %zu", i_, (d)->count); \
		const char *line_ = (d)->lines[i_];                                             \
		ck_assert_msg(strncmp(line_, (prefix), strlen(prefix)) == 0,                   \
		              "diag #%zu is '%s', expected the prefix '%s'", i_, line_, (prefix)); \
		ck_assert_msg(strstr(line_ + strlen(prefix), (message)) != NULL,                \
		              "diag #%zu is '%s', expected it to say '%s'", i_, line_, (message)); \
	} while (0)

#endif
