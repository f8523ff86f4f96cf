#include "build-config.h"
#include <check.h>
#include "plugins/websocket/stamp.h"
#include "tests/unit/unit_suite.h"
Suite *unit_suite(void) { return suite_create("stamp"); }
