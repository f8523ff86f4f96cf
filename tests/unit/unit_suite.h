/* Each unit test file defines unit_suite(); unit_main.c runs it. */
#ifndef AB_TEST_UNIT_SUITE_H
#define AB_TEST_UNIT_SUITE_H

#include <check.h>

Suite *unit_suite(void);

#endif
